/**
 * The one object a protected backup takes: from the Temporal UI's Start Workflow form, from the
 * typed client, from the CLI and from schedules. The client validates with this same schema before
 * a run is started; the workflow validates again, because the UI sends whatever is pasted.
 * There is deliberately no field for credentials: they live with the worker.
 */
import { z } from 'zod';
import { boundedDuration, DAY, durationMs, HOUR, MINUTE, SECOND } from '../domain/duration';
import { VeeamStartedSettings } from './veeam-started-input';

/** When a run gives each VM its write-back back (`veeam.release`). */
export const VeeamRelease = z.enum(['per-vm', 'session-end']);
export type VeeamRelease = z.infer<typeof VeeamRelease>;

export const TransportMode = z.enum(['auto', 'directsan', 'hotadd', 'nbd']);
export type TransportMode = z.infer<typeof TransportMode>;

/**
 * Temporal's limit on workflow ids (dynamic config `limit.maxIDLength`, 1000 by default, Temporal
 * Cloud alike). The frontend compares Go's `len()` of the id, so it counts UTF-8 bytes, not characters.
 */
export const TEMPORAL_MAX_ID_BYTES = 1000;
/** The id of a run of job J is `protected-backup/J` (client/ids.ts `ID_PREFIX`, which asserts this). */
export const RUN_ID_PREFIX = 'protected-backup/';
/**
 * What a schedule appends to its action's id for each run: `-` and the nominal time in RFC 3339, UTC,
 * whole seconds. The server validates a schedule with this very example (`AppendedTimestampForValidation`
 * in service/worker/scheduler), so a schedule of a job whose scheduled ids would be too long is refused.
 */
export const SCHEDULED_ID_SUFFIX_EXAMPLE = '-2009-11-10T23:00:00Z';

/** UTF-8 bytes of a string, as the Temporal server counts them (a lone surrogate travels as U+FFFD, 3 bytes). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/**
 * The longest Veeam job name, in UTF-8 bytes, for which both ids of its runs fit Temporal's limit:
 * `protected-backup/<job>` and a schedule's `protected-backup/<job>-2009-11-10T23:00:00Z`
 * (1000 - 17 - 21 = 962). Veeam documents no limit on the names of VMware backup jobs (its plug-in
 * jobs, AHV, oVirt, Proxmox, allow 40 characters), so Temporal's id is the binding limit.
 */
export const MAX_JOB_NAME_BYTES =
  TEMPORAL_MAX_ID_BYTES - utf8ByteLength(RUN_ID_PREFIX) - utf8ByteLength(SCHEDULED_ID_SUFFIX_EXAMPLE);

export const JobName = z
  .string()
  .min(1, 'expected the name of a Veeam job')
  .refine((job) => utf8ByteLength(job) <= MAX_JOB_NAME_BYTES, {
    message:
      `expected a Veeam job name of at most ${MAX_JOB_NAME_BYTES} bytes in UTF-8, so that the ids of its runs ` +
      `(${RUN_ID_PREFIX}<job>, and <job>-<time> from a schedule) stay within Temporal's ${TEMPORAL_MAX_ID_BYTES}-byte limit`,
  });

/**
 * The longest VM name, in characters. vCenter itself allows 80, but names reach FVP and Veeam byte for
 * byte (test/powershell/hostile-names.test.ts sends 4096-character names) and the PowerShell contract
 * (domain/policy.ts `VmName`) accepts 8192: the same bound here, so that every name the input takes the
 * activities take too. It is there to refuse a pasted megabyte, not to judge names; guard ids hash
 * names too long for an id (domain/guard-protocol.ts).
 */
export const MAX_VM_NAME_CHARS = 8192;
const VmNameInput = z
  .string()
  .min(1, 'expected a VM name, got an empty string')
  .max(MAX_VM_NAME_CHARS, `expected a VM name of at most ${MAX_VM_NAME_CHARS} characters`);

/**
 * The range of every duration of the input, inclusive. Every one stays below the 2^31 ms a Node timer
 * honours (boundedDuration refuses more), and so does the longest sum the worker uses
 * (veeam.maxDuration + timeouts.step, the start-to-close timeout of a step that waits for a job).
 * The lower bounds accept what the recorded histories in test/fixtures/histories carry (100 ms polls,
 * a 1 second flush deadline): they must replay.
 */
