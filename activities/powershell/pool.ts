/**
 * A pool of long-lived PowerShell sessions for one endpoint. At most `poolSize` processes, started
 * lazily and reused (module import and Connect-* are slow on real hosts); a session that died,
 * timed out, printed something unexpected, returned a vendor error that is not the caller's fault
 * (see keepsSession) or is older than `maxSessionAgeMs` is replaced by a fresh one, which connects
 * again, on the next call. Calls beyond `poolSize` wait their turn.
 */
import { join } from 'node:path';
import { EndpointConfig, type EndpointConfigInput } from './config';
import { abortReason, PowerShellError, PowerShellRequestError } from './errors';
import { silentLogger, type Logger } from './logger';
import { operations, type OperationArgs, type OperationName, type OperationResult } from './operations';
import { type EndpointName } from '../../domain/endpoint';
import { isOperationName } from './protocol';
import { PowerShellSession } from './session';

const noop = (): void => undefined;

/** Thrown by untilAborted: the signal fired first. */
class Aborted extends Error {}

/** `promise`, or a rejection with Aborted as soon as `signal` fires (the promise runs on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new Aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** The module shipped next to this file. */
export const DEFAULT_MODULE_PATH = join(__dirname, 'FvpBackup.psm1');

export interface PoolOptions {
  endpoint: EndpointName;
  config: EndpointConfigInput;
  logger?: Logger;
  /** Environment variable names never passed to the child (credential sources of every endpoint). */
  scrubEnv?: readonly string[];
}

export interface PoolStats {
  /** Live processes (idle or busy). */
  sessions: number;
  busy: number;
  /** Processes started since the pool was created. */
  started: number;
  /** Calls waiting for a free session. */
  waiting: number;
}

export class PowerShellPool {
  readonly endpoint: EndpointName;
  readonly config: EndpointConfig;
  private readonly logger: Logger;
  private readonly modulePath: string;
  private readonly scrubEnv: readonly string[];
  private readonly idle: PowerShellSession[] = [];
  private readonly live = new Set<PowerShellSession>();
  private readonly starting = new Set<Promise<PowerShellSession>>();
  private readonly waiters: (() => void)[] = [];
  private permits: number;
  private started = 0;
  private closed = false;

  constructor(options: PoolOptions) {
    this.endpoint = options.endpoint;
    this.config = EndpointConfig.parse(options.config);
    this.logger = options.logger ?? silentLogger;
    this.modulePath = this.config.modulePath ?? DEFAULT_MODULE_PATH;
    this.scrubEnv = options.scrubEnv ?? [];
    this.permits = this.config.poolSize;
    if (process.env.NODE_POWERSHELL && process.env.NODE_POWERSHELL !== this.config.executable) {
      this.logger.warn(
        { endpoint: this.endpoint },
        'NODE_POWERSHELL is set: node-powershell runs it instead of the configured executable',
      );
    }
  }

  /**
   * Runs one operation of FvpBackup.psm1 and returns its result, validated against operations.ts.
   * Rejects with PowerShellRequestError (nothing sent) or PowerShellError.
   *
   * `signal` (the activity's cancellation): once it fires, a call still waiting for a permit or for
   * its session to start is dropped and never sent (`cancelled`); a call already written to its
   * process has that process killed and its session retired (`cancelled-in-flight`: it may have
   * taken effect). An abandoned attempt must not act after a retry has acted in its place.
   */
  async invoke<O extends OperationName>(
    op: O,
    args: OperationArgs<O>,
    signal?: AbortSignal,
  ): Promise<OperationResult<O>> {
    const validArgs = this.validate(op, args);
    if (signal?.aborted) throw this.notSent(op, signal, 'before it was queued');
    await this.takePermit(op, signal);
    if (signal?.aborted) {
      this.givePermit();
      throw this.notSent(op, signal, 'while it waited for a PowerShell session');
    }
    const began = Date.now();
    let session: PowerShellSession | undefined;
    let holdsPermit = true;
    try {
      const checkout = this.checkout(op);
      try {
        session = await untilAborted(checkout, signal);
      } catch (err) {
        if (!(err instanceof Aborted)) throw err;
        // The session being started is healthy and slow to start: the next call gets it. Its
        // permit is given back once the start settles, and the line of this call is never written.
        holdsPermit = false;
        checkout
          .then((started) => this.checkin(started), noop)
          .finally(() => this.givePermit())
          .catch(noop);
        throw this.notSent(op, signal, 'while its PowerShell session was starting');
      }
      const result = await session.invoke(op, validArgs, signal);
      this.logger.debug(
        { endpoint: this.endpoint, op, pid: session.pid, durationMs: Date.now() - began, outcome: 'ok' },
        'PowerShell call',
      );
      return result;
    } catch (err) {
      const fields =
        err instanceof PowerShellError
          ? { outcome: err.category, retryable: err.retryable, errorType: err.errorType, error: err.message }
          : { outcome: 'error', error: err instanceof Error ? err.message : String(err) };
      this.logger.warn(
        { endpoint: this.endpoint, op, pid: session?.pid, durationMs: Date.now() - began, ...fields },
        'PowerShell call failed',
      );
      throw err;
    } finally {
      if (session) this.checkin(session);
      if (holdsPermit) this.givePermit();
    }
  }

