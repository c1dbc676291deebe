/**
 * Doctor against the lab (issue 11): on every vendor profile the module's raw probes, read with the
 * product's own interpretation, confirm every row of the vendor-facts table they cover; and a host
 * whose answers differ from the table is reported as contradicting the row, with what it showed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawDoctor } from '../../activities/powershell/operations';
import { evaluateFacts } from '../../activities/vendor/doctor-facts';
import { fakeLab } from '../../lab/testing';
import { PROFILES, PROFILE_NAMES } from '../../lab/model/profile';

const scenario = (profile: (typeof PROFILE_NAMES)[number]) => ({
  vendor: PROFILES[profile],
  fvp: { vms: [{ name: 'sql-01', requested: { mode: 'WriteBack', peers: 1, externalPeers: null } }] },
  veeam: { jobs: [{ name: 'Nightly', vms: ['sql-01'] }] },
});

for (const profile of PROFILE_NAMES) {
  test(`doctor on ${profile}: every probed fact is confirmed, nothing contradicted`, async () => {
    const f = await fakeLab(scenario(profile) as never);
    for (const endpoint of ['fvp', 'veeam'] as const) {
      const report = RawDoctor.parse(await f.ok(endpoint, 'Get-Doctor', {}));
      assert.ok(report.observations.length >= 2, `${endpoint}: raw observations`);
      const facts = evaluateFacts(endpoint, report.observations);
      assert.ok(facts.length >= 2);
      // The container rules of each job are shown (its objects), never probed: not-checked by design.
      assert.deepEqual(
        facts.filter((v) => v.verdict !== 'confirmed' && !v.row.startsWith('VEEAM.containerViews (job ')),
        [],
        `${endpoint}: ${JSON.stringify(facts, null, 1)}`,
      );
      if (endpoint === 'veeam') {
        const schedule = facts.find((v) => v.row === 'VEEAM.jobScheduleEnabledProperty (job "Nightly")');
        assert.match(schedule?.saw ?? '', /^schedule disabled/, "each job's schedule state is shown");
      }
    }
  });
}

test('doctor reports a contradicted row with what the host showed', async () => {
  const f = await fakeLab(scenario('common') as never);
  const report = RawDoctor.parse(await f.ok('fvp', 'Get-Doctor', {}));
  const observations = report.observations.map((o) =>
    o.probe === 'Get-PrnxAccelerationPolicy -UUID -Effective'
      ? { ...o, result: { ok: true, values: ['WB_ENABLED'] } }
      : o.probe === 'Get-PrnxObjectStats -StartTime 0 -NumberOfSamples 1'
        ? { ...o, result: { ok: true, values: [] } }
        : o,
  );
  const facts = evaluateFacts('fvp', observations);
  const effective = facts.find((v) => v.row === 'FVP.policyTexts (effective)');
  assert.equal(effective?.verdict, 'contradicted');
  assert.match(effective?.saw ?? '', /WB_ENABLED/);
  assert.equal(facts.find((v) => v.row === 'FVP.statsStartTimeFrom')?.verdict, 'contradicted');
  assert.equal(facts.find((v) => v.row === 'FVP.policyTexts (requested)')?.verdict, 'confirmed');
});
