/**
 * The pusher's queue, retries and bookkeeping, against a scripted transport: backoff, what stops it and what only
 * costs one profile, the bound on the queue, finish()'s limits, and the ledger that makes a second push harmless.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseEndpoint } from '../../src/push/endpoint.js';
import { NetworkError, type Transport } from '../../src/push/http.js';
import type { RunLabels } from '../../src/push/labels.js';
import { backoffDelayMs, ProfilePusher, pushProfiles, type PusherOptions } from '../../src/push/pusher.js';
import type { HttpAnswer, HttpRequest } from '../../src/push/requests.js';
import type { WrittenProfile } from '../../src/rundir/profiles.js';
import { acquirePushLock, PushLockedError, SentLedger } from '../../src/rundir/push.js';
import { heapProfileGz } from './helpers/heap-profiles.js';

let root = '';
before(() => { root = mkdtempSync(join(tmpdir(), 'leakhunt-push-')); });
after(() => rmSync(root, { recursive: true, force: true }));

let runs = 0;
/** A run directory with `count` profiles of pid 100. */
function runWith(count: number): { dir: string; profiles: WrittenProfile[] } {
  const dir = join(root, `run${runs++}`);
  const profiles = Array.from({ length: count }, (_, i) => {
    const path = join(dir, `${String(i).padStart(4, '0')}.pb.gz`);
    return { pid: 100, sequence: i, path };
  });
  mkdirSync(dir, { recursive: true });
  const start = BigInt(Date.now()) * 1_000_000n;
  for (const p of profiles) writeFileSync(p.path, heapProfileGz({ sequence: p.sequence, timeNanos: start + BigInt(p.sequence) * 1_000_000_000n }));
  return { dir, profiles };
}


const labels: RunLabels = { service: 'svc', host: 'h', run: 'r', extra: [] };
const secret = 'Bearer s3cr3t-token-123';
const endpoint = parseEndpoint('http://127.0.0.1:1', 'pyroscope', [`Authorization: ${secret}`]);
const ok: HttpAnswer = { status: 200, contentType: '', body: '' };

/** A transport that answers from `script` (an answer, or a NetworkError to throw), then 200s; it records each request. */
function scripted(script: (HttpAnswer | NetworkError)[], delayMs = 0): { send: Transport; sent: HttpRequest[]; attempts: () => number } {
  const sent: HttpRequest[] = [];
  let attempts = 0;
  return {
    sent,
    attempts: () => attempts,
    send: async (request) => {
      attempts++;
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const next = script.shift() ?? ok;
      if (next instanceof NetworkError) throw next;
      if (next.status === 200) sent.push(request);
      return next;
    },
  };
}

function options(dir: string, transport: Transport, lines: string[], extra: Partial<PusherOptions> = {}): PusherOptions {
  return {
    endpoint, labels, ledger: SentLedger.open(dir, endpoint.key), transport, onLine: (line) => lines.push(line), runDir: dir,
    backoff: { initialMs: 1, maxMs: 4 }, random: () => 0.5, ...extra,
  };
}

const pidSequence = (request: HttpRequest) => new URL(request.url).searchParams.get('name')!.match(/pid=(\d+)/)![1];

