/**
 * What every CLI command shares: its I/O, the connection options, zod parsing of commander's
 * options (a bad value is a UsageError naming the flag: exit 2 with the usage), and the two
 * output modes (text for people, one JSON document with --json).
 */
import { Command, Option } from 'commander';
import { z } from 'zod';
import { connect, type BackupConnection } from '../connection';

export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

/** Where a command leaves its exit code (commander ignores what actions return). */
export interface CliState {
  exitCode: number;
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

/** `Usage: cli schedule sync [options]` and where to find the options: what a bad argument prints. */
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

/** Parses commander's options (and positional arguments) with zod; names the flag on failure. */
export function parseOptions<S extends z.ZodType>(schema: S, values: unknown, command: Command): z.infer<S> {
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const message = parsed.error.issues
    .map((issue) => {
      const [head, ...rest] = issue.path;
      const where =
        head === undefined ? 'arguments' : `${String(head).startsWith('<') ? String(head) : flagName(head)}`;
      return `${where}${rest.length ? `[${rest.map(String).join('.')}]` : ''}: ${issue.message}`;
    })
    .join('; ');
  throw new UsageError(message, command);
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

export async function withConnection<T>(
  flags: ConnectionFlags,
  io: CliIo,
  body: (conn: BackupConnection) => Promise<T>,
): Promise<T> {
  const conn = await connect({
    address: flags.address,
    namespace: flags.namespace,
    profile: flags.profile,
    configFile: flags.configFile,
    taskQueue: flags.taskQueue,
    env: io.env,
  });
  try {
    return await body(conn);
  } finally {
    await conn.close();
  }
}

/** Picks the connection flags out of a command's parsed options. */
export function connectionFlags(options: ConnectionFlags): ConnectionFlags {
  const { address, namespace, profile, configFile, taskQueue, json } = options;
  return { address, namespace, profile, configFile, taskQueue, json };
}
