/**
 * A pool of long-lived PowerShell sessions for one endpoint. At most `poolSize` processes, started
 * lazily and reused (module import and Connect-* are slow on real hosts); a session that died,
 * timed out, printed something unexpected, returned a vendor error that is not the caller's fault
 * (see keepsSession) or is older than `maxSessionAgeMs` is replaced by a fresh one, which connects
 * again, on the next call. Calls beyond `poolSize` wait their turn.
 */
import { join } from 'node:path';
import { EndpointConfig, type EndpointConfigInput } from './config';
import { PowerShellError, PowerShellRequestError } from './errors';
import { silentLogger, type Logger } from './logger';
import { operations, type OperationArgs, type OperationName, type OperationResult } from './operations';
import { type EndpointName } from '../../domain/endpoint';
import { isOperationName } from './protocol';
import { PowerShellSession } from './session';

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
   */
  async invoke<O extends OperationName>(op: O, args: OperationArgs<O>): Promise<OperationResult<O>> {
    const validArgs = this.validate(op, args);
    await this.takePermit();
    const began = Date.now();
    let session: PowerShellSession | undefined;
    try {
      session = await this.checkout(op);
      const result = await session.invoke(op, validArgs);
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
      this.givePermit();
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

  private async takePermit(): Promise<void> {
    if (this.permits > 0 && !this.closed) this.permits -= 1;
    else if (!this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.closed) {
      throw new PowerShellError('the PowerShell pool is closed', {
        op: 'pool',
        endpoint: this.endpoint,
        category: 'process-died',
      });
    }
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
