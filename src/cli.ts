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
import { ExitCode, LeakhuntError } from './core/errors.js';

const exitCodesHelp = `
Exit codes:
  0     success (run: the command's own exit status; 128+N when signal N ended it)
  1     leak over threshold (gate)
  2     bad usage or unreadable input
  3     not enough data to decide (gate)
  4     environment problem (shim not built, tool missing)
  5     output exists (use --force)
  6     some profiles could not be pushed (push)
  7     the process cannot be attached (attach, detach)
  70    internal error`;

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
    if (error instanceof LeakhuntError) {
      process.stderr.write(`leakhunt: ${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`leakhunt: internal error: ${message.split('\n')[0]}\n`);
    if (process.env.LEAKHUNT_DEBUG) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
    process.exitCode = ExitCode.internal;
  }
}

await main(process.argv);
