/**
 * What goes wrong with a push is one line each, and never the run's business: a bad URL or label, a refused
 * connection, a 401 or a 404 leave the run as it would be without --push (the command's own exit status, its
 * report) and its profiles in the run directory for `leakhunt push`, whose own errors are one line and its exit
 * codes (2 bad input, 6 some profiles not sent).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProfileReceiver } from '../support/profile-receiver.js';
import { assertEachExactlyOnce, assertNowhere, leakyApis, linesMatching, profilesOfRun, type PushReport } from '../support/push-e2e.js';
import { assertOneLineError, fixtureBuild, readJson, runCli, tempDir } from './helpers.js';

/** stderr without the lines every run prints (where it records, where its files are). */
const notes = (stderr: string) => stderr.split('\n').filter((l) => l !== '' && !/recording into|are in /.test(l));

describe('leakhunt run --push: problems are lines, the run goes on', () => {
  const dir = tempDir();
  const receiver = new ProfileReceiver({ requireHeaders: { Authorization: 'Bearer right-token' } });
  let closedUrl = '';
  before(async () => {
    const closed = new ProfileReceiver();
    await closed.start();
    await closed.stop();
    closedUrl = closed.baseUrl;
    await receiver.start();
  });
  after(async () => {
    await receiver.stop();
    dir.cleanup();
  });

  const run = (name: string, push: string[]) => runCli(['run', '--out', join(dir.path, name), '--interval', '200ms', '--sample-bytes', '1', ...push, '--',
    ...leakyApis(fixtureBuild, 8, 100)]);

  for (const [name, push, pattern] of [
    ['bad-url', ['--push', 'pyroscope:4040'], /^leakhunt: --push: "pyroscope:4040": only http:\/\/ and https:\/\/ URLs are supported: nothing is pushed this run \(its profiles stay in .*: send them later with leakhunt push .* <url>\)$/],
    ['bad-backend', ['--push', 'http://127.0.0.1:9', '--push-to', 'datadog'], /^leakhunt: --push: --push-to "datadog": expected pyroscope or parca: nothing is pushed this run/],
    ['bad-label', ['--push', 'http://127.0.0.1:9', '--label', 'team name=x'], /^leakhunt: --push: --label "team name" is not a label name/],
    ['bad-header', ['--push', 'http://127.0.0.1:9', '--push-header', 'Authorization Bearer hidden-value-1'], /^leakhunt: --push: --push-header: expected "Name: value" \(the value is not shown\)/],
  ] as const) {
    it(`${name}: one line, no push, the run as without --push`, async () => {
      const result = await run(name, [...push]);
      assert.equal(result.exitCode, 7, result.all);
      assert.deepEqual(notes(result.stderr).length, 1, result.stderr);
      assert.match(notes(result.stderr)[0]!, pattern);
      assert.doesNotMatch(result.all ?? '', /hidden-value-1|\bat .*\.js:\d+/);
      const report = readJson<PushReport>(join(dir.path, name, 'report.json'));
      assert.equal(report.push, undefined);
      assert.match(result.stdout, /leak_via_malloc/);
    });
  }

  it('a refused connection: one line, then what is left and how to send it; leakhunt push sends it later', async () => {
    const out = join(dir.path, 'refused');
    const result = await run('refused', ['--push', closedUrl, '--push-wait', '1s']);
    assert.equal(result.exitCode, 7, result.all);
    const lines = notes(result.stderr);
    assert.equal(lines.length, 2, result.stderr);
    assert.match(lines[0]!, /^leakhunt: push: http:\/\/127\.0\.0\.1:\d+\/ingest: connection refused \(ECONNREFUSED\); trying again in the background/);
    const report = readJson<PushReport>(join(out, 'report.json'));
    const total = profilesOfRun(out, report.pid).size;
    assert.deepEqual({ pushed: report.push?.pushed, left: report.push?.left }, { pushed: 0, left: total });
    assert.match(lines[1]!, new RegExp(`^leakhunt: push: 0 of ${total} profiles sent to .*; ${total} left in ${out}: leakhunt push ${out} ${closedUrl}/ingest$`));

    // Still down: leakhunt push gives up after --retry-for, exit 6, the profiles kept.
    const down = await runCli(['push', out, closedUrl, '--retry-for', '1s']);
    assert.equal(down.exitCode, 6, down.all);
    assert.match(down.stderr.trim().split('\n').pop()!, new RegExp(`^leakhunt: push: 0 of ${total} profiles sent .*; ${total} left`));
    assert.equal(profilesOfRun(out, report.pid).size, total);

    // Up: leakhunt push (to the base URL or to the endpoint the line names) sends them, once.
    const sent = await runCli(['push', out, `${receiver.baseUrl}/ingest`, '--push-header', 'Authorization: Bearer right-token']);
    assert.equal(sent.exitCode, 0, sent.all);
    assertEachExactlyOnce(receiver, out, report.pid);
    receiver.received.length = 0;
  });

  it('401: one line, the pushing stops, the token it was given never shown', async () => {
    const out = join(dir.path, 'unauthorized');
    const result = await run('unauthorized', ['--push', receiver.baseUrl, '--push-header', 'Authorization: Bearer wrong-s3cr3t-token']);
    assert.equal(result.exitCode, 7, result.all);
    const lines = notes(result.stderr);
    assert.equal(lines.length, 2, result.stderr);
    assert.match(lines[0]!, /^leakhunt: push: http:\/\/127\.0\.0\.1:\d+\/ingest answered 401: Authorization: wrong value …: nothing more is pushed/);
    assert.match(lines[1]!, /^leakhunt: push: 0 of \d+ profiles sent to .*; \d+ left in /);
    assert.equal(receiver.requests.filter((r) => r.status === 401).length, 1, 'one attempt, then no more');
    assertNowhere('wrong-s3cr3t-token', [result.stdout, result.stderr], out);
    receiver.requests.length = 0;
  });

  it('404 (no such endpoint at that URL): one line, the pushing stops', async () => {
    const result = await run('not-found', ['--push', `${receiver.baseUrl}/no-such-prefix`, '--push-header', 'Authorization: Bearer right-token']);
    assert.equal(result.exitCode, 7, result.all);
    const lines = notes(result.stderr);
    assert.equal(lines.length, 2, result.stderr);
    assert.match(lines[0]!, /^leakhunt: push: http:\/\/127\.0\.0\.1:\d+\/no-such-prefix\/ingest answered 404: 404 page not found: nothing more is pushed/);
    assert.equal(linesMatching(result.stderr, /answered 404/).length, 1);
  });
});

