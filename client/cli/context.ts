/**
 * What every CLI command shares: its I/O, the connection options, zod parsing of commander's
 * options (a bad value is a UsageError naming the flag: exit 2 with the usage), and the two
 * output modes (text for people, one JSON document with --json).
 */
import { Command, Option } from 'commander';
import { z } from 'zod';
import { describeZodError } from '../../domain/zod-issues';
import type { BackupConnection } from '../connection';
import { ExitCode } from '../exit-codes';

export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

/** Where a command leaves its exit code (commander ignores what actions return). */
export interface CliState {
  exitCode: number;
}

/** What every command of one program shares: where it prints, where it leaves its exit code. */
export interface Cli {
  io: CliIo;
  state: CliState;
}

/** A bad argument: the message names the flag; main() prints it with the command's usage. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly command: Command,
  ) {
    super(message);
  }
}

/** `Usage: fvpb schedule sync [options]` and where to find the options: what a bad argument prints. */
export function usageOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  const path = names.join(' ');
  return `Usage: ${path} ${command.usage()}\nRun '${path} --help' for the options.`;
}

export const ConnectionFlags = z.object({
  address: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'expected host:port, e.g. localhost:7233')
    .optional(),
  namespace: z.string().min(1).optional(),
  profile: z.string().min(1).optional(),
  configFile: z.string().min(1).optional(),
  taskQueue: z.string().min(1).optional(),
  json: z.boolean().default(false),
});
export type ConnectionFlags = z.infer<typeof ConnectionFlags>;

/** Adds --json and the connection options to a leaf command. */
export function withCommonOptions(command: Command, { connection = true } = {}): Command {
  command.option('--json', 'print one JSON document (for scripts)');
  if (connection) {
    command
      .option('--address <host:port>', 'Temporal frontend (default: profile, TEMPORAL_ADDRESS, localhost:7233)')
      .option('--namespace <name>', 'namespace (default: profile, TEMPORAL_NAMESPACE, default)')
      .option('--profile <name>', 'profile of the Temporal config file (TEMPORAL_PROFILE)')
      .option(
        '--config-file <path>',
        'Temporal config file (TEMPORAL_CONFIG_FILE; default ~/.config/temporalio/temporal.toml)',
      )
      .option('--task-queue <name>', "the worker's task queue (TEMPORAL_TASK_QUEUE; default fvp-protected-backup)");
  }
  return command;
}

export function flagName(key: PropertyKey): string {
  return `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * Parses commander's options (and positional arguments, keyed `<name>`) with zod. A failure is a
 * UsageError naming the flag (`--endpoint[0]: ...`, `<workflow-id>: ...`): the issues are renamed
 * to flags, then formatted by the one formatter of zod issues (domain/zod-issues.ts).
 */
export function parseOptions<S extends z.ZodType>(schema: S, values: unknown, command: Command): z.infer<S> {
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({ ...issue, path: [flagPath(issue.path)] }));
  throw new UsageError(describeZodError(new z.ZodError(issues)), command);
}

/** `['endpoint', 0]` -> `--endpoint[0]`; a positional argument keeps its `<name>`. */
function flagPath(path: PropertyKey[]): string {
  const [head, ...rest] = path;
  const where = head === undefined ? 'arguments' : String(head).startsWith('<') ? String(head) : flagName(head);
  return `${where}${rest.length ? `[${rest.map(String).join('.')}]` : ''}`;
}

export function repeatable(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function choice(flags: string, description: string, choices: readonly string[]): Option {
  return new Option(flags, description).choices(choices);
}

export class Output {
  constructor(
    readonly io: CliIo,
    readonly json: boolean,
  ) {}

  line(text = ''): void {
    if (!this.json) this.io.stdout.write(`${text}\n`);
  }

  lines(texts: string[]): void {
    for (const text of texts) this.line(text);
  }

  /** The one JSON document of a --json run (ignored in text mode). */
  document(value: unknown): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }
}

async function withConnection<T>(
  flags: ConnectionFlags,
  io: CliIo,
  body: (conn: BackupConnection) => Promise<T>,
): Promise<T> {
  // Loaded when a command runs, not when the program is built: `--help` and a bad flag stay fast.
  const { connect, operatorIdentity } = await import('../connection.js');
  const conn = await connect({
    address: flags.address,
    namespace: flags.namespace,
    profile: flags.profile,
    configFile: flags.configFile,
    taskQueue: flags.taskQueue,
    env: io.env,
    identity: operatorIdentity('fvpb-cli', io.env),
  });
  try {
    return await body(conn);
  } finally {
    await conn.close();
  }
}

/** Picks the connection flags out of a command's parsed options. */
function connectionFlags(options: ConnectionFlags): ConnectionFlags {
  const { address, namespace, profile, configFile, taskQueue, json } = options;
  return { address, namespace, profile, configFile, taskQueue, json };
}

/** What a command's handler gets: its parsed flags, its Output, and an open connection. */
export interface ActionContext<F> {
  flags: F;
  out: Output;
  conn: BackupConnection;
}

/** A handler returns the exit code (default: success). */
type Run<F, P> = (context: ActionContext<F>, prepared: P) => Promise<number | void>;

/**
 * The action of every command that talks to Temporal, written once: adds --json and the
 * connection options, parses the flags and positional arguments with zod (a bad one exits 2 with
 * the usage), picks the Output, connects, runs the handler, closes the connection, and leaves the
 * handler's exit code. With `{ prepare, run }`, `prepare` runs before connecting: a bad input or
 * file exits 2 without touching the server. Handlers import the library modules they use when they
 * run (`await import('../runs.js')`): building the program loads commander and zod, not the
 * Temporal client, so `fvpb --help` starts in a fraction of the time (bench/cli-startup.ts).
 */
export function serverAction<S extends z.ZodType<ConnectionFlags>>(
  cli: Cli,
  command: Command,
  schema: S,
  handler: Run<z.infer<S>, undefined>,
): Command;
export function serverAction<S extends z.ZodType<ConnectionFlags>, P>(
  cli: Cli,
  command: Command,
  schema: S,
  handler: { prepare: (flags: z.infer<S>, command: Command) => P | Promise<P>; run: Run<z.infer<S>, P> },
): Command;
export function serverAction<S extends z.ZodType<ConnectionFlags>, P>(
  cli: Cli,
  command: Command,
  schema: S,
  handler:
    | Run<z.infer<S>, P | undefined>
    | { prepare: (flags: z.infer<S>, command: Command) => P | Promise<P>; run: Run<z.infer<S>, P> },
): Command {
  const { prepare, run } = typeof handler === 'function' ? { prepare: () => undefined, run: handler } : handler;
  return withCommonOptions(command).action(async (...args: unknown[]) => {
    // commander passes the positional arguments, then the options, then the command.
    const positional = command.registeredArguments.map((a, i) => [`<${a.name()}>`, args[i]] as const);
    const options = args[positional.length] as object;
    const flags = parseOptions(schema, { ...options, ...Object.fromEntries(positional) }, command);
    const prepared = await prepare(flags, command);
    const out = new Output(cli.io, flags.json);
    const code = await withConnection(connectionFlags(flags), cli.io, (conn) =>
      run({ flags, out, conn }, prepared as P),
    );
    cli.state.exitCode = code ?? ExitCode.success;
  });
}
