/**
 * One long-lived PowerShell process driven by node-powershell: started with the endpoint's
 * credentials in its environment, initialised with one line (import FvpBackup.psm1, Connect-Endpoint),
 * then fed one `Invoke-Op` line per call. A session that may be out of step with its process (timeout,
 * garbage on stdout, stderr, death, lost connection) marks itself unusable; the pool replaces it.
 */
import type { ChildProcess } from 'node:child_process';
import { InvocationError, PowerShell, ProcessError } from 'node-powershell';
import { z } from 'zod';
import type { EndpointConfig } from './config';
import { CredentialError, loadCredential, type Credential } from './credentials';
import { childEnvironment } from './environment';
import {
  abortReason,
  keepsSession,
  PowerShellError,
  redact,
  redactedExcerpt,
  secretForms,
  type PowerShellErrorCategory,
} from './errors';
import type { Logger } from './logger';
import { operations, type OperationName, type OperationResult } from './operations';
import { type EndpointName } from '../../domain/endpoint';
import { initLine, invocationLine, parseOutput } from './protocol';
import { FVP, VEEAM } from '../vendor/facts';

export interface SessionOptions {
  endpoint: EndpointName;
  config: EndpointConfig;
  /** Absolute path of FvpBackup.psm1 on the machine that runs the PowerShell process. */
  modulePath: string;
  logger: Logger;
  /** Environment variable names never passed to the child (every endpoint's credential sources). */
  scrubEnv?: readonly string[];
}

const noop = (): void => undefined;
/** Resolves from a timer, so that every timer already overdue runs first. */
const yieldToTimers = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
/** How long a closing session may take to exit after its stdin is closed, before SIGKILL. */
const CLOSE_GRACE_MS = 3_000;

/** node-powershell keeps the child process private; we need its pid, its exit and a SIGKILL. */
function childOf(shell: PowerShell): ChildProcess {
  const child = (shell as unknown as { process?: ChildProcess }).process;
  if (!child || typeof child.kill !== 'function')
    throw new Error('node-powershell: no child process (library changed?)');
  return child;
}

function executableOptions(config: EndpointConfig): Record<string, string | boolean> {
  // -NonInteractive: a prompt (a missing mandatory parameter, a confirmation) must fail, never read
  // our next lines from stdin. -NoProfile: a profile could print or redefine commands.
  const options: Record<string, string | boolean> = { '-NoProfile': true, '-NonInteractive': true };
  if (config.executionPolicy !== null) options['-ExecutionPolicy'] = config.executionPolicy;
  return options;
}

export class PowerShellSession {
  readonly endpoint: EndpointName;
  readonly pid: number | undefined;
  readonly startedAt = Date.now();
  lastUsedAt = Date.now();
  invocations = 0;

  private readonly shell: PowerShell;
  private readonly child: ChildProcess;
  private readonly secrets: string[];
  private readonly config: EndpointConfig;
  private readonly logger: Logger;
  private exited = false;
  private closing = false;
  private usable = true;
  private busy = false;
  private readonly exit: Promise<void>;

