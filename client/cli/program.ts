/**
 * The CLI program: commander builds the commands (one file per group), zod checks every value
 * after commander, and main() turns what happened into an exit code (see ../exit-codes.ts).
 * main() runs in-process (tests call it) and never calls process.exit itself.
 */
import { Command, CommanderError } from 'commander';
import { ConnectionConfigError } from '../connection';
import { InvalidInputError, RunAlreadyActiveError } from '../errors';
import { ExitCode } from '../exit-codes';
import { InvalidScheduleError, ScheduleFileError } from '../schedules/errors';
import { UsageError, usageOf, type CliIo, type CliState } from './context';
import { registerDoctorCommand } from './doctor';
import { registerRunCommands } from './runs';
import { registerScheduleCommands } from './schedules';
import { registerGuardCommands } from '../guard/register';

export function buildProgram(io: CliIo, state: CliState): Command {
  const program = new Command()
    .name('cli')
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
  // After commander's own message (unknown option, missing value...), the usage of that command.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const command of all(program)) command.showHelpAfterError(usageOf(command));
  return program;
}

function errorExit(err: unknown): { code: number; message: string; usage?: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof UsageError) return { code: ExitCode.usage, message, usage: `${usageOf(err.command)}\n` };
  const usage = [InvalidInputError, ScheduleFileError, InvalidScheduleError, ConnectionConfigError];
  if (usage.some((type) => err instanceof type)) return { code: ExitCode.usage, message };
  if (err instanceof RunAlreadyActiveError) return { code: ExitCode.alreadyRunning, message };
  // RunNotFoundError, ScheduleNotOursError, ConnectionError and anything unexpected.
  return { code: ExitCode.failure, message };
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