describe('pusher', () => {
  test('backoff doubles from 0.5 s to 30 s, jittered to [½, 1] of it', () => {
    const policy = { initialMs: 500, maxMs: 30_000 };
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffDelayMs(n, policy, () => 1)), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    assert.deepEqual([1, 2, 7].map((n) => backoffDelayMs(n, policy, () => 0)), [250, 500, 15000]);
  });

  test('sends every profile once, oldest first, and records each; a second push sends nothing', async () => {
    const { dir, profiles } = runWith(5);
    const transport = scripted([]);
    const lines: string[] = [];
    const summary = await pushProfiles(profiles, options(dir, transport.send, lines), { maxWaitMs: 10_000 });
    assert.deepEqual({ pushed: summary.pushed, left: summary.left, retried: summary.retried }, { pushed: 5, left: 0, retried: 0 });
    assert.equal(transport.sent.length, 5);
    assert.deepEqual(lines, []);
    const times = transport.sent.map((r) => Number(new URL(r.url).searchParams.get('until')));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'oldest first');
    assert.ok(transport.sent.every((r) => pidSequence(r) === '100'));
    assert.equal(readFileSync(join(dir, 'push', 'sent.jsonl'), 'utf8').trim().split('\n').length, 5);

    const again = scripted([]);
    const second = await pushProfiles(profiles, options(dir, again.send, lines), { maxWaitMs: 10_000 });
    assert.equal(again.attempts(), 0, 'nothing sent twice');
    assert.deepEqual({ pushed: second.pushed, left: second.left }, { pushed: 0, left: 0 });
    // Another destination has its own record.
    const elsewhere = parseEndpoint('http://127.0.0.1:1', 'parca');
    assert.equal(SentLedger.open(dir, elsewhere.key).size, 0);
  });

  test('a backend that is down: one line, retried with backoff, nothing lost', async () => {
    const { dir, profiles } = runWith(3);
    const refused = () => new NetworkError('connection refused (ECONNREFUSED)');
    const transport = scripted([refused(), refused(), refused(), { status: 503, contentType: '', body: '' }]);
    const lines: string[] = [];
    const summary = await pushProfiles(profiles, options(dir, transport.send, lines), { maxWaitMs: 10_000 });
    assert.deepEqual({ pushed: summary.pushed, left: summary.left, retried: summary.retried }, { pushed: 3, left: 0, retried: 1 });
    assert.equal(transport.attempts(), 7);
    assert.equal(lines.length, 2, `one line per kind of failure: ${lines.join(' | ')}`);
    assert.match(lines[0]!, /connection refused \(ECONNREFUSED\); trying again in the background/);
    assert.match(lines[1]!, /answered 503/);
  });

  test('401 stops the pushing: one line, everything left, the token never shown', async () => {
    const { dir, profiles } = runWith(4);
    const transport = scripted([{ status: 401, contentType: 'application/json', body: `{"message":"bad token ${secret}"}` }]);
    const lines: string[] = [];
    const summary = await pushProfiles(profiles, options(dir, transport.send, lines), { maxWaitMs: 10_000 });
    assert.equal(transport.attempts(), 1);
    assert.deepEqual({ pushed: summary.pushed, left: summary.left }, { pushed: 0, left: 4 });
    assert.match(summary.stopped ?? '', /answered 401/);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /answered 401: bad token …: nothing more is pushed/);
    assert.doesNotMatch(lines.join('\n'), /s3cr3t/);
    assert.doesNotMatch(summary.stopped ?? '', /s3cr3t/, 'nor in what report.json keeps');
  });

  test('a refused profile costs itself; five refusals in a row stop', async () => {
    const { dir, profiles } = runWith(4);
    const tooOld = { status: 422, contentType: 'application/json', body: '{"message":"profile too old"}' };
    const lines: string[] = [];
    const one = await pushProfiles(profiles, options(dir, scripted([ok, tooOld]).send, lines), { maxWaitMs: 10_000 });
    assert.deepEqual({ pushed: one.pushed, left: one.left, rejected: one.rejected, stopped: one.stopped }, { pushed: 3, left: 1, rejected: 1, stopped: undefined });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /refused snapshot 1 of pid 100: answered 422: profile too old/);

    const { dir: dir2, profiles: many } = runWith(8);
    const all = await pushProfiles(many, options(dir2, scripted(Array.from({ length: 8 }, () => tooOld)).send, []), { maxWaitMs: 10_000 });
    assert.deepEqual({ pushed: all.pushed, left: all.left, rejected: all.rejected }, { pushed: 0, left: 8, rejected: 5 });
    assert.match(all.stopped ?? '', /refused 5 profiles in a row/);
  });

  test('a server that keeps failing one profile: left after 6 attempts, the next ones sent', async () => {
    const { dir, profiles } = runWith(3);
    const broken = { status: 500, contentType: 'application/json', body: '{"message":"panic"}' };
    const transport = scripted(Array.from({ length: 6 }, () => broken));
    const summary = await pushProfiles(profiles, options(dir, transport.send, []), { maxWaitMs: 10_000 });
    assert.deepEqual({ pushed: summary.pushed, left: summary.left, retried: summary.retried }, { pushed: 2, left: 1, retried: 1 });
    assert.equal(transport.attempts(), 8);
  });

  test('finish() waits at most maxWaitMs, but lets the request in flight be answered', async () => {
    const { dir, profiles } = runWith(4);
    const slow = scripted([], 300);
    const pusher = new ProfilePusher(options(dir, slow.send, []));
    for (const p of profiles) pusher.offer(p);
    const summary = await pusher.finish({ maxWaitMs: 50 });
    assert.equal(slow.attempts(), 1, 'one request was in flight');
    assert.deepEqual({ pushed: summary.pushed, left: summary.left }, { pushed: 1, left: 3 });
  });

  test('finish() gives up on a backend that fails for stallMs', async () => {
    const { dir, profiles } = runWith(2);
    const down: Transport = async () => { throw new NetworkError('connection refused (ECONNREFUSED)'); };
    const summary = await pushProfiles(profiles, options(dir, down, []), { maxWaitMs: Number.POSITIVE_INFINITY, stallMs: 200 });
    assert.deepEqual({ pushed: summary.pushed, left: summary.left }, { pushed: 0, left: 2 });
  });

  test('the queue is bounded: the oldest references go, their files stay (left)', async () => {
    const { dir, profiles } = runWith(6);
    const slow = scripted([], 100);
    const pusher = new ProfilePusher(options(dir, slow.send, [], { maxQueued: 3 }));
    for (const p of profiles) pusher.offer(p);
    const summary = await pusher.finish({ maxWaitMs: 10_000 });
    assert.equal(summary.pushed, 3);
    assert.equal(summary.left, 3);
    assert.equal(slow.sent.length, 3);
  });

  test('profiles retention deleted are not sent (forget(), or gone from disk)', async () => {
    const { dir, profiles } = runWith(4);
    const slow = scripted([], 50);
    const pusher = new ProfilePusher(options(dir, slow.send, []));
    for (const p of profiles) pusher.offer(p);
    pusher.forget(profiles[2]!);
    unlinkSync(profiles[3]!.path);
    const summary = await pusher.finish({ maxWaitMs: 10_000 });
    assert.deepEqual({ pushed: summary.pushed, left: summary.left, thinned: summary.thinned }, { pushed: 2, left: 0, thinned: 2 });
  });

  test('a file that is no profile is left with one line, the rest sent', async () => {
    const { dir, profiles } = runWith(2);
    writeFileSync(profiles[0]!.path, 'garbage');
    const lines: string[] = [];
    const summary = await pushProfiles(profiles, options(dir, scripted([]).send, lines), { maxWaitMs: 10_000 });
    assert.deepEqual({ pushed: summary.pushed, left: summary.left }, { pushed: 1, left: 1 });
    assert.match(lines[0]!, /not sent: not a readable profile/);
  });
});