  private constructor(options: SessionOptions, credential: Credential | null) {
    this.endpoint = options.endpoint;
    this.config = options.config;
    this.logger = options.logger;
    this.secrets = credential ? secretForms(credential.password) : [];
    this.shell = new PowerShell({
      executable: options.config.executable,
      executableOptions: executableOptions(options.config),
      spawnOptions: {
        env: childEnvironment(options.endpoint, options.config, credential, options.scrubEnv),
        windowsHide: true,
      },
      // Timeouts are ours (see run): node-powershell's resolves a timed-out call with an empty error.
      invocationTimeout: 0,
    });
    this.child = childOf(this.shell);
    this.pid = this.child.pid;
    // node-powershell's exit promise rejects when the process dies; nobody may be waiting for it.
    const exitPromise = (this.shell as unknown as { exitPromise?: Promise<void> }).exitPromise;
    exitPromise?.catch(noop);
    // A second EPIPE on a dead process's stdin must not become an uncaught 'error' event.
    this.child.stdin?.on('error', noop);
    this.exit = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = true;
        this.usable = false;
        if (!this.closing)
          this.logger.warn({ endpoint: this.endpoint, pid: this.pid, code, signal }, 'PowerShell process exited');
        resolve();
      });
      this.child.once('error', () => {
        this.exited = true;
        this.usable = false;
        resolve();
      });
    });
  }

  /** Starts a process and runs the init line; rejects with a PowerShellError (op 'Connect-Endpoint'). */
  static async start(options: SessionOptions): Promise<PowerShellSession> {
    let credential: Credential | null;
    try {
      credential = await loadCredential(options.config.credentials);
    } catch (err) {
      if (!(err instanceof CredentialError)) throw err;
      throw new PowerShellError(`cannot start a PowerShell session for ${options.endpoint}: ${err.message}`, {
        op: 'Connect-Endpoint',
        endpoint: options.endpoint,
        category: 'permanent',
      });
    }
    const session = new PowerShellSession(options, credential);
    const started = Date.now();
    try {
      const connectArgs = operations['Connect-Endpoint'].args.parse({
        server: options.config.server,
        // The vendor module to load: the facts table names it, the module holds no copy.
        module: options.endpoint === 'fvp' ? FVP.moduleName.value : VEEAM.moduleName.value,
        ...(options.config.port === undefined ? {} : { port: options.config.port }),
      });
      const raw = await session.run(
        'Connect-Endpoint',
        initLine(options.modulePath, connectArgs),
        options.config.startupTimeoutMs,
      );
      session.interpret('Connect-Endpoint', raw);
    } catch (err) {
      await session.close();
      if (err instanceof PowerShellError) {
        throw new PowerShellError(
          session.clean(`cannot start a PowerShell session for ${options.endpoint}: ${err.message}`),
          {
            op: 'Connect-Endpoint',
            endpoint: options.endpoint,
            category: err.category,
            errorType: err.errorType,
            pid: err.pid,
          },
        );
      }
      throw err;
    }
    options.logger.info(
      { endpoint: options.endpoint, pid: session.pid, durationMs: Date.now() - started },
      'PowerShell session started',
    );
    return session;
  }

  /** Alive, in step with its process and connected: fit for another call. */
  get reusable(): boolean {
    return this.usable && !this.exited && !this.closing && !this.busy;
  }

  get isBusy(): boolean {
    return this.busy;
  }

  /**
   * Runs one operation (arguments already validated) and returns its validated result. When
   * `signal` fires, the line is not written if it was not yet, and the process is killed if it was.
   */
  async invoke<O extends OperationName>(op: O, args: unknown, signal?: AbortSignal): Promise<OperationResult<O>> {
    const raw = await this.run(op, invocationLine(op, args), this.config.invocationTimeoutMs, signal);
    return this.interpret(op, raw);
  }

  /** Closes stdin (PowerShell exits at end of input), then SIGKILL if it has not exited in time. */
  async close(): Promise<void> {
    this.usable = false;
    if (this.exited) return;
    this.closing = true;
    if (this.busy) return this.kill();
    this.child.stdin?.end();
    const timer = setTimeout(() => void this.kill(), CLOSE_GRACE_MS);
    await this.exit;
    clearTimeout(timer);
  }

  /** Immediate SIGKILL: a hung PowerShell does not get to finish politely. */
  kill(): Promise<void> {
    this.usable = false;
    this.closing = true;
    if (!this.exited) this.shell.dispose('SIGKILL').catch(noop);
    return this.exit;
  }

  private error(
    op: string,
    category: PowerShellErrorCategory,
    message: string,
    extra: { errorType?: string; cause?: unknown } = {},
  ) {
    return new PowerShellError(this.clean(message), { op, endpoint: this.endpoint, category, pid: this.pid, ...extra });
  }

  private clean(text: string): string {
    return redact(text, this.secrets);
  }

  /** What the process printed, for a message: secrets out first, then cut and quoted. */
  private quote(text: string): string {
    return redactedExcerpt(text, this.secrets);
  }

  private async run(op: string, line: string, timeoutMs: number, signal?: AbortSignal): Promise<string> {
    // Output that freed this session may have been read right after the worker was frozen: let
    // overdue timers, such as the activity's stall watchdog (activities/invoker.ts), fire before
    // the point of no return. (After SIGSTOP, Linux interrupts epoll_wait and timers run first
    // anyway; after a paused VM, epoll returns the output first.)
    if (signal) await yieldToTimers();
    if (this.exited || !this.usable) throw this.error(op, 'process-died', `${op}: the PowerShell process is gone`);
    // The last moment to give up without a trace: nothing has been written for this call yet.
    if (signal?.aborted) {
      throw this.error(
        op,
        'cancelled',
        `${op} was cancelled${abortReason(signal)} before it was written to PowerShell; it did not run`,
      );
    }
    this.busy = true;
    this.invocations += 1;
    let timedOut = false;
    let cancelled = false;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    // node-powershell writes the line to stdin synchronously, inside this call.
    const invocation = this.shell.invoke(line);
    invocation.catch(noop);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error('timeout'));
      }, timeoutMs);
    });
    const abandoned = new Promise<never>((_, reject) => {
      onAbort = () => {
        cancelled = true;
        reject(new Error('cancelled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const result = await Promise.race([invocation, deadline, abandoned]);
      // A process that exits with code 0 mid-call "succeeds" in node-powershell with no output.
      if (this.exited) throw new ProcessError(this.child);
      return result.raw;
    } catch (err) {
      if (timedOut) {
        await this.kill();
        throw this.error(op, 'timeout', `${op} timed out after ${timeoutMs} ms; the PowerShell process was killed`);
      }
      if (cancelled) {
        // Killed, not left to finish: an abandoned attempt must not act after its retry did.
        await this.kill();
        throw this.error(
          op,
          'cancelled-in-flight',
          `${op} was cancelled${abortReason(signal)} in flight; the PowerShell process ${this.pid ?? ''} was killed. ` +
            'The call may have taken effect: check, never assume it did not',
        );
      }
      this.usable = false;
      if (this.exited || err instanceof ProcessError) {
        const { exitCode, signalCode } = this.child;
        const how = signalCode ? `signal ${signalCode}` : `exit code ${exitCode ?? 'unknown'}`;
        const spawnError = err instanceof ProcessError ? err.originalError : undefined;
        if (spawnError && (spawnError as NodeJS.ErrnoException).code === 'ENOENT') {
          throw this.error(
            op,
            'permanent',
            `${op}: cannot start PowerShell executable ${JSON.stringify(this.config.executable)} (not found)`,
          );
        }
        throw this.error(
          op,
          'process-died',
          `${op}: the PowerShell process ${this.pid ?? ''} died during the call (${how})`,
        );
      }
      if (err instanceof InvocationError) {
        // Everything on stderr; the process is in step (both delimiters came) but in an unknown state.
        throw this.error(op, 'protocol', `${op} wrote to stderr: ${this.quote(err.message)}`);
      }
      throw this.error(op, 'protocol', `${op}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      this.busy = false;
      this.lastUsedAt = Date.now();
      // node-powershell keeps every command and its output forever; a long-lived session must not.
      this.shell.history.length = 0;
    }
  }

  private interpret<O extends OperationName>(op: O, raw: string): OperationResult<O> {
    const parsed = parseOutput(op, raw);
    if (!parsed.ok) {
      // Whatever printed this may print more later: never trust this process again.
      this.usable = false;
      throw this.error(op, 'protocol', `${op} ${parsed.reason}: ${this.quote(raw)}`);
    }
    const envelope = parsed.envelope;
    if (!envelope.ok) {
      const { category, message, type } = envelope.error;
      // After a server restart the connection is dead but the process is not: only an error about
      // the caller's request proves the session still works.
      if (!keepsSession(category, type)) this.usable = false;
      throw this.error(op, category, `${op} failed (${category}): ${message}`, { errorType: type });
    }
    const schema = operations[op].result as unknown as z.ZodType<OperationResult<O>>;
    const result = schema.safeParse(envelope.result);
    if (!result.success) {
      throw this.error(
        op,
        'protocol',
        `${op} returned a result that does not match its schema (${z.prettifyError(result.error).replace(/\n/g, '; ')}): ${this.quote(JSON.stringify(envelope.result))}`,
      );
    }
    return result.data;
  }
}
