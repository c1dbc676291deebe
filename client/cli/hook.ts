/**
 * CLI `hook pre-job | post-job --job NAME`: what Veeam's job settings (Advanced → Scripts) run,
 * through scripts/veeam-hook.ps1. Veeam reads only the exit code: pre-job exits 0 once every VM is
 * protected (verified flushed), anything else otherwise, which (where Veeam honours it) stops the
 * job before it reads a VM in write-back. post-job exits 0 when the run heard it or no run is open.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { boundedDuration, durationMs, HOUR, SECOND } from '../../domain/duration';
import { ExitCode } from '../exit-codes';
import { buildRequest } from './runs';
import { validateRequest } from '../request';
import { ConnectionFlags, serverAction, UsageError, type Cli, type CliIo, type CliState } from './context';

/**
 * The pre-job hook's own limit: it should answer before Veeam's script timeout (unconfirmed for
 * VM jobs; 10 minutes for Agent jobs), so that a hook that gives up says why in the job's log.
 */
const HookTimeout = boundedDuration(SECOND, 24 * HOUR);

const PreJobFlags = ConnectionFlags.extend({
  job: z.string().min(1, 'expected the name of the Veeam job (pass it explicitly: Veeam gives scripts no argument)'),
  input: z.string().min(1).optional(),
  timeout: HookTimeout.default('9 minutes'),
}).strict();

const PostJobFlags = ConnectionFlags.extend({
  job: z.string().min(1, 'expected the name of the Veeam job (pass it explicitly: Veeam gives scripts no argument)'),
}).strict();

/** What `doctor` and the README say about Veeam's script runner: facts no vendor document confirms. */
export const UNCONFIRMED_SCRIPT_FACTS = [
  "Veeam's pre-job script timeout for VM backup jobs is undocumented (Agent jobs: 10 minutes); keep `hook pre-job --timeout` and flush.deadline below it",
  'whether a failing pre-job script stops a VM backup job is undocumented (Agent jobs start regardless): test it once on a disposable job',
  'whether the pre-job script runs again before each automatic retry is undocumented: the run keeps its VMs protected for veeamStarted.retryGrace after a session that did not succeed either way, and a pre-job script that does run before the retry extends that wait to veeamStarted.sessionDeadline',
] as const;

export function registerHookCommands(program: Command, io: CliIo, state: CliState): void {
  const cli: Cli = { io, state };
  const hook = program
    .command('hook')
    .description("Veeam's pre-job and post-job scripts for jobs that Veeam's own scheduler starts");

  const pre = hook
    .command('pre-job')
    .description('start (or join) the protected run of the job; exit 0 once every VM is flushed, else non-zero')
    .option('--job <name>', 'the Veeam job (its exact name)')
    .option('--input <file>', 'the run input as JSON or YAML (flush deadline, timeouts, veeamStarted settings...)')
    .option('--timeout <duration>', "give up after this long (below Veeam's script timeout)", '9 minutes');
  serverAction(cli, pre, PreJobFlags, {
    prepare: async (flags, command) => {
      const { veeamStartedRequest } = await import('../hook.js');
      const request = veeamStartedRequest(buildRequest({ job: flags.job, input: flags.input }, command));
      // The hook must outlive the flush: a hook that gives up first says "not protected" for a run that may still succeed.
      const deadline = validateRequest(request).flush.deadline;
      if (durationMs(deadline) >= durationMs(flags.timeout)) {
        throw new UsageError(
          `--timeout: expected longer than the run's flush.deadline (${String(deadline)}), got ${String(flags.timeout)}`,
          command,
        );
      }
      return request;
    },
    async run({ flags, out, conn: { client, taskQueue } }, request) {
      const { preJob, PreJobRefusedError } = await import('../hook.js');
      try {
        const answer = await preJob(client, request, { taskQueue, timeoutMs: durationMs(flags.timeout) });
        out.document({ ok: true, ...answer });
        out.line(
          `protected ${answer.protected.length} VM(s) of ${answer.job} (verified flushed): ${answer.protected.join(', ') || 'none'}`,
        );
        if (answer.leftAlone.length) out.line(`left alone (not accelerated): ${answer.leftAlone.join(', ')}`);
        out.line(`run ${answer.workflowId} (${answer.runId}) follows the session Veeam starts and releases after it`);
        return ExitCode.success;
      } catch (err) {
        if (!(err instanceof PreJobRefusedError)) throw err;
        out.document({ ok: false, error: { type: err.type ?? null, message: err.message } });
        out.note(`pre-job: NOT PROTECTED, the job must not run: ${err.message}`);
        return ExitCode.failure;
      }
    },
  });

  const post = hook
    .command('post-job')
    .description('tell the protected run of the job that Veeam is done with it (speeds up the release)')
    .option('--job <name>', 'the Veeam job (its exact name)');
  serverAction(cli, post, PostJobFlags, async ({ flags, out, conn: { client } }) => {
    const { postJob } = await import('../hook.js');
    const heard = await postJob(client, flags.job, { from: 'hook post-job' });
    out.document({ ok: true, signalled: heard });
    out.line(
      heard
        ? `told the run of ${flags.job} that the job is over`
        : `no run of ${flags.job} is open: nothing to release`,
    );
    return ExitCode.success;
  });
}
