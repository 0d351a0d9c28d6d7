/**
 * The pusher: profiles are offered as they are written, and sent one at a time, oldest first, beside whatever
 * else runs — offer() never waits, so the run is never held up by a backend that is down or slow.
 *
 * The queue holds references (pid, sequence, file), never profiles: a profile waiting to be sent is the run
 * directory's own file, so the queue costs ~100 bytes an entry and its length is bounded by the run's retention
 * (a profile the run no longer keeps is forgotten, forget()) and by maxQueued besides (the oldest reference is
 * dropped; its file stays for `leakhunt push`).
 *
 * Failures: no answer, or 408/429/5xx, is retried with exponential backoff and jitter (from 0.5 s, doubling, at most
 * 30 s; a Retry-After is obeyed within those bounds), the same profile first; one that the server keeps failing
 * with an error of its own (5xx) is left after 6 attempts. A profile the server refuses (another 4xx) is left and the
 * next one tried. What would refuse every profile (401, 403, 404, 405, 415, 501, a web page; or 5 refusals in a
 * row) stops the pushing. Each kind of failure is told once, on one line; finish() says what was pushed, retried
 * and left. A profile accepted is recorded at once (rundir/push.ts SentLedger), so it is never sent twice.
 */
import { readFile } from 'node:fs/promises';
import type { PushReport } from '../pipeline/index.js';
import type { ProfileKey, SentLedger, WrittenProfile } from '../rundir/index.js';
import type { PushEndpoint } from './endpoint.js';
import { scrub } from './endpoint.js';
import { NetworkError, type Transport } from './http.js';
import { labelsFor, type RunLabels } from './labels.js';
import { ProfileFormError, pushFormOf } from './profile.js';
import { requestFor, verdictOf, type Verdict } from './requests.js';

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };
/** Attempts at one profile the server answers with an error of its own before it is left. */
export const MAX_SERVER_ERROR_ATTEMPTS = 6;
/** Refusals in a row that mean the server refuses everything (e.g. labels it does not take). */
export const MAX_REFUSALS_IN_A_ROW = 5;
export const DEFAULT_MAX_QUEUED = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** The delay before attempt n+1 after n failures in a row: initial·2^(n−1), at most max, jittered to [½, 1] of it. */
export function backoffDelayMs(failures: number, policy: BackoffPolicy, random: () => number): number {
  const full = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(full * (0.5 + 0.5 * random()));
}

export interface PusherOptions {
  endpoint: PushEndpoint;
  labels: RunLabels;
  ledger: SentLedger;
  transport: Transport;
  /** A one-line note (a failure, the first time it happens), scrubbed of every header value. */
  onLine: (line: string) => void;
  /** Where the profiles that are not sent stay, for the notes. */
  runDir: string;
  backoff?: BackoffPolicy;
  requestTimeoutMs?: number;
  maxQueued?: number;
  random?: () => number;
}

/** What was pushed, retried and left: report.json's push (rejected: refused with a 4xx of the server's own). */
export interface PushSummary extends PushReport {
  backend: PushEndpoint['backend'];
}

interface Entry extends WrittenProfile {
  attempts: number;
  serverErrors: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> => new Promise((resolve) => {
  if (signal.aborted) return resolve();
  // Unref'd: a pusher waiting to retry never keeps the CLI alive by itself (finish() does, while it waits).
  const timer = setTimeout(done, ms);
  timer.unref();
  function done() {
    clearTimeout(timer);
    signal.removeEventListener('abort', done);
    resolve();
  }
  signal.addEventListener('abort', done);
});

export class ProfilePusher {
  private readonly queue: Entry[] = [];
  /** The keys in `queue`: a profile is queued once. */
  private readonly queued = new Set<string>();
  private readonly told = new Set<string>();
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private closed = false;
  /** Set by finish(): leave what is still queued once the request in flight (if any) is answered. */
  private givingUp = false;
  private failures = 0;
  private refusalsInARow = 0;
  private wake = new AbortController();
  private readonly loop: Promise<void>;
  private readonly summary: PushSummary;
  private inFlight: Entry | undefined;
  /** References dropped when the queue was full (their files stay): left unless offered again. */
  private readonly dropped = new Set<string>();
  private readonly failedEntries = new Set<string>();
  /** When the current run of failures began (ms), for finish()'s stallMs. */
  private failingSinceMs: number | undefined;