describe('leakhunt push: bad input is one line and exit 2', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  before(async () => {
    const result = await runCli(['run', '--out', out, '--interval', '200ms', '--sample-bytes', '1', '--', ...leakyApis(fixtureBuild, 4, 100, 0)]);
    assert.equal(result.exitCode, 0, result.all);
  });
  after(() => dir.cleanup());

  it('a bad URL, backend, header or label', async () => {
    assertOneLineError(await runCli(['push', out, 'not-a-url']), /"not-a-url" is not a URL/);
    assertOneLineError(await runCli(['push', out, 'http://127.0.0.1:9', '--push-to', 'zipkin']), /--push-to "zipkin": expected pyroscope or parca/);
    assertOneLineError(await runCli(['push', out, 'http://127.0.0.1:9', '--push-header', 'Authorization Bearer hidden-value-2']), /--push-header: expected "Name: value"/);
    assertOneLineError(await runCli(['push', out, 'http://127.0.0.1:9', '--label', 'pid=1']), /--label "pid" is set by leakhunt/);
    assertOneLineError(await runCli(['push', out, 'http://127.0.0.1:9', '--retry-for', 'soon']), /bad --retry-for "soon"/);
  });

  it('not a run directory', async () => {
    assertOneLineError(await runCli(['push', join(dir.path, 'nothing-here'), 'http://127.0.0.1:9']), /not a leakhunt run directory/);
    assertOneLineError(await runCli(['push', join(out, 'snapshots'), 'http://127.0.0.1:9']), /inside the run directory/);
  });

  it('a run being pushed by a live leakhunt (its push/lock) is left alone', async () => {
    const { writeFileSync, mkdirSync } = await import('node:fs');
    mkdirSync(join(out, 'push'), { recursive: true });
    writeFileSync(join(out, 'push', 'lock'), `${process.pid}\n`);
    try {
      assertOneLineError(await runCli(['push', out, 'http://127.0.0.1:9']), new RegExp(`leakhunt \\(pid ${process.pid}\\) is pushing this run`));
    } finally {
      writeFileSync(join(out, 'push', 'lock'), '999999999\n');
    }
    assert.ok(existsSync(join(out, 'report.json')));
  });
});
