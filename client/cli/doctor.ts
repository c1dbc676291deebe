/**
 * CLI `doctor`: runs Get-Doctor on the worker's host (through the doctor workflow) and prints what
 * is missing for each PowerShell endpoint, and each vendor fact it confirmed or contradicted. Exit 0
 * when nothing is missing and no fact is contradicted, 1 otherwise.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { EndpointName } from '../../domain/endpoint';
import { ExitCode } from '../exit-codes';
import { UNCONFIRMED_SCRIPT_FACTS } from './hook';
import { choice, ConnectionFlags, repeatable, serverAction, type Cli, type CliIo, type CliState } from './context';

const DoctorFlags = ConnectionFlags.extend({ endpoint: z.array(EndpointName).optional() }).strict();

export function registerDoctorCommand(program: Command, io: CliIo, state: CliState): void {
  const cli: Cli = { io, state };
  const doctor = program
    .command('doctor')
    .description("check the worker's PowerShell hosts: modules, cmdlets, parameters, server reachability")
    .addOption(
      choice('--endpoint <name>', 'only this endpoint (repeatable; default both)', EndpointName.options).argParser(
        repeatable,
      ),
    );
  serverAction(cli, doctor, DoctorFlags, async ({ flags, out, conn: { client, taskQueue } }) => {
    const { missingItems, runDoctor } = await import('../doctor.js');
    const { reports } = await runDoctor(client, { taskQueue, endpoints: flags.endpoint });
    const results = reports.map((report) => ({ ...report, missing: missingItems(report) }));
    out.document({
      reports: results,
      ok: results.every((r) => r.missing.length === 0),
      veeamScriptRunner: { unconfirmed: UNCONFIRMED_SCRIPT_FACTS },
    });
    for (const r of results) {
      out.line(
        `${r.endpoint}: PowerShell ${r.psEdition} ${r.psVersion}, server ${r.serverReachable ? 'reachable' : 'UNREACHABLE'}`,
      );
      for (const m of r.modules)
        out.line(`  module ${m.name} ${m.loaded ? `loaded (${m.version ?? '?'})` : 'NOT LOADED'}`);
      out.line(`  cmdlets: ${r.cmdlets.filter((c) => c.present).length}/${r.cmdlets.length} present`);
      for (const missing of r.missing) out.line(`  MISSING: ${missing}`);
      for (const problem of r.problems) out.line(`  note: ${problem}`);
      // The vendor-facts table (activities/vendor/facts.ts) against what this host showed.
      for (const fact of r.facts) {
        const verdict = fact.verdict === 'contradicted' ? 'CONTRADICTED' : fact.verdict;
        out.line(`  fact ${fact.row}: ${verdict} (table: ${fact.status}); saw ${fact.saw}`);
      }
    }
    // No probe can read these: Veeam's script runner for `hook pre-job` / `hook post-job` (issue 14).
    for (const fact of UNCONFIRMED_SCRIPT_FACTS) out.line(`note: Veeam script runner, unconfirmed: ${fact}`);
    // A contradicted fact means the table is wrong for this host: correct it before the first backup.
    const contradicted = results.some((r) => r.facts.some((f) => f.verdict === 'contradicted'));
    return results.some((r) => r.missing.length) || contradicted ? ExitCode.failure : ExitCode.success;
  });
}
