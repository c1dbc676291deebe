/**
 * The Veeam model: a session's state, result, progress and tasks as pure functions of its record
 * and the time. A session is Starting for startDelayMs, then Working through its VMs one task
 * after the other (taskMs each; a task snapshots its VM when it starts), then Stopped with the
 * job's outcome. Stop-BackupJob makes a live session Stopping for stopDelayMs, then Stopped/Failed;
 * VMs whose task had not started by the stop request are never snapshotted. A session can be slow
 * to appear: lookups see it only appearDelayMs after it was created, while the job already counts
 * as running and the session runs (and snapshots) on its own clock.
 */
import type { BackupSession, SessionResult, SessionState } from '../../domain/veeam';
import type { SessionRecord } from './state';

export interface TaskTiming {
  vm: string;
  startAt: number;
  endAt: number;
}

export function taskTimings(s: SessionRecord): TaskTiming[] {
  const workingAt = s.createdAt + s.startDelayMs;
  return s.vms.map((vm, i) => ({ vm, startAt: workingAt + i * s.taskMs, endAt: workingAt + (i + 1) * s.taskMs }));
}

export function naturalEndAt(s: SessionRecord): number {
  return s.createdAt + s.startDelayMs + s.vms.length * s.taskMs;
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
  return effectiveStop(s) === null ? s.outcome : 'Failed';
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
    if (seen >= task.endAt) {
      const status = s.outcome;
      return { vm: task.vm, status, result: s.outcome, progress: 100 };
    }
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

/** Snapshots taken by time t that have no verdict yet: [task index, vm, snapshot time]. */
export function dueSnapshots(s: SessionRecord, t: number): { index: number; vm: string; at: number }[] {
  const due: { index: number; vm: string; at: number }[] = [];
  const timings = taskTimings(s);
  for (let i = s.judged; i < timings.length; i++) {
    const at = snapshotAt(s, timings[i]!);
    if (at === null || at > t) break;
    due.push({ index: i, vm: timings[i]!.vm, at });
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