  constructor(private readonly options: PusherOptions) {
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
    this.summary = { backend: options.endpoint.backend, endpoint: options.endpoint.display, pushed: 0, retried: 0, left: 0, rejected: 0, thinned: 0 };
    // The run must never be hurt by pushing: a failure of our own ends the pushing, with a line, and no more.
    this.loop = this.run().catch((error: unknown) => {
      this.stop(`failed: ${(error as Error).message?.split('\n')[0] ?? String(error)}`);
    });
  }

  /** A profile just written; sent unless already sent to this destination. Never waits. */
  offer(profile: WrittenProfile): void {
    if (this.closed) throw new Error('offer() after close()');
    const key = `${profile.pid}:${profile.sequence}`;
    if (this.options.ledger.has(profile) || this.queued.has(key) || this.failedEntries.has(key)) return;
    this.queued.add(key);
    this.dropped.delete(key);
    if (this.queue.length >= (this.options.maxQueued ?? DEFAULT_MAX_QUEUED)) {
      // The oldest waiting reference goes (not the one in flight): its file stays in the run directory.
      const dropAt = this.queue[0] === this.inFlight ? 1 : 0;
      if (this.queue.length > dropAt) {
        const [dropped] = this.queue.splice(dropAt, 1);
        this.queued.delete(`${dropped!.pid}:${dropped!.sequence}`);
        this.dropped.add(`${dropped!.pid}:${dropped!.sequence}`);
      }
    }
    this.queue.push({ ...profile, attempts: 0, serverErrors: 0 });
    if (this.queue.length === 1) this.poke(false);
  }

  /** The run no longer keeps this profile (retention thinned it): not to be sent. */
  forget(key: ProfileKey): void {
    const at = this.queue.findIndex((e) => e.pid === key.pid && e.sequence === key.sequence && e !== this.inFlight);
    if (at >= 0) {
      this.queue.splice(at, 1);
      this.queued.delete(`${key.pid}:${key.sequence}`);
      this.summary.thinned++;
    }
  }

  /** No more offers. */
  close(): void {
    this.closed = true;
    this.poke(false);
  }

  /**
   * Closes, then waits until every profile is sent, or pushing stopped, or `maxWaitMs` passed, or failures went on
   * for `stallMs` without a success; a request in flight is always answered (or times out) first. Whatever is not
   * sent then is left. The waiting starts with an attempt at once, whatever the backoff said.
   */
  async finish(limits: { maxWaitMs: number; stallMs?: number }): Promise<PushSummary> {
    this.close();
    this.poke(true);
    const started = Date.now();
    // Keeps the CLI alive while it waits (the pusher's own timers do not) and ends the wait at the limits.
    const watchdog = setInterval(() => {
      const now = Date.now();
      const stalled = limits.stallMs !== undefined && this.failingSinceMs !== undefined && now - this.failingSinceMs >= limits.stallMs;
      if (now - started >= limits.maxWaitMs || stalled) this.giveUp();
    }, 100);
    try {
      await this.loop;
    } finally {
      clearInterval(watchdog);
    }
    const waiting = this.queue.filter((e) => !this.failedEntries.has(`${e.pid}:${e.sequence}`)).length;
    this.summary.left = waiting + this.dropped.size + this.failedEntries.size;
    return { ...this.summary };
  }

  private giveUp(): void {
    this.givingUp = true;
    this.poke(false);
  }

  /** Wakes the loop: from waiting for work, or (now) from a backoff too. */
  private poke(now: boolean): void {
    if (now) this.failures = 0;
    this.wake.abort();
    this.wake = new AbortController();
  }

