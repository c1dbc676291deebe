/**
 * The one object a protected backup takes: from the Temporal UI's Start Workflow form, from the
 * typed client, from the CLI and from schedules. The client validates with this same schema before
 * a run is started; the workflow validates again, because the UI sends whatever is pasted.
 * There is deliberately no field for credentials: they live with the worker.
 */
import { z } from 'zod';
import { DurationInput, durationMs } from '../domain/duration';

export const TransportMode = z.enum(['auto', 'directsan', 'hotadd', 'nbd']);
export type TransportMode = z.infer<typeof TransportMode>;

const VmNameInput = z.string().min(1, 'expected a VM name, got an empty string').max(8192);

export const ProtectedBackupInput = z
  .object({
    /** The Veeam Backup & Replication job to run, by name. */
    job: z.string().min(1, 'expected the name of a Veeam job'),
    /**
     * VMs to protect. Every VM of the job that FVP accelerates is always protected as well (a VM
     * left out would be backed up in write-back); list VMs here that the job reaches through a
     * container (folder, tag, datastore), which Veeam does not expand.
     */
    vms: z.array(VmNameInput).max(500).optional(),
    /** Veeam's proxy transport mode. Every mode flushes; `hotadd` also checks the proxies' VADP blacklist. */
    transportMode: TransportMode.default('auto'),
    /** Proxy VMs that hot-add disks; required with transportMode `hotadd`. */
    hotAddProxies: z.array(VmNameInput).max(100).optional(),
    flush: z
      .object({
        /** How long every VM together may take to destage before the run gives up (no backup). */
        deadline: DurationInput.default('10 minutes'),
        /** How often the flush state is read while waiting. */
        pollInterval: DurationInput.default('2 seconds'),
        /** How many VMs are switched and polled at once on the FVP management server. */
        concurrency: z.number().int().min(1).max(64).default(8),
      })
      .strict()
      .default({ deadline: '10 minutes', pollInterval: '2 seconds', concurrency: 8 }),
    veeam: z
      .object({
        fullBackup: z.boolean().default(false),
        retryBackup: z.boolean().default(false),
        /** The job already has a session we did not start: wait for it to end, or fail the run. */
        whenAlreadyRunning: z.enum(['wait', 'fail']).default('wait'),
        /** On cancellation: stop the Veeam job (then restore), or let it finish first. */
        onCancel: z.enum(['stop', 'let-finish']).default('stop'),
        /** How often the job's session is read. */
        pollInterval: DurationInput.default('5 seconds'),
        /** Longest a job may run; the run fails (and restores) beyond it. */
        maxDuration: DurationInput.default('12 hours'),
      })
      .strict()
      .default({
        fullBackup: false,
        retryBackup: false,
        whenAlreadyRunning: 'wait',
        onCancel: 'stop',
        pollInterval: '5 seconds',
        maxDuration: '12 hours',
      }),
    /**
     * How the run talks to its activities. The defaults suit real hosts (module import and
     * Connect-* take seconds); tests shorten them so that a killed worker is noticed quickly.
     */
    timeouts: z
      .object({
        /** A worker that stops heartbeating for this long is presumed dead; its activity is retried. */
        heartbeat: DurationInput.default('30 seconds'),
        /** Upper bound on any single PowerShell-backed step. */
        step: DurationInput.default('5 minutes'),
        /** First pause before a failed step is retried; doubles each time. */
        retryInitialInterval: DurationInput.default('1 second'),
        /** Attempts of a forward step (reading, switching, starting) before the run gives up and restores. */
        retryMaximumAttempts: z.number().int().min(1).max(100).default(10),
        /** Longest pause between two restore attempts (they never give up). */
        restoreMaxInterval: DurationInput.default('1 minute'),
      })
      .strict()
      .default({
        heartbeat: '30 seconds',
        step: '5 minutes',
        retryInitialInterval: '1 second',
        retryMaximumAttempts: 10,
        restoreMaxInterval: '1 minute',
      }),
    /** Plan and report only: read the job and the policies, change nothing, start nothing. */
    dryRun: z.boolean().default(false),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (input.transportMode === 'hotadd' && !input.hotAddProxies?.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['hotAddProxies'],
        message: 'transportMode hotadd needs the proxy VMs that hot-add disks, to check their VADP blacklist',
      });
    }
    // Refinements run even when a field failed: only compare durations that parsed.
    if (
      DurationInput.safeParse(input.flush.pollInterval).success &&
      DurationInput.safeParse(input.flush.deadline).success &&
      durationMs(input.flush.pollInterval) >= durationMs(input.flush.deadline)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['flush', 'pollInterval'],
        message: 'expected a poll interval shorter than the flush deadline',
      });
    }
  });

/** What a caller may send (defaults optional). */
export type ProtectedBackupRequest = z.input<typeof ProtectedBackupInput>;
/** What the workflow works with (defaults filled in). */
export type ProtectedBackupInput = z.infer<typeof ProtectedBackupInput>;

export const SetVadpBlacklistInput = z
  .object({
    proxies: z.array(VmNameInput).min(1, 'expected at least one proxy VM').max(100),
    dryRun: z.boolean().default(false),
  })
  .strict();
export type SetVadpBlacklistRequest = z.input<typeof SetVadpBlacklistInput>;
