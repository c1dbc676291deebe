/**
 * Error classification moved from the module to TypeScript (issue 11): the module returns raw
 * error facts, activities/powershell/classify.ts decides. Finding 5: a vendor error no rule knows
 * is `unrecognised`, never retried (it used to default to transient, so a restore retried forever,
 * silently): a forward step fails closed, a restore fails every attempt naming the error.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { classifyVendorError } from '../../activities/powershell/classify';
import { isRetryableCategory, keepsSession, PowerShellError } from '../../activities/powershell/errors';
import { Envelope, type RawError } from '../../activities/powershell/operations';
import { toActivityFailure } from '../../activities/failures';
import { createFvpActivities } from '../../activities/fvp';
import { PROFILES } from '../../lab/model/profile';
import { fakeLab, fvpInvoker } from '../../lab/testing';

const vendor = (type: string, message: string, errorId: string | null = null): RawError => ({
  code: null,
  message,
  errorId,
  exceptions: [{ type, message }],
});
const own = (code: string, message = 'm', inner?: { type: string; message: string }): RawError => ({
  code,
  message,
  errorId: null,
  exceptions: [{ type: 'System.InvalidOperationException', message }, ...(inner ? [inner] : [])],
});

describe('classify.ts', () => {
  test('vendor errors by the rules: category and type', () => {
    const cases: [RawError, string, string][] = [
      [
        vendor('System.Net.WebException', 'Unable to connect to the remote server'),
        'transient',
        'System.Net.WebException',
      ],
      [vendor('System.TimeoutException', 'The operation has timed out'), 'transient', 'System.TimeoutException'],
      [
        vendor(
          'System.Management.Automation.ParameterBindingException',
          "A parameter cannot be found that matches parameter name 'Job'.",
        ),
        'permanent',
        'System.Management.Automation.ParameterBindingException',
      ],
      [vendor('X.SessionException', 'Session has expired'), 'not-connected', 'NotConnected'],
      [vendor('X.JobException', 'Job is already running'), 'already-running', 'JobAlreadyRunning'],
      [
        vendor('PernixData.Prnx.PrnxException', "Virtual machine 'a' was not found"),
        'permanent',
        'PernixData.Prnx.PrnxException',
      ],
    ];
    for (const [raw, category, type] of cases) {
      assert.deepEqual(classifyVendorError(raw), { type, message: raw.message, category }, raw.message);
    }
  });

  test('the module\'s own codes; after Start-VBRJob only "already running" means nothing started', () => {
    assert.equal(classifyVendorError(own('JobNotFound')).category, 'permanent');
    assert.equal(classifyVendorError(own('FenceMoved')).category, 'fence-moved');
    assert.equal(classifyVendorError(own('JobAlreadyRunning')).category, 'already-running');
    assert.equal(classifyVendorError(own('NotConnected')).category, 'not-connected');
    const running = own('JobStartFailed', 'start failed', { type: 'X', message: 'Job is already running' });
    assert.equal(classifyVendorError(running).category, 'already-running');
    for (const inner of [
      {
        type: 'System.InvalidOperationException',
        message: 'Operation is not valid due to the current state of the object.',
      },
      { type: 'System.TimeoutException', message: 'timed out' },
      { type: 'Never.Seen', message: 'what?' },
    ]) {
      assert.deepEqual(classifyVendorError(own('JobStartFailed', 'start failed', inner)), {
        type: 'JobStartUnknown',
        message: 'start failed',
        category: 'start-unknown',
      });
    }
  });

  test('finding 5: an error no rule knows is unrecognised, names itself, is never retried and retires the session', () => {
    const raw = vendor('PernixData.Prnx.PrnxException', 'Fault domains are not configured');
    const classified = classifyVendorError(raw);
    assert.equal(classified.category, 'unrecognised');
    assert.equal(classified.type, 'PernixData.Prnx.PrnxException');
    assert.match(
      classified.message,
      /^unrecognised vendor error PernixData\.Prnx\.PrnxException: Fault domains are not configured/,
    );
    assert.match(classified.message, /classify\.ts/);
    assert.equal(isRetryableCategory('unrecognised'), false);
    assert.equal(keepsSession('unrecognised', classified.type), false);
    const failure = toActivityFailure(
      new PowerShellError(classified.message, {
        op: 'Restore-VmCachePolicy',
        endpoint: 'fvp',
        category: 'unrecognised',
        errorType: classified.type,
      }),
    );
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.type, 'PernixData.Prnx.PrnxException');
  });

  test('the envelope classifies a raw error when it is parsed; an injected classified one passes as it is', () => {
    const raw = Envelope.parse({ ok: false, op: 'Get-VmCachePolicy', error: vendor('System.Net.WebException', 'x') });
    assert.deepEqual(!raw.ok && raw.error, { type: 'System.Net.WebException', message: 'x', category: 'transient' });
    const injected = Envelope.parse({
      ok: false,
      op: 'Get-VmCachePolicy',
      error: { type: 'T', message: 'm', category: 'permanent' },
    });
    assert.deepEqual(!injected.ok && injected.error, { type: 'T', message: 'm', category: 'permanent' });
    assert.equal(Envelope.safeParse({ ok: false, op: 'x', error: { message: 'no facts' } }).success, false);
  });
});

test('a restore refused for a reason no rule knows fails non-retryable, every attempt naming the error (finding 5)', async () => {
  // The licence lists fault domains, the cluster has none: FVP refuses the external peer with a text nobody classified.
  const f = await fakeLab({
    vendor: PROFILES.common,
    fvp: {
      faultDomains: false,
      vms: [{ name: 'sql-01', requested: { mode: 'WriteThrough', peers: 0, externalPeers: null } }],
    },
  });
  const acts = createFvpActivities({ fvp: fvpInvoker(f) });
  const env = new MockActivityEnvironment();
  for (let attempt = 1; attempt <= 2; attempt++) {
    await assert.rejects(
      env.run(() =>
        acts.restoreCachePolicy({
          vm: 'sql-01',
          policy: { mode: 'WriteBack', peers: 1, externalPeers: 1 },
          expected: { mode: 'WriteThrough', peers: 0, externalPeers: null },
        }),
      ),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.nonRetryable, true, 'Temporal does not retry it blindly');
        assert.match(
          err.message,
          /unrecognised vendor error PernixData\.Prnx\.PrnxException: Fault domains are not configured/,
        );
        return true;
      },
    );
  }
  assert.equal(f.lab.view().fvp.vms[0]!.requested.mode, 'WriteThrough', 'nothing changed');
});
