/**
 * samePolicy decides whether a restore took and whether a conditional write may go ahead: its
 * tolerances are part of what the product promises.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { samePolicy, type RequestedPolicy } from '../../domain/policy';

const wb = (peers: number, externalPeers: number | null): RequestedPolicy => ({
  mode: 'WriteBack',
  peers,
  externalPeers,
});
const wt = (peers: number, externalPeers: number | null): RequestedPolicy => ({
  mode: 'WriteThrough',
  peers,
  externalPeers,
});

test('write-through compares equal whatever its peer counts say', () => {
  assert.equal(samePolicy(wt(0, null), wt(2, 1)), true);
  assert.equal(samePolicy(wt(1, 0), wt(0, null)), true);
});

test('the mode always matters', () => {
  assert.equal(samePolicy(wb(0, null), wt(0, null)), false);
  assert.equal(samePolicy(wt(0, null), wb(0, null)), false);
});

test('in write-back the peers matter, and null external peers equal 0 (both ways)', () => {
  assert.equal(samePolicy(wb(1, null), wb(1, 0)), true);
  assert.equal(samePolicy(wb(1, 0), wb(1, null)), true);
  assert.equal(samePolicy(wb(1, null), wb(1, null)), true);
  assert.equal(samePolicy(wb(1, null), wb(2, null)), false);
  assert.equal(samePolicy(wb(1, null), wb(1, 1)), false);
  assert.equal(samePolicy(wb(1, 2), wb(1, 1)), false);
});
