/**
 * Finding a VM in a raw Get-PrnxVM listing by its FVP uuid (activities/fvp-by-uuid.ts): the one
 * object with that uuid and its current name, how many others share the name, and fail closed
 * when the uuid is not unique or the object has no usable name.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { findByUuid } from '../../activities/fvp-by-uuid';
import type { RawObject } from '../../activities/powershell/operations';

const vm = (Name: unknown, uuid: unknown, extra: RawObject = {}): RawObject =>
  ({ '@type': 'PernixData.Prnx.PrnxVM', Name, uuid, ...extra }) as RawObject;

function failure(fn: () => unknown, type: string): ApplicationFailure {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type, err.message);
    assert.equal(err.nonRetryable, true);
    return err;
  }
  assert.fail(`expected ${type}`);
}

describe('findByUuid', () => {
  test('the one object with the uuid, its current name, and how many others share that name', () => {
    const listed = [vm('web-01', 'u1'), vm('web-01', 'u2', { flashCluster: 'B' }), vm('sql-01', 'u3')];
    const found = findByUuid(listed, 'u2');
    assert.equal(found?.object, listed[1]);
    assert.equal(found?.name, 'web-01');
    assert.equal(found?.namesakes, 1);
    assert.equal(findByUuid(listed, 'u3')?.namesakes, 0);
  });

  test('no object with the uuid: null (exact match: no prefix, no other case, no proxy without uuid)', () => {
    const listed = [vm('web-01', 'abc-DEF'), vm('proxy', null)];
    assert.equal(findByUuid(listed, 'abc'), null);
    assert.equal(findByUuid(listed, 'abc-def'), null);
    assert.equal(findByUuid([], 'abc-DEF'), null);
  });

  test('property names are matched as PowerShell does, case-insensitively', () => {
    const listed = [{ '@type': 'PernixData.Prnx.PrnxVM', name: 'web-01', UUID: 'u1' } as RawObject];
    assert.equal(findByUuid(listed, 'u1')?.name, 'web-01');
  });

  test('two objects with the uuid: VmAmbiguous naming it', () => {
    const err = failure(() => findByUuid([vm('a', 'u1'), vm('b', 'u1')], 'u1'), 'VmAmbiguous');
    assert.match(err.message, /2 FVP VMs have the uuid "u1"/);
  });

  test('an object without a usable name: VendorMismatch, never a guess', () => {
    for (const name of [undefined, null, '', 7]) {
      const object = name === undefined ? ({ uuid: 'u1' } as RawObject) : vm(name, 'u1');
      const err = failure(() => findByUuid([object], 'u1'), 'VendorMismatch');
      assert.match(err.message, /vmNameProperty/);
    }
  });
});
