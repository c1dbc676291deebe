/**
 * The CLI program: commander builds the commands (one file per group), zod checks every value
 * after commander, and main() turns what happened into an exit code (see ../exit-codes.ts).
 * main() runs in-process (tests call it) and never calls process.exit itself.
 */
import { Command, CommanderError } from 'commander';
import {
  ConnectionConfigError,
  InvalidInputError,
  InvalidScheduleError,
  RunAlreadyActiveError,
  ScheduleFileError,
  TriggerDroppedError,
} from '../errors';
import { ExitCode } from '../exit-codes';
import { UsageError, usageOf, type CliIo, type CliState } from './context';
import { registerDoctorCommand } from './doctor';
import { registerGuardCommands } from './guard';
import { registerHookCommands } from './hook';
import { registerRunCommands } from './runs';
import { registerScheduleCommands } from './schedules';

export function buildProgram(io: CliIo, state: CliState): Command {
  const program = new Command()
    .name('fvpb')
    .description('Start, follow, cancel and schedule consistent Veeam backups of FVP-accelerated VMs (Temporal).')
    .exitOverride()
    .allowExcessArguments(false)
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  registerRunCommands(program, io, state);
  registerDoctorCommand(program, io, state);
  registerScheduleCommands(program, io, state);
  registerGuardCommands(program, io, state);
  registerHookCommands(program, io, state);
  // After commander's own message (unknown option, missing value...), the usage of that command.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const command of all(program)) command.showHelpAfterError(usageOf(command));
  return program;
}

/** The exit code of each error the library throws on purpose (see ../errors.ts); any other is a failure. */
const EXIT_CODES: [new (...args: never[]) => Error, ExitCode][] = [
  // Nothing was started or changed: fix the arguments, the input or the file.
  [UsageError, ExitCode.usage],
  [InvalidInputError, ExitCode.usage],
  [ScheduleFileError, ExitCode.usage],
  [InvalidScheduleError, ExitCode.usage],
  [ConnectionConfigError, ExitCode.usage],
  // Not started: a run of the job is already open.
  [RunAlreadyActiveError, ExitCode.alreadyRunning],
  [TriggerDroppedError, ExitCode.alreadyRunning],
  // RunNotFoundError, ScheduleNotOursError, ConnectionError, SyncInterruptedError: ExitCode.failure.
];

function errorExit(err: unknown): { code: number; message: string; usage?: string } {
  const message = err instanceof Error ? err.message : String(err);
  const code = EXIT_CODES.find(([type]) => err instanceof type)?.[1] ?? ExitCode.failure;
  return { code, message, usage: err instanceof UsageError ? `${usageOf(err.command)}\n` : undefined };
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const state: CliState = { exitCode: ExitCode.success };
  const program = buildProgram(io, state);
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return state.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message and the usage already.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.success;
      if (err.code === 'commander.help') return err.exitCode === 0 ? ExitCode.success : ExitCode.usage;
      return ExitCode.usage;
    }
    const { code, message, usage } = errorExit(err);
    io.stderr.write(`error: ${message}\n`);
    if (usage) io.stderr.write(`\n${usage}`);
    if (json) io.stdout.write(`${JSON.stringify({ error: { type: (err as Error).name, message }, exitCode: code })}\n`);
    return code;
  }
}
