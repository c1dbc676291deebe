/**
 * Doctor's judgement (issue 11): the module's Get-Doctor returns raw observations only (the host,
 * the vendor module, each vendor cmdlet's parameter names, the probes); this turns them into the
 * DoctorReport an operator reads: what is missing, whether the server answers, and per row of the
 * vendor-facts table whether the host confirmed it (doctor-facts.ts).
 */
import type { DoctorReport, EndpointName } from '../../domain/endpoint';
import { RawCall, type RawDoctor } from '../powershell/operations';
import { CMDLETS, FVP, VEEAM } from './facts';
import { evaluateFacts } from './doctor-facts';
import { property } from './interpret';

/** The module name and the cmdlets Get-Doctor is asked about, per endpoint. */
export function doctorArgs(endpoint: EndpointName): { module: string; commands: string[] } {
  return {
    module: endpoint === 'fvp' ? FVP.moduleName.value : VEEAM.moduleName.value,
    commands: Object.keys(CMDLETS).filter((name) => CMDLETS[name]?.endpoint === endpoint),
  };
}

/** Which probe says whether the server answers: FVP's server object, Veeam's server session (null: none). */
const PING: Record<EndpointName, string> = {
  fvp: 'Get-PrnxObject -Type PrnxMServer',
  veeam: 'Get-VBRServerSession',
};

export function judgeDoctor(endpoint: EndpointName, raw: RawDoctor): DoctorReport {
  const problems: string[] = [...(raw.notes ?? [])];
  const { module: moduleName } = doctorArgs(endpoint);
  if (endpoint === 'fvp' && raw.psEdition === 'Core') {
    problems.push('FVP runs on PowerShell Core here; prnxcli is built for Windows PowerShell 5.1 (use powershell.exe)');
  }
  const loaded = raw.module.ok ? raw.module.values[0] : undefined;
  if (!raw.module.ok) problems.push(`module ${moduleName} does not load: ${raw.module.message}`);
  else if (loaded === undefined) problems.push(`module ${moduleName} is not installed`);
  const version = typeof loaded === 'object' && loaded !== null ? property(loaded, 'Version').value : null;

  const cmdlets = raw.commands.map(({ name, parameters }) => {
    const fact = CMDLETS[name];
    const wanted = Object.entries(fact?.parameters ?? {}).filter(([, p]) => p.probeOnly !== true);
    const missing = parameters === null ? [] : wanted.map(([p]) => p).filter((p) => !parameters.includes(p));
    if (parameters === null && fact?.probeOnly !== true) problems.push(`cmdlet ${name} is missing`);
    for (const p of missing) problems.push(`cmdlet ${name} has no -${p} parameter`);
    return { name, present: parameters !== null, missingParameters: missing };
  });

  let serverReachable = false;
  if (!raw.connected) {
    problems.push('not connected: Connect-Endpoint has not succeeded in this session');
  } else {
    const ping = RawCall.safeParse(raw.observations.find((o) => o.probe === PING[endpoint])?.result);
    if (!ping.success) problems.push(`the server was not probed (${PING[endpoint]})`);
    else if (!ping.data.ok) problems.push(`the server does not answer: ${ping.data.message}`);
    else if (ping.data.values.length === 0 || ping.data.values[0] === null) {
      problems.push(`${PING[endpoint]} reports no connection to the server`);
    } else serverReachable = true;
  }
  return {
    endpoint,
    psEdition: raw.psEdition,
    psVersion: raw.psVersion,
    modules: [
      { name: moduleName, loaded: loaded !== undefined, version: typeof version === 'string' ? version : null },
    ],
    cmdlets,
    serverReachable,
    problems,
    observations: raw.observations,
    facts: evaluateFacts(endpoint, raw.observations),
  };
}
