/**
 * A site is its two servers, each as one spelling: two workers configured with the same servers in
 * another case or with a trailing dot (an absolute DNS name) serve one site, so neither refuses the
 * other's task queue (worker/site.ts), as their guard ids are already one (canonicalFvpServer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { siteFingerprint } from '../../worker/site';
import { canonicalFvpServer } from '../../domain/guard-protocol';

const site = { fvp: 'fvp-mgmt.corp.local', veeam: 'vbr01.corp.local' };

test('case, spaces and a trailing dot do not make another site', () => {
  const spelled = { fvp: ' FVP-MGMT.corp.local. ', veeam: 'VBR01.Corp.Local.' };
  assert.equal(siteFingerprint(spelled), siteFingerprint(site));
  // The guard ids of both workers name the same FVP server too.
  assert.equal(canonicalFvpServer(spelled.fvp), canonicalFvpServer(site.fvp));
});

test('another FVP or VBR server is another site', () => {
  assert.notEqual(siteFingerprint({ ...site, fvp: 'fvp-mgmt2.corp.local' }), siteFingerprint(site));
  assert.notEqual(siteFingerprint({ ...site, veeam: 'vbr02.corp.local' }), siteFingerprint(site));
  // The two servers are not interchangeable.
  assert.notEqual(siteFingerprint({ fvp: site.veeam, veeam: site.fvp }), siteFingerprint(site));
});
