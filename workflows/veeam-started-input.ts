/**
 * The Veeam-started mode of a run (issue 14): Veeam's scheduler starts the job, and the run only
 * protects its VMs around it. Its settings are the input key `veeamStarted`; its presence selects
 * the mode. The protocol between the hooks (client/hook*.ts) and the run is here too: the pre-job
 * update and the post-job signal, by name, with the answer's shape. Pure and workflow-safe.
 */
import { z } from 'zod';
import { boundedDuration, HOUR, SECOND } from '../domain/duration';

/**
 * Ranges, inclusive. Both reach workflow timers only (never a Node timer beyond 2^31 ms).
 * sessionDeadline: Veeam starts its session right after the pre-job script succeeded, so minutes
 * are plenty; 1 s lets tests prove the "no session" path; a day bounds how long VMs can sit in
 * write-through for a job that never came. retryGrace: Veeam waits 10 minutes before a retry by
 * default (job_retry), so the default 15 minutes covers it; a day is the longest retry wait anyone
 * would set.
 */
export const VEEAM_STARTED_BOUNDS = {
  sessionDeadline: [SECOND, 24 * HOUR],
  retryGrace: [SECOND, 24 * HOUR],
} as const satisfies Record<string, readonly [number, number]>;

export const VeeamStartedSettings = z
  .object({
    /** After the pre-job hook was answered: how long the run waits for Veeam's session before it releases. */
    sessionDeadline: boundedDuration(...VEEAM_STARTED_BOUNDS.sessionDeadline).default('10 minutes'),
    /**
     * After a session ended without Success: how long a newer session of the job (Veeam's
     * "(Retry N)") still belongs to the run. The post-job hook ends the wait at once.
     */
    retryGrace: boundedDuration(...VEEAM_STARTED_BOUNDS.retryGrace).default('15 minutes'),
  })
  .strict();
export type VeeamStartedSettings = z.infer<typeof VeeamStartedSettings>;

/** The update the pre-job hook sends (with start): answered once every VM's flush is verified. */
export const PRE_JOB_UPDATE = 'veeam-started.pre-job';
/** The signal the post-job hook sends: Veeam says the job (with its retries) is over. */
export const POST_JOB_SIGNAL = 'veeam-started.post-job';

/** The failure type of a pre-job update refused because the run it reached is releasing: start the next one. */
export const RUN_ENDING = 'RunEnding';

/** What the pre-job hook hears back: the VMs protected (verified flushed) and the run's ids. */
export const PreJobAnswer = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    job: z.string(),
    protected: z.array(z.string()),
    /** Accelerated by nothing: left alone (outsideFvp, not accelerated). */
    leftAlone: z.array(z.string()),
  })
  .strict();
export type PreJobAnswer = z.infer<typeof PreJobAnswer>;

/** The post-job signal's (optional) argument: who sent it, for the run's history. */
export const PostJobNotice = z.object({ from: z.string().max(200).optional() }).strict();
export type PostJobNotice = z.infer<typeof PostJobNotice>;