export const DURATION_BOUNDS = {
  /**
   * An activity heartbeats every third of this (activities/heartbeat.ts). Below 1 s a garbage
   * collection or a busy event loop makes a live worker look dead and its step be retried elsewhere;
   * above 10 minutes a killed worker's step (and its VMs in write-through) waits that long for a retry.
   */
  heartbeat: [SECOND, 10 * MINUTE],
  /**
   * One PowerShell-backed step: module import and Connect-* alone take seconds on real hosts, so less
   * than 10 s fails healthy steps; no single vendor call should take a day.
   */
  step: [10 * SECOND, 24 * HOUR],
  /** First pause before a retry (doubles each time): 100 ms is what the tests use; 10 min at most. */
  retryInitialInterval: [100, 10 * MINUTE],
  /**
   * Restores never give up; this caps the pause between two attempts, so it is also how long a VM
   * may stay in write-through after the fault that blocked its restore clears.
   */
  restoreMaxInterval: [SECOND, HOUR],
  /**
   * How long a run waits for a restore that keeps failing before it hands it over to the VM's guard
   * and fails (the guard keeps restoring alone). A few minutes rides out a management-server
   * restart without paging anyone for a restore that succeeds a moment later; the tests use 10 s;
   * beyond a day the run (and, through the schedule's overlap policy, the job's next runs) waits
   * longer than the hours between two backups.
   */
  restoreHandOverAfter: [SECOND, 24 * HOUR],
  /**
   * How long all VMs may take to destage. A short deadline fails closed (no backup, every VM
   * restored), so 1 s is harmless (the flush-timeout histories use it); beyond a day the VMs stay
   * in write-through for too long.
   */
  flushDeadline: [SECOND, 24 * HOUR],
  /**
   * A Node timer inside the flush activity. It must also be shorter than the deadline (checked
   * below); up to an hour, as the review suggested for every poll interval.
   */
  flushPollInterval: [100, HOUR],
  /**
   * A Node timer inside the Veeam activities; each poll reads the job's sessions. 100 ms is what the
   * tests use; more than 10 minutes delays every restore after the job by that much.
   */
  veeamPollInterval: [100, 10 * MINUTE],
  /**
   * Longest a job may run before the run fails and restores. Less than a minute fails healthy jobs;
   * 7 days (with a 24 h step, 8 days) stays well below a Node timer's 24.8 days, and a job that runs
   * for a week keeps its VMs in write-through for a week.
   */
  veeamMaxDuration: [MINUTE, 7 * DAY],
} as const satisfies Record<string, readonly [number, number]>;

function duration(field: keyof typeof DURATION_BOUNDS) {
  const [minMs, maxMs] = DURATION_BOUNDS[field];
  return boundedDuration(minMs, maxMs);
}

/** Milliseconds of a field's value, or undefined when it failed its own check (refinements run even then). */
function msWithin(field: keyof typeof DURATION_BOUNDS, value: unknown): number | undefined {
  return duration(field).safeParse(value).success ? durationMs(value as string | number) : undefined;
}

