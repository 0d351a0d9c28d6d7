/**
 * `leakhunt push DIR URL`: send a finished (or interrupted) run's profiles to Pyroscope or Parca — those not sent
 * already, so pushing twice sends nothing twice. And the --push options of `leakhunt run`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { parseDurationMs } from '../core/units.js';
import { completedRunMeta, hasUnprocessedSnapshots, type RunReport } from '../pipeline/index.js';
import { writeHtmlReport } from '../report/index.js';
import {
  checkServiceName, EndpointError, HttpTransport, LabelError, parseBackend, parseEndpoint, parseLabelOption, pushProfiles, pushSummaryLine,
  runLabels, type PushSummary, type RunLabels, type RunPushOptions,
} from '../push/index.js';
import {
  acquirePushLock, profilesOnDisk, PushLockedError, readPushSettings, readRunMeta, runPath, SentLedger, writeJsonAtomic,
} from '../rundir/index.js';
import { collect } from './options.js';
import { processRunDirectory } from './process.js';

/** The push options `leakhunt run` takes (checked when the run starts: a bad one is a line, and no push). */
export function addPushOptions(command: Command): Command {
  return command
    .option('--push <url>', 'send each snapshot\'s live-heap profile to Pyroscope (or Parca: --push-to) as it is made, e.g. http://pyroscope:4040')
    .option('--push-to <backend>', 'pyroscope (POST <url>/ingest, the default) or parca (POST <url>/api/profiles/writeraw)')
    .option('--push-header <header>', '"Name: value" sent with every push, e.g. "Authorization: Bearer …" or "X-Scope-OrgID: team" (repeatable; never printed or stored)', collect)
    .option('--service <name>', 'the service_name label of pushed profiles (default: the command\'s name; a JVM\'s jar or main class)')
    .option('--label <name=value>', 'another label on every pushed profile (repeatable)', collect)
    .option('--push-wait <duration>', 'when the command has ended, wait at most this long for the profiles still to be pushed (default 10s)');
}

/** The push options of a `leakhunt run` command line (commander's values), or undefined without --push. */
export function runPushOptions(opts: Record<string, unknown>): RunPushOptions | undefined {
  if (typeof opts['push'] !== 'string') return undefined;
  return {
    url: opts['push'],
    ...(typeof opts['pushTo'] === 'string' ? { backend: opts['pushTo'] } : {}),
    ...(Array.isArray(opts['pushHeader']) ? { headers: opts['pushHeader'] as string[] } : {}),
    ...(typeof opts['service'] === 'string' ? { service: opts['service'] } : {}),
    ...(Array.isArray(opts['label']) ? { labels: opts['label'] as string[] } : {}),
    ...(typeof opts['pushWait'] === 'string' ? { wait: opts['pushWait'] } : {}),
  };
}

export interface PushCommandOptions {
  backend?: string;
  headers: string[];
  service?: string;
  labels: string[];
  retryForMs: number;
}

/** One line on stderr. */
const say = (line: string) => process.stderr.write(`leakhunt: ${line}\n`);

/**
 * The labels to push `dir` with: those the run pushed with (push/settings.json), so the series go on where they left
 * off, with --service and --label on top; a run that never pushed gets them from its command and this host.
 */
function labelsFor(dir: string, command: readonly string[], options: PushCommandOptions): RunLabels {
  const settings = readPushSettings(dir);
  if (!settings) return runLabels({ ...(options.service === undefined ? {} : { service: options.service }), labels: options.labels, command, runDir: dir });
  const extra = new Map(settings.labels.extra);
  for (const [name, value] of options.labels.map(parseLabelOption)) extra.set(name, value);
  return {
    ...settings.labels, ...(options.service === undefined ? {} : { service: checkServiceName(options.service) }), extra: [...extra],
  };
}