describe('ledger and lock', () => {
  test('a torn last line (a crash while appending) is ignored', () => {
    const { dir } = runWith(0);
    const ledger = SentLedger.open(dir, 'dest');
    ledger.record({ pid: 1, sequence: 1 });
    ledger.record({ pid: 1, sequence: 1 });
    writeFileSync(join(dir, 'push', 'sent.jsonl'), `${readFileSync(join(dir, 'push', 'sent.jsonl'), 'utf8')}{"to":"dest","pid":1,"seq`);
    const reopened = SentLedger.open(dir, 'dest');
    assert.equal(reopened.size, 1);
    assert.ok(reopened.has({ pid: 1, sequence: 1 }));
    assert.ok(!reopened.has({ pid: 1, sequence: 2 }));
  });

  test('one pusher at a time: a live holder refuses, a dead one is taken over', () => {
    const { dir } = runWith(0);
    const release = acquirePushLock(dir);
    release();
    writeFileSync(join(dir, 'push', 'lock'), `${process.ppid}\n`);
    assert.throws(() => acquirePushLock(dir), (error: unknown) => error instanceof PushLockedError && error.pid === process.ppid);
    writeFileSync(join(dir, 'push', 'lock'), '999999999\n');
    const again = acquirePushLock(dir);
    assert.equal(readFileSync(join(dir, 'push', 'lock'), 'utf8').trim(), String(process.pid));
    again();
  });
});
