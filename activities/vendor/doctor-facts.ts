/**
 * Doctor's verdict on the vendor-facts table (issue 11): the module's Get-Doctor runs each probe on
 * a real host and returns the raw output (DoctorReport.observations); this reads it with the same
 * interpretation the product uses and says, per row of facts.ts, whether the host confirmed it,
 * contradicted it, or was not checked (no suitable object, probe failed).
 */
import type { DoctorReport, EndpointName } from '../../domain/endpoint';
import { RawCall, RawValue, type RawObject } from '../powershell/operations';
import { FVP, VEEAM } from './facts';
import { jobSchedule } from './interpret-veeam';
import { interpretFvpServer, interpretVeeamMajor, policyMode, property, sessionLookupFor } from './interpret';

type Verdict = DoctorReport['facts'][number];
type Observation = DoctorReport['observations'][number];

function find(observations: Observation[], probe: string): Observation | undefined {
  return observations.find((o) => o.probe === probe);
}

function call(o: Observation | undefined): RawCall | null {
  const parsed = RawCall.safeParse(o?.result);
  return parsed.success ? parsed.data : null;
}

function text(value: unknown): string {
  return JSON.stringify(value ?? null).slice(0, 300);
}

export function evaluateFacts(endpoint: EndpointName, observations: Observation[]): Verdict[] {
  const verdicts: Verdict[] = [];
  const add = (row: string, status: 'confirmed' | 'unconfirmed', ok: boolean | null, saw: string) =>
    verdicts.push({ row, status, verdict: ok === null ? 'not-checked' : ok ? 'confirmed' : 'contradicted', saw });
  const attempt = (fn: () => boolean): boolean => {
    try {
      return fn();
    } catch {
      return false;
    }
  };
  if (endpoint === 'fvp') {
    const server = call(find(observations, 'Get-PrnxObject -Type PrnxMServer'));
    const serverValues = server?.ok ? server.values : null;
    const facts = serverValues ? attempt(() => (interpretFvpServer(serverValues), true)) : null;
    add('FVP.serverBuildProperty', FVP.serverBuildProperty.status, facts, text(serverValues ?? server));
    add('FVP.faultDomainFeature', FVP.faultDomainFeature.status, facts, text(serverValues ?? server));
    const vmObs = call(find(observations, 'Get-PrnxVM (first accelerated)'));
    const vm = vmObs?.ok ? (vmObs.values[0] as RawObject | undefined) : undefined;
    for (const row of [
      'vmUuidProperty',
      'vmPeersProperty',
      'vmExternalPeersProperty',
      'vmFlashClusterProperty',
      'vmEffectivePolicyProperty',
    ] as const) {
      const name = FVP[row].value;
      add(
        `FVP.${row}`,
        FVP[row].status,
        vm ? property(vm, name).present : null,
        vm ? `${name} = ${text(property(vm, name).value)}` : 'no accelerated VM',
      );
    }
    for (const [probe, what] of [
      ['Get-PrnxAccelerationPolicy -UUID', 'requested'],
      ['Get-PrnxAccelerationPolicy -UUID -Effective', 'effective'],
    ] as const) {
      const raw = call(find(observations, probe));
      const ok = raw === null ? null : attempt(() => policyMode('doctor', what, raw) !== null);
      add(`FVP.policyTexts (${what})`, FVP.policyTexts.status, ok, text(raw));
    }
    const without = call(find(observations, 'Get-PrnxObjectStats -NumberOfSamples 1'));
    const withStart = call(find(observations, 'Get-PrnxObjectStats -StartTime 0 -NumberOfSamples 1'));
    if (without !== null && withStart !== null && serverValues) {
      const rule = attempt(() => interpretFvpServer(serverValues).statsStartTime !== undefined);
      const chosen = rule ? withStart : without;
      const sample = chosen.ok ? (chosen.values[0] as RawValue | undefined) : undefined;
      add(
        'FVP.statsStartTimeFrom',
        FVP.statsStartTimeFrom.status,
        sample !== undefined,
        `without: ${text(without)}; with -StartTime 0: ${text(withStart)}`,
      );
      const has =
        typeof sample === 'object' && sample !== null && property(sample, FVP.timeToDestageProperty.value).present;
      add(
        'FVP.timeToDestageProperty',
        FVP.timeToDestageProperty.status,
        sample === undefined ? null : has,
        text(sample),
      );
    } else {
      add('FVP.statsStartTimeFrom', FVP.statsStartTimeFrom.status, null, 'not probed');
    }
    const setProperty = call(find(observations, '(Get-Command Set-PrnxProperty).Parameters.Keys'));
    const keys = setProperty?.ok ? setProperty.values.map(String) : null;
    add(
      'FVP.vadpBlacklist',
      FVP.vadpBlacklist.status,
      keys ? ['Name', 'Value'].every((k) => keys.includes(k)) : null,
      text(keys ?? setProperty),
    );
  } else {
    const modules = call(find(observations, 'Get-Module Veeam.Backup.PowerShell'));
    let lookup: string | null = null;
    const moduleValues = modules?.ok ? modules.values : null;
    const ok = moduleValues
      ? attempt(() => ((lookup = sessionLookupFor(interpretVeeamMajor(moduleValues))), true))
      : null;
    add('VEEAM.moduleName', VEEAM.moduleName.status, ok, text(moduleValues ?? modules));
    const timed = call(find(observations, `session lookup ${lookup ?? ''}`.trim()));
    add(
      'VEEAM.sessionLookup',
      VEEAM.sessionLookup.status,
      timed === null ? null : timed.ok,
      `${lookup ?? '?'}: ${text(timed)}`,
    );
    // Each job's objects as the host lists them ("name [kind, ViType]"), raw: the container rules
    // (containers.ts) are shown here, not probed; a container type without a row fails its runs.
    for (const o of observations.filter((x) => x.probe === 'job schedule and objects')) {
      const raw = call(o);
      const first = raw?.ok ? raw.values[0] : undefined;
      const objects = typeof first === 'object' && first !== null ? property(first, 'Objects').value : null;
      const row = `VEEAM.containerViews (job ${JSON.stringify(o.subject)})`;
      add(row, VEEAM.containerViews.status, null, objects === null ? text(raw) : String(objects));
      // Each job's schedule state (issue 10 item 7); a missing property is "unknown", never a problem.
      const job = typeof first === 'object' && first !== null ? first : null;
      const name = VEEAM.jobScheduleEnabledProperty.value;
      const present = job !== null && property(job, name).present;
      const schedule = job === null ? 'unknown' : jobSchedule(job);
      add(
        `VEEAM.jobScheduleEnabledProperty (job ${JSON.stringify(o.subject)})`,
        VEEAM.jobScheduleEnabledProperty.status,
        present ? schedule !== 'unknown' : null,
        `schedule ${schedule}${present ? ` (${name} = ${text(property(job, name).value)})` : ` (no ${name})`}`,
      );
    }
  }
  return verdicts;
}
