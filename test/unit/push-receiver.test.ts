/**
 * The test receiver is only a check if it refuses what the real servers refuse: malformed requests get the
 * servers' statuses and error bodies, requests that break leakhunt's contract are flagged, and leakhunt's own
 * requests (the push form of a real profile, through the real HTTP transport) are taken, with their labels intact.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { parseEndpoint } from '../../src/push/endpoint.js';
import { HttpTransport, NetworkError } from '../../src/push/http.js';
import { labelsFor } from '../../src/push/labels.js';
import { pushFormOf } from '../../src/push/profile.js';
import { requestFor } from '../../src/push/requests.js';
import { ProfileReceiver } from '../support/profile-receiver.js';
import { heapProfileGz } from './helpers/heap-profiles.js';

const receiver = new ProfileReceiver();
const transport = new HttpTransport();
before(() => receiver.start());
after(async () => {
  transport.close();
  await receiver.stop();
});

/** A raw HTTP exchange with the receiver. */
function exchange(method: string, path: string, body: Buffer | string = '', headers: Record<string, string> = {}): Promise<{ status: number; body: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: receiver.port, method, path, headers: { 'Content-Length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), contentType: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const labels = labelsFor({ service: 'orders-api', host: 'web-1', run: 'leakhunt-20250101-120000', extra: [['env', 'prod'], ['zone', 'eu=1 {a']] }, 4242);
const query = (name: string, extra = '') => `/ingest?name=${encodeURIComponent(name)}&from=1700000000&until=1700000000&format=pprof&spyName=leakhunt${extra}`;

describe('contract receiver: what leakhunt sends is taken', () => {
  for (const backend of ['pyroscope', 'parca'] as const) {
    test(`${backend}: the push form of a profile, with its labels`, async () => {
      const before = receiver.received.length;
      const form = await pushFormOf(heapProfileGz());
      const endpoint = parseEndpoint(receiver.baseUrl, backend, ['Authorization: Bearer t0ken-abc']);
      const answer = await transport.send(requestFor(endpoint, labels, form), 5000);
      assert.equal(answer.status, 200, answer.body);
      assert.deepEqual(receiver.violations, []);
      const got = receiver.received[before]!;
      assert.equal(got.backend, backend);
      assert.deepEqual(got.labels, Object.fromEntries(labels));
      assert.equal(got.name, 'memory');
      assert.deepEqual(got.sampleTypes, ['inuse_objects/count', 'inuse_space/bytes']);
      assert.equal(got.timeNanos, form.timeNanos);
      assert.equal(got.durationNanos, 0n);
      assert.ok(got.gzipped);
      assert.equal(got.headers['authorization'], 'Bearer t0ken-abc');
    });
  }
});

describe('contract receiver: Pyroscope /ingest refuses as Pyroscope does', () => {
  const body = () => Buffer.alloc(0);

  test('routes: 404 elsewhere, 405 for a method other than POST', async () => {
    assert.equal((await exchange('POST', '/ingestion')).status, 404);
    assert.equal((await exchange('GET', query('app{}'))).status, 405);
    assert.equal((await exchange('PUT', '/pyroscope/ingest')).status, 405);
  });

  test('the name={…} syntax: bad application or label names are 400 with Pyroscope\'s JSON error', async () => {
    for (const name of ['', 'my app{}', 'app{my-label=x}', 'app{=x}', 'app{a=1,b c=2}']) {
      const answer = await exchange('POST', query(name), body(), { 'Content-Type': 'application/octet-stream' });
      assert.equal(answer.status, 400, name);
      assert.equal(JSON.parse(answer.body).code, 'invalid_argument', name);
      assert.match(JSON.parse(answer.body).message, /^name: /, name);
    }
  });

  test('a body that is no pprof is 422; one from before the ingestion window too', async () => {
    const garbage = await exchange('POST', query('app{}'), Buffer.from([0x1f, 0x8b, 1, 2, 3]), { 'Content-Type': 'application/octet-stream' });
    assert.equal(garbage.status, 422);
    const old = await pushFormOf(heapProfileGz({ timeNanos: BigInt(Date.now() - 2 * 3600_000) * 1_000_000n }));
    const seconds = old.timeNanos / 1_000_000_000n;
    const answer = await exchange('POST', `/ingest?name=app%7B%7D&from=${seconds}&until=${seconds}&format=pprof&spyName=leakhunt`, old.gz, { 'Content-Type': 'application/octet-stream' });
    assert.equal(answer.status, 422);
    assert.match(answer.body, /ingestion window/);
  });

  test('what leakhunt must not send is flagged: alloc_* columns, a duration, another format, times outside from..until', async () => {
    const violations = receiver.violations.length;
    const onDisk = heapProfileGz();
    const now = BigInt(Date.now()) / 1000n;
    const cases: [string, Buffer][] = [
      [`/ingest?name=app%7B%7D&from=${now}&until=${now}&format=pprof&spyName=leakhunt`, onDisk],
      [query('app{}').replace('format=pprof', 'format=jfr'), (await pushFormOf(onDisk)).gz],
      [query('app{}').replace('&from=1700000000', ''), (await pushFormOf(onDisk)).gz],
      [query('app{}'), (await pushFormOf(onDisk)).gz],
    ];
    for (const [path, payload] of cases) {
      const answer = await exchange('POST', path, payload, { 'Content-Type': 'application/octet-stream' });
      assert.equal(answer.status, 422, path);
    }
    assert.equal(receiver.violations.length, violations + cases.length);
    receiver.violations.splice(violations);
  });

  test('a tenant required: no X-Scope-OrgID is 401 "no org id"', async () => {
    receiver.options = { requireHeaders: { 'X-Scope-OrgID': 'team-a' } };
    try {
      const answer = await exchange('POST', query('app{}'), Buffer.alloc(0), { 'Content-Type': 'application/octet-stream' });
      assert.equal(answer.status, 401);
      assert.equal(answer.body.trim(), 'no org id');
    } finally {
      receiver.options = {};
    }
  });
});

describe('contract receiver: Parca WriteRaw refuses as grpc-gateway and Parca do', () => {
  const path = '/api/profiles/writeraw';
  const json = { 'Content-Type': 'application/json' };
  const write = (series: unknown) => JSON.stringify({ series });
  const raw = async () => (await pushFormOf(heapProfileGz())).gz.toString('base64');

  test('routes: 404 code 5 elsewhere under /api, 501 code 12 for a method other than POST', async () => {
    const notFound = await exchange('POST', '/api/profiles/write-raw', '{}', json);
    assert.deepEqual([notFound.status, JSON.parse(notFound.body).code], [404, 5]);
    const method = await exchange('GET', path);
    assert.deepEqual([method.status, JSON.parse(method.body).code, JSON.parse(method.body).message], [501, 12, 'Method Not Allowed']);
  });

  test('bad requests are 400 code 3 (InvalidArgument)', async () => {
    const profile = await raw();
    const cases = [
      'not json',
      JSON.stringify({ series: {} }),
      write([{ labels: { labels: [{ name: 'job', value: 'x' }] }, samples: [{ rawProfile: profile }] }]),
      write([{ labels: { labels: [{ name: '__name__', value: 'memory' }, { name: 'a', value: '1' }, { name: 'a', value: '2' }] }, samples: [] }]),
      write([{ labels: { labels: [{ name: '__name__', value: 'memory' }] }, samples: [{ rawProfile: '***' }] }]),
      write([{ labels: { labels: [{ name: '__name__', value: 'memory' }] }, samples: [{ rawProfile: Buffer.from([0xff, 0xff, 0xff]).toString('base64') }] }]),
    ];
    for (const body of cases) {
      const answer = await exchange('POST', path, body, json);
      assert.equal(answer.status, 400, body.slice(0, 80));
      assert.equal(JSON.parse(answer.body).code, 3, body.slice(0, 80));
    }
  });

  test('both field names protojson accepts (rawProfile, raw_profile); unknown fields are dropped, as the gateway does', async () => {
    const before = receiver.received.length;
    const profile = await raw();
    for (const sample of [{ rawProfile: profile }, { raw_profile: profile, extra: 1 }]) {
      const answer = await exchange('POST', path, JSON.stringify({ series: [{ labels: { labels: [{ name: '__name__', value: 'memory' }, { name: 'service_name', value: 's' }] }, samples: [sample] }], unknown: true }), json);
      assert.equal(answer.status, 200, answer.body);
      assert.equal(answer.body, '{}');
    }
    assert.equal(receiver.received.length, before + 2);
  });

  test('what leakhunt must not send is flagged: another __name__, a delta profile', async () => {
    const violations = receiver.violations.length;
    const onDisk = heapProfileGz().toString('base64');
    for (const [name, profile] of [['process_cpu', await raw()], ['memory', onDisk]]) {
      const answer = await exchange('POST', path, write([{ labels: { labels: [{ name: '__name__', value: name }] }, samples: [{ rawProfile: profile }] }]), json);
      assert.equal(answer.status, 422, name);
    }
    assert.equal(receiver.violations.length, violations + 2);
    receiver.violations.splice(violations);
  });
});

describe('transport', () => {
  test('a server that is down: "connection refused", as a NetworkError to retry', async () => {
    const down = new ProfileReceiver();
    await down.start();
    await down.stop();
    const endpoint = parseEndpoint(down.baseUrl, 'pyroscope');
    const form = await pushFormOf(heapProfileGz());
    await assert.rejects(transport.send(requestFor(endpoint, labels, form), 2000), (error: unknown) =>
      error instanceof NetworkError && !error.permanent && /connection refused \(ECONNREFUSED\)/.test(error.message));
  });

  test('a server slower than the timeout: "no answer within"', async () => {
    receiver.options = { delayMs: 1500 };
    try {
      const form = await pushFormOf(heapProfileGz());
      await assert.rejects(transport.send(requestFor(parseEndpoint(receiver.baseUrl, 'pyroscope'), labels, form), 300), /no answer within/);
    } finally {
      receiver.options = {};
    }
  });
});