  private tell(kind: string, line: string): void {
    if (this.told.has(kind)) return;
    this.told.add(kind);
    this.options.onLine(scrub(line, this.options.endpoint.secrets, 400));
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.summary.stopped !== undefined || this.givingUp) return;
      const entry = this.queue[0];
      if (!entry) {
        if (this.closed) return;
        await sleep(60_000, this.wake.signal);
        continue;
      }
      this.inFlight = entry;
      const outcome = await this.attempt(entry);
      this.inFlight = undefined;
      if (outcome === 'done') {
        this.queue.shift();
        this.queued.delete(`${entry.pid}:${entry.sequence}`);
        continue;
      }
      if (outcome === 'stop') return;
      // Retry the same profile after the backoff (finish() cuts it short).
      this.failures++;
      await sleep(outcome.delayMs, this.wake.signal);
    }
  }

  /** One attempt at the first profile: done (sent, or left for good this time), stop, or retry after a delay. */
  private async attempt(entry: Entry): Promise<'done' | 'stop' | { delayMs: number }> {
    const { endpoint } = this.options;
    let body: Buffer;
    try {
      body = await readFile(entry.path);
    } catch (error) {
      // Deleted by retention since it was offered: the run does not keep it.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') this.summary.thinned++;
      else this.leave(entry, 'unreadable', `${entry.path}: cannot read: ${(error as Error).message}`);
      return 'done';
    }
    let request;
    try {
      const form = await pushFormOf(body);
      request = requestFor(endpoint, labelsFor(this.options.labels, entry.pid), form);
    } catch (error) {
      if (!(error instanceof ProfileFormError)) throw error;
      this.leave(entry, 'unreadable', `${entry.path}: not sent: ${error.message}`);
      return 'done';
    }
    entry.attempts++;
    if (entry.attempts === 2) this.summary.retried++;
    let verdict: Verdict;
    try {
      verdict = verdictOf(await this.options.transport(request, this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS), endpoint.backend);
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      verdict = error.permanent ? { kind: 'stop', why: error.message } : { kind: 'retry', why: error.message };
      if (verdict.kind === 'retry') return this.retryLater(`network ${error.message}`, verdict.why);
    }
    // Whatever the server said goes into lines and report.json: never with a header value in it.
    if (verdict.kind !== 'sent') verdict = { ...verdict, why: scrub(verdict.why, endpoint.secrets, 300) };
    switch (verdict.kind) {
      case 'sent':
        this.options.ledger.record(entry);
        this.summary.pushed++;
        this.failures = 0;
        this.refusalsInARow = 0;
        this.failingSinceMs = undefined;
        return 'done';
      case 'retry':
        if (++entry.serverErrors >= MAX_SERVER_ERROR_ATTEMPTS) {
          this.leave(entry, `gave up ${verdict.why.split(':')[0]!}`, `${endpoint.display} ${verdict.why} ${MAX_SERVER_ERROR_ATTEMPTS} times for snapshot ${entry.sequence} of pid ${entry.pid}: left for leakhunt push`);
          return 'done';
        }
        return this.retryLater(verdict.why.split(':')[0]!, verdict.why, verdict.retryAfterMs);
      case 'rejected':
        this.summary.rejected++;
        this.leave(entry, `refused ${verdict.why.split(':')[0]!}`, `${endpoint.display} refused snapshot ${entry.sequence} of pid ${entry.pid}: ${verdict.why}`);
        if (++this.refusalsInARow >= MAX_REFUSALS_IN_A_ROW) return this.stop(`refused ${MAX_REFUSALS_IN_A_ROW} profiles in a row`);
        return 'done';
      case 'stop':
        return this.stop(verdict.why);
    }
  }

  private retryLater(kind: string, why: string, retryAfterMs?: number): { delayMs: number } {
    this.failingSinceMs ??= Date.now();
    this.tell(kind, `${this.options.endpoint.display}: ${why}; trying again in the background (the profiles stay in ${this.options.runDir})`);
    const backoff = backoffDelayMs(this.failures + 1, this.backoff, this.random);
    const delayMs = retryAfterMs === undefined ? backoff : Math.min(this.backoff.maxMs, Math.max(backoff, retryAfterMs));
    return { delayMs };
  }

  private leave(entry: Entry, kind: string, line: string): void {
    this.failedEntries.add(`${entry.pid}:${entry.sequence}`);
    this.tell(kind, line);
  }

  private stop(why: string): 'stop' {
    this.summary.stopped = why;
    this.tell('stop', `${this.options.endpoint.display} ${why}: nothing more is pushed (the profiles stay in ${this.options.runDir}: send them with leakhunt push)`);
    return 'stop';
  }
}

/**
 * Pushes every profile of `profiles` — a run's profiles as they are written (leakhunt run, attach) or those on disk
 * (leakhunt push) — and returns what was pushed once the stream ends and the queue is done or the limits passed.
 */
export async function pushProfiles(
  profiles: AsyncIterable<WrittenProfile> | Iterable<WrittenProfile>, options: PusherOptions, limits: { maxWaitMs: number; stallMs?: number },
): Promise<PushSummary> {
  const pusher = new ProfilePusher(options);
  for await (const profile of profiles) pusher.offer(profile);
  return pusher.finish(limits);
}
