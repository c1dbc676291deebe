/**
 * The Veeam model: a session's state, result, progress and tasks as pure functions of its record
 * and the time. A session is Starting for startDelayMs, then Working through its VMs in job order,
 * `taskSlots` tasks at a time (Veeam's proxies process several VMs at once): each VM's task starts
 * as soon as a slot is free, takes its own time (`vmTasks[vm].taskMs`, else taskMs), snapshots its VM
 * when it starts and ends with its own result; the session is Stopped when its last task ends, with
 * the job's outcome or its worst task's, whichever is worse. Stop-BackupJob makes a live session
 * Stopping for stopDelayMs, then Stopped/Failed; VMs whose task had not started by the stop request
 * are never snapshotted. A session can be slow to appear: lookups see it only appearDelayMs after it
 * was created, while the job already counts as running and the session runs (and snapshots) on its
 * own clock.
 */
import type { BackupSession, SessionResult, SessionState } from '../../domain/veeam';
import type { JobOutcome } from '../scenario';
import type { SessionRecord } from './state';

export interface TaskTiming {
  vm: string;
  startAt: number;
  endAt: number;
  outcome: JobOutcome;
}

const severity: Record<JobOutcome, number> = { Success: 0, Warning: 1, Failed: 2 };

/**
 * Each VM's task, in job order. A task takes the slot that frees first, so start times never
 * decrease along the job's order (the verdicts rely on it: they are given in that order).
 */
export function taskTimings(s: SessionRecord): TaskTiming[] {
  const workingAt = s.createdAt + s.startDelayMs;
  const freeAt: number[] = Array.from({ length: s.taskSlots ?? 1 }, () => workingAt);
  return s.vms.map((vm) => {
    const own = s.vmTasks?.[vm];
    let slot = 0;
    for (let i = 1; i < freeAt.length; i++) if (freeAt[i]! < freeAt[slot]!) slot = i;
    const startAt = freeAt[slot]!;
    const endAt = startAt + (own?.taskMs ?? s.taskMs);
    freeAt[slot] = endAt;
    return { vm, startAt, endAt, outcome: own?.outcome ?? s.outcome };
  });
}

export function naturalEndAt(s: SessionRecord): number {
  return taskTimings(s).reduce((end, task) => Math.max(end, task.endAt), s.createdAt + s.startDelayMs);
}

/** The result of a session that runs to its end: the job's outcome, or its worst task's if worse. */
function naturalOutcome(s: SessionRecord): JobOutcome {
  return taskTimings(s).reduce<JobOutcome>(
    (worst, task) => (severity[task.outcome] > severity[worst] ? task.outcome : worst),
    s.outcome,
  );
}

/** The stop request, if it came before the session would have ended by itself. */
function effectiveStop(s: SessionRecord): number | null {
  return s.stopRequestedAt !== null && s.stopRequestedAt < naturalEndAt(s) ? s.stopRequestedAt : null;
}

/** When the session is (or will be) Stopped. */
export function endAt(s: SessionRecord): number {
  const stop = effectiveStop(s);
  return stop === null ? naturalEndAt(s) : stop + s.stopDelayMs;
}

export function stateAt(s: SessionRecord, t: number): SessionState {
  const stop = effectiveStop(s);
  if (stop !== null && t >= stop) return t < stop + s.stopDelayMs ? 'Stopping' : 'Stopped';
  if (t < s.createdAt + s.startDelayMs) return 'Starting';
  return t < naturalEndAt(s) ? 'Working' : 'Stopped';
}

export function isLive(s: SessionRecord, t: number): boolean {
  return stateAt(s, t) !== 'Stopped';
}

/** Whether session lookups (Get-VBRBackupSession) return the session at t; the job runs regardless. */
export function isVisible(s: SessionRecord, t: number): boolean {
  return t >= s.createdAt + s.appearDelayMs;
}

export function resultAt(s: SessionRecord, t: number): SessionResult {
  if (stateAt(s, t) !== 'Stopped') return 'None';
  return effectiveStop(s) === null ? naturalOutcome(s) : 'Failed';
}

/** Whether a task's VM gets (or got) snapshotted, and when. */
export function snapshotAt(s: SessionRecord, task: TaskTiming): number | null {
  const stop = effectiveStop(s);
  return stop !== null && task.startAt >= stop ? null : task.startAt;
}

function progressBetween(from: number, to: number, t: number): number {
  if (t >= to) return 100;
  if (t <= from) return 0;
  return Math.floor((100 * (t - from)) / (to - from));
}

export function sessionDoc(s: SessionRecord, t: number): BackupSession {
  const state = stateAt(s, t);
  const stop = effectiveStop(s);
  const stopped = stop !== null && t >= stop;
  const seen = stopped ? stop : t;
  const workingAt = s.createdAt + s.startDelayMs;
  const tasks = taskTimings(s).map((task) => {
    if (seen >= task.endAt) return { vm: task.vm, status: task.outcome, result: task.outcome, progress: 100 };
    const progress = progressBetween(task.startAt, task.endAt, seen);
    if (state === 'Stopped') return { vm: task.vm, status: 'Failed', result: 'Failed' as const, progress };
    const status = seen >= task.startAt ? 'InProgress' : 'Pending';
    return { vm: task.vm, status, result: 'None' as const, progress };
  });
  const end = endAt(s);
  return {
    id: s.id,
    jobId: s.jobId,
    jobName: s.jobName,
    state,
    result: resultAt(s, t),
    progress: state === 'Stopped' && !stopped ? 100 : progressBetween(workingAt, naturalEndAt(s), seen),
    creationTime: new Date(s.createdAt).toISOString(),
    endTime: state === 'Stopped' ? new Date(end).toISOString() : null,
    tasks,
  };
}

/**
 * When Veeam stops reading a task's VM: its task's end, or, for a task the stop caught in progress,
 * the session's end (Stopping still reads).
 */
export function readUntil(s: SessionRecord, task: TaskTiming): number {
  const stop = effectiveStop(s);
  return stop === null || task.endAt <= stop ? task.endAt : endAt(s);
}

/**
 * Snapshots whose read is over by time t and that have no verdict yet, in job order: [task index,
 * vm, snapshot time, end of the read]. A verdict waits for the end of its VM's read, since what
 * happens to the VM while Veeam reads it counts too (verdict.ts).
 */
export function dueSnapshots(
  s: SessionRecord,
  t: number,
): { index: number; vm: string; at: number; readUntil: number }[] {
  const due: { index: number; vm: string; at: number; readUntil: number }[] = [];
  const timings = taskTimings(s);
  for (let i = s.judged; i < timings.length; i++) {
    const task = timings[i]!;
    const at = snapshotAt(s, task);
    if (at === null) break; // never snapshotted; nor is any later task (they start later)
    const until = readUntil(s, task);
    if (until > t) break;
    due.push({ index: i, vm: task.vm, at, readUntil: until });
  }
  return due;
}

/** Newest session of a job created at or after `since` (epoch ms) and visible at t, or null. */
export function findSession(sessions: SessionRecord[], jobId: string, since: number, t: number): SessionRecord | null {
  let best: SessionRecord | null = null;
  for (const s of sessions) {
    if (s.jobId !== jobId || s.createdAt < since || !isVisible(s, t)) continue;
    if (best === null || s.createdAt >= best.createdAt) best = s;
  }
  return best;
}
