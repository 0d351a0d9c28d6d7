/**
 * Pushing a run while it is recorded — what `leakhunt run --push` (and `leakhunt attach --push`) hooks in:
 *
 *   const push = startRunPush({ runDir, …, push: options, note });   // before the target starts; never throws
 *   push?.started(pid);                                               // the target is running: profiles as it goes
 *   await push?.targetEnded();                                        // the last snapshots made into profiles
 *   …the run is processed (every profile written again)…
 *   const summary = await push?.finish(pid);                          // the rest offered, queue drained (bounded)
 *
 * A bad --push URL, header or label is one line and no push: the run itself goes on, and its profiles can be sent
 * later with `leakhunt push DIR URL`. Nothing here can fail the run.
 */
import { LeakhuntError } from '../core/errors.js';
import { parseDurationMs } from '../core/units.js';
import { acquirePushLock, profilesOnDisk, PushLockedError, SentLedger, writePushSettings } from '../rundir/index.js';
import { EndpointError, parseBackend, parseEndpoint, type PushEndpoint } from './endpoint.js';
import { HttpTransport } from './http.js';
import { LabelError, runLabels, type RunLabels } from './labels.js';
import { LiveProfiles } from './live.js';
import { ProfilePusher, type PushSummary } from './pusher.js';

/** The push options as given on the command line. */
export interface RunPushOptions {
  url: string;
  /** --push-to: pyroscope (default) or parca. */
  backend?: string;
  /** --push-header "Name: value", repeatable. */
  headers?: string[];
  /** --service: the service_name label (default: from the command). */
  service?: string;
  /** --label k=v, repeatable. */
  labels?: string[];
  /** --push-wait: after the run, how long the profiles still queued may take to go (default 10s). */
  wait?: string;
}

export const DEFAULT_PUSH_WAIT_MS = 10_000;

export interface RunPush {
  readonly endpoint: PushEndpoint;
  started(pid: number): void;
  targetEnded(): Promise<void>;
  finish(rootPid: number): Promise<PushSummary>;
}

/** The endpoint and labels of --push and its companions; an EndpointError or LabelError with one line when bad. */
export function resolvePushTarget(options: RunPushOptions, run: { command: readonly string[]; runDir: string }): { endpoint: PushEndpoint; labels: RunLabels } {
  const backend = parseBackend(options.backend ?? 'pyroscope');
  const endpoint = parseEndpoint(options.url, backend, options.headers ?? []);
  const labels = runLabels({ ...(options.service === undefined ? {} : { service: options.service }), labels: options.labels ?? [], command: run.command, runDir: run.runDir });
  return { endpoint, labels };
}

export function startRunPush(options: {
  runDir: string; rawDir: string; command: readonly string[]; followChildren: boolean; snapshotIntervalMs: number;
  push: RunPushOptions; note: (line: string) => void;
}): RunPush | undefined {
  const { runDir, note } = options;
  let target: { endpoint: PushEndpoint; labels: RunLabels };
  let waitMs: number;
  let release: () => void;
  try {
    target = resolvePushTarget(options.push, options);
    waitMs = options.push.wait === undefined ? DEFAULT_PUSH_WAIT_MS : parseDurationMs(options.push.wait, '--push-wait');
    release = acquirePushLock(runDir);
    writePushSettings(runDir, { backend: target.endpoint.backend, endpoint: target.endpoint.display, labels: target.labels });
  } catch (error) {
    // Ours (a bad URL, header, label or duration) or the file system's: either way the run goes on without pushing.
    const known = error instanceof EndpointError || error instanceof LabelError || error instanceof PushLockedError || error instanceof LeakhuntError;
    const why = known ? (error as Error).message : `cannot prepare ${runDir}/push: ${(error as Error).message}`;
    note(`--push: ${why}: nothing is pushed this run (its profiles stay in ${runDir}: send them later with leakhunt push ${runDir} <url>)`);
    return undefined;
  }
  const { endpoint, labels } = target;
  const transport = new HttpTransport();
  const pusher = new ProfilePusher({
    endpoint, labels, ledger: SentLedger.open(runDir, endpoint.key), transport: transport.send, onLine: (line) => note(`push: ${line}`), runDir,
  });
  const live = new LiveProfiles({
    runDir, rawDir: options.rawDir, followChildren: options.followChildren,
    pollMs: Math.min(1000, Math.max(100, Math.round(options.snapshotIntervalMs / 4))),
    onProfile: (profile) => pusher.offer(profile),
    onThinned: (key) => pusher.forget(key),
    onWarning: (line) => note(`push: ${line}`),
  });
  return {
    endpoint,
    started: (pid) => live.start(pid),
    targetEnded: () => live.stop(),
    finish: async (rootPid) => {
      try {
        // Whatever the live profiles did not cover (a failure, a process they did not see): the processed run's files.
        for (const profile of profilesOnDisk(runDir, rootPid)) pusher.offer(profile);
        return await pusher.finish({ maxWaitMs: waitMs });
      } finally {
        transport.close();
        release();
      }
    },
  };
}

/** The line that ends a push: what was sent, retried and left, and how to send the rest. */
export function pushSummaryLine(summary: PushSummary, runDir: string): string {
  const total = summary.pushed + summary.left;
  const sent = summary.left === 0 ? `${summary.pushed} profile${summary.pushed === 1 ? '' : 's'}` : `${summary.pushed} of ${total} profiles`;
  const parts = [`push: ${sent} sent to ${summary.endpoint}`];
  if (summary.retried > 0) parts[0] += ` (${summary.retried} retried)`;
  if (summary.thinned > 0) parts.push(`${summary.thinned} deleted by retention before they could be sent`);
  if (summary.left > 0) {
    const to = summary.backend === 'pyroscope' ? '' : ` --push-to ${summary.backend}`;
    parts.push(`${summary.left} left in ${runDir}${summary.rejected > 0 ? ` (${summary.rejected} refused)` : ''}: leakhunt push ${runDir} ${summary.endpoint}${to}`);
  }
  return parts.join('; ');
}
