/**
 * Guard ids keyed on identity (issue 10 item 4): a VM's guard id is made of its FVP uuid and a
 * canonical form of the FVP server, never of its name, and no name key can ever equal one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VM_GUARD_ID_PREFIX, canonicalFvpServer, guardIdFor, guardIdForUuid } from '../../domain/guard-protocol';

const UUID = '5021c3f4-1b2a-4c5d-8e9f-0a1b2c3d4e5f';

test('the uuid-keyed id does not depend on the VM name: one id before and after a rename', () => {
  const id = guardIdForUuid('fvp01', UUID);
  assert.equal(id, `vm-guard-uuid/fvp01/${UUID}`);
  // The name is not an input at all; two names of one VM share the id, two VMs of one name do not.
  assert.notEqual(guardIdForUuid('fvp01', UUID), guardIdForUuid('fvp01', '5021c3f4-0000-4c5d-8e9f-0a1b2c3d4e5f'));
});

test('no name key equals a uuid key, whatever the VM is called (slashes, #, a uuid-like name)', () => {
  const server = 'fvp01';
  const uuidId = guardIdForUuid(server, UUID);
  const names = [
    UUID,
    `uuid/${UUID}`,
    `-uuid/${server}/${UUID}`,
    `${server}/${UUID}`,
    `#${UUID}`,
    `a/b#c`,
    'x'.repeat(2000), // hashed into `#<fnv>`
  ];
  for (const name of names) {
    const nameId = guardIdFor(server, name);
    assert.ok(nameId.startsWith(VM_GUARD_ID_PREFIX), nameId);
    assert.notEqual(nameId, uuidId, `name ${JSON.stringify(name.slice(0, 40))}`);
    assert.ok(!nameId.startsWith('vm-guard-uuid/'), 'a name key never has the uuid prefix');
  }
  // Nor a name key of a server whose name begins like the prefix's tail.
  assert.ok(!guardIdFor('-uuid', `${server}/${UUID}`).startsWith('vm-guard-uuid/'));
});

test('the server part is canonical: case, surrounding blanks and a trailing dot do not make a second guard', () => {
  const id = guardIdForUuid('fvp01.corp.local', UUID);
  for (const variant of ['FVP01.corp.LOCAL', ' fvp01.corp.local ', 'fvp01.corp.local.', 'Fvp01.Corp.Local.']) {
    assert.equal(guardIdForUuid(variant, UUID), id, variant);
  }
  assert.equal(canonicalFvpServer(' FVP01.Corp.Local. '), 'fvp01.corp.local');
  // A short and a fully qualified name stay two: telling them apart needs the server's own identity.
  assert.notEqual(guardIdForUuid('fvp01', UUID), guardIdForUuid('fvp01.corp.local', UUID));
  // The uuid's case does not matter either (FVP prints it either way).
  assert.equal(guardIdForUuid('fvp01', UUID.toUpperCase()), guardIdForUuid('fvp01', UUID));
});

test('a uuid too long for a workflow id is hashed, still under the limit and still distinct', () => {
  const long = 'u'.repeat(5000);
  const id = guardIdForUuid('fvp01', long);
  assert.ok(id.length <= 900);
  assert.ok(id.startsWith('vm-guard-uuid/fvp01/#'));
  assert.notEqual(id, guardIdForUuid('fvp01', `${long}v`));
});