export async function pushCommand(dir: string, url: string, options: PushCommandOptions): Promise<number> {
  const meta = readRunMeta(dir);
  let endpoint;
  let labels: RunLabels;
  try {
    const backend = parseBackend(options.backend ?? readPushSettings(dir)?.backend ?? 'pyroscope');
    endpoint = parseEndpoint(url, backend, options.headers);
    labels = labelsFor(dir, meta.command, options);
  } catch (error) {
    if (error instanceof EndpointError || error instanceof LabelError) throw new LeakhuntError(error.message, ExitCode.usage);
    throw error;
  }
  let release: () => void;
  try {
    release = acquirePushLock(dir);
  } catch (error) {
    if (!(error instanceof PushLockedError)) throw error;
    throw new LeakhuntError(`${dir}: ${error.message} (is its leakhunt run still going?): push it once that has ended`, ExitCode.usage);
  }
  try {
    if (hasUnprocessedSnapshots(dir)) {
      say(`${dir}: raw snapshots never processed (did leakhunt run end early?): processing them first`);
      const processed = await processRunDirectory(dir);
      for (const note of processed.notes) say(note);
    }
    const rootPid = completedRunMeta(dir, meta).meta.pid;
    const profiles = rootPid === undefined ? [] : profilesOnDisk(dir, rootPid);
    if (profiles.length === 0) throw new LeakhuntError(`${dir}: no profiles to push (the run wrote no snapshots)`, ExitCode.usage);
    const ledger = SentLedger.open(dir, endpoint.key);
    const unsent = profiles.filter((profile) => !ledger.has(profile));
    if (unsent.length === 0) {
      say(`push: all ${profiles.length} profiles of ${dir} were sent to ${endpoint.display} before: nothing to send`);
      return ExitCode.ok;
    }
    const transport = new HttpTransport();
    let summary: PushSummary;
    try {
      summary = await pushProfiles(unsent, {
        endpoint, labels, ledger, transport: transport.send, runDir: dir, onLine: (line) => say(`push: ${line}`),
      }, { maxWaitMs: Number.POSITIVE_INFINITY, stallMs: options.retryForMs });
    } finally {
      transport.close();
    }
    recordInReport(dir, summary, profiles.length, profiles.filter((profile) => ledger.has(profile)).length);
    const before = profiles.length - unsent.length;
    const line = `${pushSummaryLine(summary, dir)}${before > 0 ? `; ${before} had been sent before` : ''}`;
    if (summary.left > 0) throw new LeakhuntError(line, ExitCode.pushIncomplete);
    say(line);
    return ExitCode.ok;
  } finally {
    release();
  }
}

/**
 * report.json's `push`: where the run's profiles stand with this endpoint now (when the run has a report.json), and
 * report.html redrawn from it, so the page a user opens says the same as `leakhunt report`.
 */
function recordInReport(dir: string, summary: PushSummary, total: number, pushed: number): void {
  const path = runPath(dir, 'report');
  if (!existsSync(path)) return;
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return; // report.json is the analysis' file: a damaged one is `leakhunt report`'s to say, not ours
  }
  report['push'] = { ...summary, pushed, left: total - pushed };
  writeJsonAtomic(path, report);
  try {
    writeHtmlReport(dir, report as unknown as RunReport);
  } catch (error) {
    say(`report.html not redrawn: ${(error as Error).message} (leakhunt report ${dir} --format html --write redraws it)`);
  }
}

export function register(program: Command): void {
  program.command('push')
    .description('send a run\'s live-heap profiles to Pyroscope or Parca (those not sent before: pushing twice sends nothing twice)')
    .argument('<dir>', 'a run directory (leakhunt run --out), finished or interrupted')
    .argument('<url>', 'the server, e.g. http://pyroscope:4040 (Pyroscope) or http://parca:7070 with --push-to parca')
    .option('--push-to <backend>', 'pyroscope or parca (default: what the run pushed to, else pyroscope)')
    .option('--push-header <header>', '"Name: value" sent with every request (repeatable; never printed or stored)', collect)
    .option('--service <name>', 'the service_name label (default: the run\'s, else the command\'s name)')
    .option('--label <name=value>', 'another label (repeatable; default: the run\'s)', collect)
    .addOption(new Option('--retry-for <duration>', 'give up when the server has failed for this long without taking a profile').default('30s'))
    .addHelpText('after', `
Labels are those the run pushed with (DIR/push/settings.json), else service_name from the command, host (this
machine), pid and run (the directory's name). What a server accepted is recorded in DIR/push/sent.jsonl.

Exit codes:
  0     every profile is now with the server (or was before)
  2     bad usage or unreadable input (not a run directory, a bad URL, header or label)
  6     some profiles could not be sent: they stay in DIR; run leakhunt push again

Example:
  leakhunt push ./leakhunt-20250101-120000 http://pyroscope:4040 --push-header "X-Scope-OrgID: team-a"`)
    .action(async (dir: string, url: string, opts: { pushTo?: string; pushHeader?: string[]; service?: string; label?: string[]; retryFor: string }) => {
      process.exitCode = await pushCommand(dir, url, {
        ...(opts.pushTo === undefined ? {} : { backend: opts.pushTo }), headers: opts.pushHeader ?? [],
        ...(opts.service === undefined ? {} : { service: opts.service }), labels: opts.label ?? [],
        retryForMs: parseDurationMs(opts.retryFor, '--retry-for'),
      });
    });
}
