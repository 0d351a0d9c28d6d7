/**
 * `leakhunt detach <pid>`: stop the run attached to a JVM. While the `leakhunt attach` that started it lives, that
 * one processes the run and prints the report; if it is gone (killed), detach processes the run itself, as
 * `leakhunt report DIR` would.
 */
import { Command } from 'commander';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { findAttachedRunDir, isLeakhuntProcess, processExists, requestStop } from '../launch/index.js';
import { colorWanted, renderJson, renderText } from '../report/index.js';
import { readRunMeta, runPath } from '../rundir/index.js';
import { existsSync } from 'node:fs';
import { parsePid } from './attach.js';
import { processRunDirectory } from './process.js';
import { positiveInteger } from './options.js';

const OWNER_WAIT_MS = 300_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function detachCommand(pidText: string, options: { json: boolean; top: number; quiet: boolean }): Promise<number> {
  const pid = parsePid(pidText);
  if (!processExists(pid)) throw new LeakhuntError(`no process ${pid} is running (a run it had is processed by leakhunt report DIR)`, ExitCode.attachRefused);
  const runDir = findAttachedRunDir(pid);
  if (!runDir) throw new LeakhuntError(`pid ${pid} has no leakhunt run attached (leakhunt attach ${pid} starts one)`, ExitCode.attachRefused);
  const meta = readRunMeta(runDir);
  const rawDir = runPath(runDir, 'raw');
  if (!(await requestStop(rawDir, pid)) && processExists(pid)) {
    process.stderr.write(`leakhunt: the shim in pid ${pid} did not confirm its final snapshot in time: the report ends at its last one\n`);
  }
  const owner = meta.attach?.cliPid;
  if (owner !== undefined && owner !== process.pid && isLeakhuntProcess(owner)) {
    // The attach that started the run processes it: wait for it, so that the report exists when detach returns.
    for (let waited = 0; waited < OWNER_WAIT_MS && isLeakhuntProcess(owner); waited += 200) await sleep(200);
    if (!options.quiet) process.stderr.write(`leakhunt: detached from pid ${pid}; leakhunt attach (pid ${owner}) printed the report, kept in ${runDir}\n`);
    return ExitCode.ok;
  }
  if (existsSync(runPath(runDir, 'report')) && meta.endedAtMs !== undefined) {
    if (!options.quiet) process.stderr.write(`leakhunt: detached from pid ${pid}; its run was processed already: leakhunt report ${runDir}\n`);
    return ExitCode.ok;
  }
  if (!options.quiet) process.stderr.write(`leakhunt: detached from pid ${pid}; the leakhunt attach that recorded ${runDir} is gone: processing the run\n`);
  const processed = await processRunDirectory(runDir);
  for (const note of processed.notes) if (!options.quiet) process.stderr.write(`leakhunt: ${note}\n`);
  process.stdout.write(options.json ? renderJson(processed.report, options.top) : renderText(processed.report, { top: options.top, color: colorWanted() }));
  return ExitCode.ok;
}

export function register(program: Command): void {
  program.command('detach')
    .description('stop the leakhunt run attached to a JVM (leakhunt attach); the JVM runs on with the shim idle')
    .argument('<pid>', 'the JVM\'s process id')
    .option('--json', 'print report.json instead of the text report (when detach processes the run)', false)
    .option('--top <n>', 'sites to show', positiveInteger, 10)
    .option('-q, --quiet', 'no progress lines on stderr', false)
    .action(async (pid: string, opts: { json: boolean; top: number; quiet: boolean }) => {
      process.exitCode = await detachCommand(pid, opts);
    });
}
