/**
 * `leakhunt run --push` on a real native program under the real shim, into a local receiver that takes requests
 * as Pyroscope's /ingest and Parca's WriteRaw do: each snapshot's live heap arrives once, labelled, as a gauge,
 * while the run goes on; a second push sends nothing; the headers are sent and never shown or kept.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProfileReceiver } from '../support/profile-receiver.js';
import { assertEachExactlyOnce, assertNowhere, inuseOf, leakyApis, linesMatching, profilesOfRun, type PushReport } from '../support/push-e2e.js';
import { fixtureBuild, readJson, runCli, tempDir } from './helpers.js';

const rounds = 16;
const token = 'Bearer e2e-s3cr3t-token-9d8f';

for (const backend of ['pyroscope', 'parca'] as const) {
  describe(`leakhunt run --push to ${backend}`, () => {
    const dir = tempDir();
    const out = join(dir.path, `run-${backend}`);
    const receiver = new ProfileReceiver({ requireHeaders: { 'X-Scope-OrgID': 'team-a', Authorization: token } });
    const headers = ['--push-header', 'X-Scope-OrgID: team-a', '--push-header', `Authorization: ${token}`];
    let result: Awaited<ReturnType<typeof runCli>>;
    let report: PushReport;
    let endedAtMs = 0;

    before(async () => {
      await receiver.start();
      result = await runCli(['run', '--out', out, '--interval', '300ms', '--sample-bytes', '1', '--push', receiver.baseUrl, '--push-to', backend,
        ...headers, '--service', 'orders-api', '--label', 'env=e2e', '--', ...leakyApis(fixtureBuild, rounds, 150)]);
      report = readJson<PushReport>(join(out, 'report.json'));
      endedAtMs = readJson<{ endedAtMs: number }>(join(out, 'run.json')).endedAtMs;
    });
    after(async () => {
      await receiver.stop();
      dir.cleanup();
    });

    it('runs as without --push: the command\'s exit status, its report', () => {
      assert.equal(result.exitCode, 7, result.all);
      assert.match(result.stdout, /leak_via_malloc/);
    });

    it('every profile of the run arrives once, as a gauge of the live heap', () => {
      assertEachExactlyOnce(receiver, out, report.pid);
      for (const received of receiver.received) {
        assert.equal(received.backend, backend);
        assert.equal(received.name, 'memory');
        assert.deepEqual(received.sampleTypes, ['inuse_objects/count', 'inuse_space/bytes']);
        assert.equal(received.durationNanos, 0n);
      }
      // The leak grows from profile to profile, to all of it at the end.
      const leaked = [...receiver.received].sort((a, b) => (a.timeNanos < b.timeNanos ? -1 : 1)).map((r) => inuseOf(r, 'leak_via_malloc'));
      assert.deepEqual(leaked, [...leaked].sort((a, b) => a - b), `non-decreasing: ${leaked.join(' ')}`);
      assert.equal(leaked[leaked.length - 1], 10007 * rounds);
    });

    it('profiles are pushed while the run goes on (how many before the target ended: a diagnostic; cli-push-outage shows it without a clock)', (t) => {
      const early = receiver.received.filter((r) => r.receivedAtMs < endedAtMs);
      t.diagnostic(`${early.length} of ${receiver.received.length} profiles arrived before the target ended`);
    });

    it('with the labels: service_name, host, pid, run and --label', () => {
      for (const received of receiver.received) {
        assert.deepEqual(received.labels, {
          service_name: 'orders-api', host: hostname(), pid: String(report.pid), run: basename(out), env: 'e2e',
        });
        assert.equal(received.headers['x-scope-orgid'], 'team-a');
        assert.equal(received.headers['authorization'], token);
      }
    });

    it('the report says what was pushed, retried and left', () => {
      const total = profilesOfRun(out, report.pid).size;
      assert.deepEqual(
        { backend: report.push?.backend, pushed: report.push?.pushed, left: report.push?.left, retried: report.push?.retried },
        { backend, pushed: total, left: 0, retried: 0 },
      );
      assert.equal(linesMatching(result.stderr, new RegExp(`^leakhunt: push: ${total} profiles sent to ${receiver.baseUrl}/`)).length, 1, result.stderr);
    });

    it('leakhunt push of the same run sends nothing twice', async () => {
      const count = receiver.requests.length;
      const again = await runCli(['push', out, receiver.baseUrl, ...headers]);
      assert.equal(again.exitCode, 0, again.all);
      assert.match(again.stderr, /all \d+ profiles of .* were sent to .* before: nothing to send/);
      assert.equal(receiver.requests.length, count, 'no request at all');
    });

    it('the text, Markdown and HTML reports say what was pushed, retried and left', async () => {
      const total = profilesOfRun(out, report.pid).size;
      const summary = new RegExp(`${total} of ${total} profiles pushed to ${backend} at ${receiver.baseUrl}/\\S+, 0 retried, 0 left`);
      assert.match(result.stdout, summary, 'the run\'s own text report');
      assert.match(readFileSync(join(out, 'report.html'), 'utf8'), summary, 'the run\'s report.html');
      for (const format of ['text', 'md', 'html']) {
        const reported = await runCli(['report', out, '--format', format]);
        assert.equal(reported.exitCode, 0, reported.all);
        assert.match(reported.stdout, summary, `leakhunt report --format ${format}`);
      }
    });

    it('leakhunt report --write keeps what was pushed in report.json', async () => {
      const written = await runCli(['report', out, '--write', '--min-confidence', '0.5']);
      assert.equal(written.exitCode, 0, written.all);
      assert.deepEqual(readJson<PushReport>(join(out, 'report.json')).push, report.push);
    });

    it('leakhunt report reads the run directory as before', async () => {
      const reported = await runCli(['report', out, '--json']);
      assert.equal(reported.exitCode, 0, reported.all);
      assert.ok((JSON.parse(reported.stdout) as { sites: { function: string }[] }).sites.some((s) => s.function === 'leak_via_malloc'));
    });

    it('the headers are never printed nor kept in the run directory', () => {
      assertNowhere('e2e-s3cr3t-token-9d8f', [result.stdout, result.stderr], out);
      assertNowhere('team-a', [result.stdout, result.stderr], out);
    });
  });
}
