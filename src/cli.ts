#!/usr/bin/env node
/** The command line: commander wiring, and the one place errors become a message and an exit code. */
import { Command, CommanderError } from 'commander';
import { register as registerAttach } from './commands/attach.js';
import { register as registerDetach } from './commands/detach.js';
import { register as registerDiff } from './commands/diff.js';
import { register as registerGate } from './commands/gate.js';
import { register as registerPush } from './commands/push.js';
import { register as registerReport } from './commands/report.js';
import { register as registerRun } from './commands/run.js';
import { environmentErrorOf, ExitCode, LeakhuntError } from './core/errors.js';

const exitCodesHelp = `
Exit codes:
  0     success (run: the command's own exit status, 128+N when signal N ended it; 0 when leakhunt stopped it at --duration)
  1     leak over threshold (gate, run --fail-on-leak)
  2     bad usage or unreadable input
  3     not enough data to decide (gate, run --fail-on-leak)
  4     environment problem: shim not built, tool missing, a run directory that cannot be made or written
  5     output exists (use --force)
  6     some profiles could not be pushed (push)
  7     the process cannot be attached (attach, detach)
  70    internal error (a bug)
  126   run: the command cannot be executed (as a shell says)
  127   run: the command was not found (as a shell says)`;

function buildProgram(): Command {
  const program = new Command('leakhunt')
    .description('Native-memory leak hunter for JVM services and native programs: samples live allocations and ranks the call sites whose retained memory grows.')
    .version('0.1.0')
    .enablePositionalOptions()
    .addHelpText('after', exitCodesHelp);
  registerRun(program);
  registerAttach(program);
  registerDetach(program);
  registerDiff(program);
  registerReport(program);
  registerGate(program);
  registerPush(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  // Usage errors are one line, with a pointer to --help rather than the whole help text.
  const oneLine = (text: string, write: (s: string) => void) => write(`leakhunt: ${text.replace(/^error: /, '').trim()} (see --help)\n`);
  program.configureOutput({ outputError: oneLine });
  for (const sub of program.commands) {
    sub.exitOverride();
    sub.configureOutput({ outputError: oneLine });
  }
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : ExitCode.usage;
      return;
    }
    // A refusal of the file system that no one turned into a LeakhuntError is still the environment's, not a bug.
    const known = error instanceof LeakhuntError ? error : environmentErrorOf(error);
    if (known) {
      process.stderr.write(`leakhunt: ${known.message}\n`);
      process.exitCode = known.exitCode;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`leakhunt: internal error: ${message.split('\n')[0]}\n`);
    if (process.env.LEAKHUNT_DEBUG) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
    process.exitCode = ExitCode.internal;
  }
}

await main(process.argv);