  stats(): PoolStats {
    const busy = [...this.live].filter((s) => s.isBusy).length;
    return { sessions: this.live.size, busy, started: this.started, waiting: this.waiters.length };
  }

  /** Stops every process (busy ones are killed) and refuses further calls. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const wake of this.waiters.splice(0)) wake();
    const pending = await Promise.allSettled([...this.starting]);
    for (const p of pending) if (p.status === 'fulfilled') this.live.add(p.value);
    this.idle.length = 0;
    await Promise.all([...this.live].map((s) => s.close()));
    this.live.clear();
  }

  private validate<O extends OperationName>(op: O, args: unknown): unknown {
    const refuse = (message: string) =>
      new PowerShellRequestError(message, { op: String(op), endpoint: this.endpoint });
    if (!isOperationName(op)) throw refuse(`refused ${JSON.stringify(op)}: not an operation of FvpBackup.psm1`);
    const spec = operations[op];
    if (spec.endpoint !== 'any' && spec.endpoint !== this.endpoint) {
      throw refuse(`refused ${op}: it is a ${spec.endpoint} operation, this is the ${this.endpoint} pool`);
    }
    if (op === 'Connect-Endpoint') throw refuse('refused Connect-Endpoint: sessions connect by themselves');
    const parsed = spec.args.safeParse(args);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(args)'}: ${i.message}`)
        .join('; ');
      throw refuse(`refused ${op}: invalid arguments (${issues})`);
    }
    return parsed.data;
  }

  /** Waits for a permit; a waiter whose signal fires leaves the queue and never holds one. */
  private async takePermit(op: OperationName, signal: AbortSignal | undefined): Promise<void> {
    if (this.permits > 0 && !this.closed) this.permits -= 1;
    else if (!this.closed) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const index = this.waiters.indexOf(wake);
          // Not in the queue any more: the permit was already handed over; invoke gives it back.
          if (index < 0) return;
          this.waiters.splice(index, 1);
          reject(this.notSent(op, signal, 'while it waited for a PowerShell session'));
        };
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.waiters.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
    if (this.closed) {
      throw new PowerShellError('the PowerShell pool is closed', {
        op: 'pool',
        endpoint: this.endpoint,
        category: 'process-died',
      });
    }
  }

  /** The caller's signal fired before anything was written to PowerShell: the call did not run. */
  private notSent(op: OperationName, signal: AbortSignal | undefined, when: string): PowerShellError {
    const why = abortReason(signal);
    return new PowerShellError(`${op} was cancelled${why} ${when}; it was never sent to PowerShell and did not run`, {
      op,
      endpoint: this.endpoint,
      category: 'cancelled',
    });
  }

  private givePermit(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.permits += 1;
  }

  /** A reusable idle session (most recently used first), or a new one. Holds a permit. */
  private async checkout(op: OperationName): Promise<PowerShellSession> {
    for (let s = this.idle.pop(); s; s = this.idle.pop()) {
      const unfit = this.unfit(s);
      if (unfit === null) return s;
      this.retire(s, unfit);
    }
    const start = PowerShellSession.start({
      endpoint: this.endpoint,
      config: this.config,
      modulePath: this.modulePath,
      logger: this.logger,
      scrubEnv: this.scrubEnv,
    });
    this.starting.add(start);
    this.started += 1;
    try {
      let session: PowerShellSession;
      try {
        session = await start;
      } catch (err) {
        // Report the failure against the operation the caller asked for; the message names Connect-Endpoint.
        if (!(err instanceof PowerShellError)) throw err;
        throw new PowerShellError(err.message, {
          op,
          endpoint: this.endpoint,
          category: err.category,
          retryable: err.retryable,
          errorType: err.errorType,
          pid: err.pid,
        });
      }
      if (this.closed) {
        await session.close();
        throw new PowerShellError('the PowerShell pool is closed', {
          op,
          endpoint: this.endpoint,
          category: 'process-died',
        });
      }
      this.live.add(session);
      return session;
    } finally {
      this.starting.delete(start);
    }
  }

  /** Why a session must not serve another call, or null when it may. */
  private unfit(session: PowerShellSession): string | null {
    if (this.closed) return 'pool closed';
    if (!session.reusable) return 'no longer usable';
    const now = Date.now();
    const idleMs = now - session.lastUsedAt;
    if (idleMs > this.config.maxIdleMs) return `idle for ${idleMs} ms`;
    const ageMs = now - session.startedAt;
    if (ageMs > this.config.maxSessionAgeMs) return `connected ${ageMs} ms ago (maxSessionAgeMs)`;
    return null;
  }

  private checkin(session: PowerShellSession): void {
    const unfit = this.unfit(session);
    if (unfit === null) this.idle.push(session);
    else this.retire(session, unfit);
  }

  private retire(session: PowerShellSession, reason: string): void {
    this.live.delete(session);
    const index = this.idle.indexOf(session);
    if (index >= 0) this.idle.splice(index, 1);
    this.logger.info({ endpoint: this.endpoint, pid: session.pid, reason }, 'PowerShell session retired');
    session.close().catch(() => undefined);
  }
}