export const ProtectedBackupInput = z
  .object({
    /** The Veeam Backup & Replication job to run, by name. */
    job: JobName,
    /**
     * VMs to protect. Every VM of the job that FVP accelerates is always protected as well (a VM
     * left out would be backed up in write-back); list VMs here that the job reaches through a
     * container (folder, tag, datastore), which Veeam does not expand.
     */
    vms: z.array(VmNameInput).max(500).optional(),
    /**
     * VMs of the job known to be outside FVP (no FVP cluster knows them). Any other VM of the job
     * that FVP does not know fails the run before anything changes, and any VM Veeam backs up that
     * the run did not protect fails it after the session ("backed up unprotected"): the product
     * never guesses "not accelerated".
     */
    outsideFvp: z.array(VmNameInput).max(500).optional(),
    /** Veeam's proxy transport mode. Every mode flushes; `hotadd` also checks the proxies' VADP blacklist. */
    transportMode: TransportMode.default('auto'),
    /** Proxy VMs that hot-add disks; required with transportMode `hotadd`. */
    hotAddProxies: z.array(VmNameInput).max(100).optional(),
    flush: z
      .object({
        /** How long every VM together may take to destage before the run gives up (no backup). */
        deadline: duration('flushDeadline').default('10 minutes'),
        /** How often the flush state is read while waiting. */
        pollInterval: duration('flushPollInterval').default('2 seconds'),
        /**
         * How many VMs' policies the run reads at once while resolving them. Switching and flush
         * polling are per VM, by each VM's guard, bounded by the worker's FVP pool
         * (FVPB_FVP_POOL_SIZE); only the run-local guard of v1 histories switched at most this many.
         */
        concurrency: z.number().int().min(1).max(64).default(8),
      })
      .strict()
      .superRefine((flush, ctx) => {
        const poll = msWithin('flushPollInterval', flush.pollInterval);
        const deadline = msWithin('flushDeadline', flush.deadline);
        if (poll !== undefined && deadline !== undefined && poll >= deadline) {
          ctx.addIssue({
            code: 'custom',
            path: ['pollInterval'],
            message: 'expected a poll interval shorter than the flush deadline',
          });
        }
      })
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
        pollInterval: duration('veeamPollInterval').default('5 seconds'),
        /** Longest a job may run; the run fails (and restores) beyond it. */
        maxDuration: duration('veeamMaxDuration').default('12 hours'),
        /**
         * When each VM gets its write-back back: `per-vm`, as soon as its Veeam task ended with
         * Success or Warning (a failed one waits for the session's end); `session-end`, every VM
         * when the whole session has ended (the behaviour before early release).
         */
        release: VeeamRelease.default('per-vm'),
      })
      .strict()
      .default({
        fullBackup: false,
        retryBackup: false,
        whenAlreadyRunning: 'wait',
        onCancel: 'stop',
        pollInterval: '5 seconds',
        maxDuration: '12 hours',
        release: 'per-vm',
      }),
    /**
     * How the run talks to its activities. The defaults suit real hosts (module import and
     * Connect-* take seconds); tests shorten them so that a killed worker is noticed quickly.
     */
    timeouts: z
      .object({
        /** A worker that stops heartbeating for this long is presumed dead; its activity is retried. */
        heartbeat: duration('heartbeat').default('30 seconds'),
        /** Upper bound on any single PowerShell-backed step. */
        step: duration('step').default('5 minutes'),
        /** First pause before a failed step is retried; doubles each time. */
        retryInitialInterval: duration('retryInitialInterval').default('1 second'),
        /** Attempts of a forward step (reading, switching, starting) before the run gives up and restores. */
        retryMaximumAttempts: z.number().int().min(1).max(100).default(10),
        /** Longest pause between two restore attempts (they never give up). */
        restoreMaxInterval: duration('restoreMaxInterval').default('1 minute'),
        /** How long a restore may keep failing before the run hands it over to the guard and fails. */
        restoreHandOverAfter: duration('restoreHandOverAfter').default('5 minutes'),
      })
      .strict()
      // On the object, so that every schema reusing `ProtectedBackupInput.shape.timeouts` checks them too.
      .superRefine((t, ctx) => {
        const heartbeat = msWithin('heartbeat', t.heartbeat);
        const step = msWithin('step', t.step);
        if (heartbeat !== undefined && step !== undefined && heartbeat >= step) {
          ctx.addIssue({
            code: 'custom',
            path: ['heartbeat'],
            message: 'expected a heartbeat timeout shorter than the step timeout',
          });
        }
        // Temporal refuses a retry policy whose maximum interval is below its initial one ("MaximumInterval
        // cannot be less than InitialInterval"): every restore step would fail its workflow task.
        const initial = msWithin('retryInitialInterval', t.retryInitialInterval);
        const restoreMax = msWithin('restoreMaxInterval', t.restoreMaxInterval);
        if (initial !== undefined && restoreMax !== undefined && initial > restoreMax) {
          ctx.addIssue({
            code: 'custom',
            path: ['retryInitialInterval'],
            message:
              'expected at most restoreMaxInterval (Temporal refuses a retry policy whose maximum interval is shorter)',
          });
        }
      })
      .default({
        heartbeat: '30 seconds',
        step: '5 minutes',
        retryInitialInterval: '1 second',
        retryMaximumAttempts: 10,
        restoreMaxInterval: '1 minute',
        restoreHandOverAfter: '5 minutes',
      }),
    /** Plan and report only: read the job and the policies, change nothing, start nothing. */
    dryRun: z.boolean().default(false),
    /**
     * Veeam's scheduler starts the job (the pre-job hook started this run): protect, answer the
     * hook, follow the session Veeam starts, release. The run never starts or stops the job.
     */
    veeamStarted: VeeamStartedSettings.optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (input.veeamStarted !== undefined && input.dryRun) {
      ctx.addIssue({
        code: 'custom',
        path: ['veeamStarted'],
        message: 'expected no veeamStarted with dryRun: a dry run answers no pre-job hook',
      });
    }
    if (input.transportMode === 'hotadd' && !input.hotAddProxies?.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['hotAddProxies'],
        message: 'transportMode hotadd needs the proxy VMs that hot-add disks, to check their VADP blacklist',
      });
    }
    const both = (input.vms ?? []).filter((vm) => input.outsideFvp?.includes(vm));
    if (both.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['outsideFvp'],
        message: `expected VMs to protect or VMs outside FVP, not both: ${both.map((vm) => JSON.stringify(vm)).join(', ')}`,
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
