/**
 * Labels, endpoints and answers: every label set we accept comes back unchanged out of Pyroscope's name={…} parser
 * (the receiver's port of labelset.Parse), what would not is refused in one line, and header values never appear in
 * any message.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBackend, parseEndpoint, parseHeader, scrub } from '../../src/push/endpoint.js';
import {
  defaultServiceName, labelsFor, labelValueProblem, parseLabelOption, pyroscopeName, runLabels, sanitizeLabelValue, sanitizeServiceName,
} from '../../src/push/labels.js';
import { verdictOf } from '../../src/push/requests.js';
import { parsePyroscopeName } from '../support/profile-receiver.js';
import { mulberry32 } from './helpers/prng.js';

describe('labels', () => {
  test('--label name=value: names as Prometheus has them, values Pyroscope can carry', () => {
    assert.deepEqual(parseLabelOption('env=prod'), ['env', 'prod']);
    assert.deepEqual(parseLabelOption('zone=eu-west-1a=b'), ['zone', 'eu-west-1a=b'], 'the first = splits');
    assert.deepEqual(parseLabelOption('host=pod-7f9c'), ['host', 'pod-7f9c'], 'host may be replaced');
    for (const [bad, why] of [
      ['env', /expected name=value/], ['=x', /expected name=value/], ['9lives=x', /not a label name/], ['my-label=x', /not a label name/],
      ['__name__=x', /backends' own/], ['service_name=x', /--service/], ['pid=1', /set by leakhunt/], ['run=x', /set by leakhunt/],
      ['env=', /empty value/], ['env=a,b', /","/], ['env=a}', /"}"/], ['env= a', /white space/], ['env=a\tb', /control/], ['env=\ud800', /invalid Unicode/],
    ] as const) {
      assert.throws(() => parseLabelOption(bad), why, bad);
    }
  });

  test('a run\'s labels: service from the command, unless --service; a label twice is refused', () => {
    const labels = runLabels({ command: ['/usr/bin/java', '-Xmx1g', '-jar', '/opt/app/orders-service.jar'], runDir: '/data/runs/leakhunt-20250101-120000', labels: ['env=prod'] });
    assert.equal(labels.service, 'orders-service');
    assert.equal(labels.run, 'leakhunt-20250101-120000');
    assert.deepEqual(labels.extra, [['env', 'prod']]);
    assert.deepEqual(labelsFor(labels, 77).map(([k]) => k), ['service_name', 'host', 'pid', 'run', 'env']);
    assert.deepEqual(labelsFor({ ...labels, extra: [['host', 'pod-1']] }, 77).find(([k]) => k === 'host'), ['host', 'pod-1']);
    assert.equal(runLabels({ command: ['x'], runDir: 'r', service: 'checkout/api' }).service, 'checkout/api');
    assert.throws(() => runLabels({ command: ['x'], runDir: 'r', service: 'check out' }), /--service "check out"/);
    assert.throws(() => runLabels({ command: ['x'], runDir: 'r', labels: ['a=1', 'a=2'] }), /given twice/);
    assert.throws(() => runLabels({ command: ['x'], runDir: 'r', labels: Array.from({ length: 17 }, (_, i) => `l${i}=v`) }), /at most 16/);
  });

  test('the default service: the program, a JVM\'s jar or main class', () => {
    assert.equal(defaultServiceName(['java', '-cp', 'lib/*:app.jar', '-Dx=1', 'com.acme.Main', '--port', '80']), 'com.acme.Main');
    assert.equal(defaultServiceName(['/opt/jdk/bin/java', '-m', 'acme.app/com.acme.App']), 'com.acme.App');
    assert.equal(defaultServiceName(['./build/my server']), 'my_server');
    assert.equal(defaultServiceName(['/usr/bin/python3.11', 'x.py']), 'python3.11');
    assert.equal(defaultServiceName([]), 'leakhunt');
    assert.equal(sanitizeServiceName('a b{c}'), 'a_b_c_');
  });

  test('every label set we accept comes back unchanged from Pyroscope\'s name={…} parser', () => {
    const random = mulberry32(16);
    const pool = ['a', 'Z', '0', '_', '-', '.', '/', ':', '=', '{', ' ', '"', '\'', 'é', '日', '🙂', '\\', '%', '+', '&', '?', '#', ';'];
    const valueOf = () => Array.from({ length: 1 + Math.floor(random() * 12) }, () => pool[Math.floor(random() * pool.length)]).join('');
    let tried = 0;
    for (let round = 0; round < 500; round++) {
      const extra = Array.from({ length: Math.floor(random() * 4) }, (_, i) => [`l${i}`, valueOf()] as [string, string])
        .filter(([, value]) => labelValueProblem(value) === undefined);
      const labels = labelsFor({ service: 'svc.a-b/c_1', host: sanitizeLabelValue(valueOf()), run: sanitizeLabelValue(valueOf()), extra }, 1234);
      const parsed = parsePyroscopeName(pyroscopeName(labels));
      const { __name__: service, ...rest } = parsed;
      assert.deepEqual({ service_name: service, ...rest }, Object.fromEntries(labels), JSON.stringify(labels));
      // What goes over the wire: the query string, decoded as Go's url.ParseQuery (and URLSearchParams) decode it.
      const query = new URLSearchParams({ name: pyroscopeName(labels) }).toString();
      assert.equal(new URLSearchParams(query).get('name'), pyroscopeName(labels));
      tried += extra.length;
    }
    assert.ok(tried > 300, `${tried} values tried`);
  });

  test('what we refuse would not come back: "," "}" and edge spaces', () => {
    for (const value of ['a,b', 'a}b', ' a', 'a ']) {
      const parsed = parsePyroscopeName(pyroscopeName([['service_name', 's'], ['k', value]]));
      assert.notEqual(parsed['k'], value, value);
    }
    for (const value of ['a,b', 'x}', ' y ', '\u0007', '']) assert.equal(labelValueProblem(sanitizeLabelValue(value)), undefined, JSON.stringify(value));
  });
});

describe('endpoints', () => {
  test('a server\'s base URL, or the endpoint itself', () => {
    assert.equal(parseEndpoint('http://pyroscope:4040', 'pyroscope').url.toString(), 'http://pyroscope:4040/ingest');
    assert.equal(parseEndpoint('http://pyroscope:4040/', 'pyroscope').url.toString(), 'http://pyroscope:4040/ingest');
    assert.equal(parseEndpoint('https://proxy/pyroscope/', 'pyroscope').url.toString(), 'https://proxy/pyroscope/ingest');
    assert.equal(parseEndpoint('http://h:4040/ingest', 'pyroscope').url.toString(), 'http://h:4040/ingest');
    assert.equal(parseEndpoint('http://parca:7070', 'parca').url.toString(), 'http://parca:7070/api/profiles/writeraw');
    assert.equal(parseEndpoint('http://parca:7070/api/profiles/writeraw', 'parca').url.toString(), 'http://parca:7070/api/profiles/writeraw');
    assert.equal(parseBackend('parca'), 'parca');
    assert.throws(() => parseBackend('datadog'), /--push-to "datadog": expected pyroscope or parca/);
  });

  test('bad URLs, one line each, credentials never shown', () => {
    assert.throws(() => parseEndpoint('pyroscope:4040', 'pyroscope'), /only http:\/\/ and https:\/\//);
    assert.throws(() => parseEndpoint('not a url', 'pyroscope'), /is not a URL/);
    assert.throws(() => parseEndpoint('ftp://h', 'pyroscope'), /only http/);
    assert.throws(() => parseEndpoint('http://h:4040/?x=1', 'pyroscope'), /without a query/);
    for (const text of ['http://user:hunter2secret@h:4040?x=1', 'ftp://user:hunter2secret@h', 'http ://user:hunter2secret@h']) {
      assert.throws(() => parseEndpoint(text, 'pyroscope'), (error: Error) => !error.message.includes('hunter2secret'), text);
    }
  });

  test('basic auth from the URL; headers parsed, checked, kept secret', () => {
    const endpoint = parseEndpoint('https://123456:glc_tok%2Fen@profiles.example.net', 'pyroscope', ['X-Scope-OrgID: team-a']);
    assert.equal(endpoint.display, 'https://profiles.example.net/ingest');
    assert.equal(endpoint.url.username, '');
    assert.deepEqual(endpoint.headers, [['X-Scope-OrgID', 'team-a'], ['Authorization', `Basic ${Buffer.from('123456:glc_tok/en').toString('base64')}`]]);
    assert.ok(!endpoint.key.includes('team-a'), 'the tenant is in the key only as a hash');
    assert.notEqual(endpoint.key, parseEndpoint('https://profiles.example.net', 'pyroscope', ['X-Scope-OrgID: team-b']).key);
    assert.deepEqual(parseHeader('Authorization:   Bearer abc.def  '), ['Authorization', 'Bearer abc.def']);
    for (const [bad, why] of [['NoColon', /expected "Name: value"/], [': v', /expected/], ['Bad Name: v', /expected/], ['X-A:', /empty value/],
      ['Content-Type: text/plain', /sets this header itself/]] as const) {
      assert.throws(() => parseHeader(bad), why, bad);
    }
    assert.throws(() => parseEndpoint('http://h', 'pyroscope', ['A: 1', 'a: 2']), /given twice/);
    assert.throws(() => parseEndpoint('http://u:p@h', 'pyroscope', ['Authorization: Bearer x']), /both in the URL and in an Authorization header/);
    for (const bad of ['Authorization Bearer s3cr3t-token', 'X-Token: s3cr3t\r\n-token']) {
      assert.throws(() => parseHeader(bad), (error: Error) => !error.message.includes('s3cr3t'), bad);
    }
  });

  test('scrub: secrets and their words out of anything shown, on one line', () => {
    const secrets = ['Bearer s3cr3t-token-123', `Basic ${Buffer.from('u:p4ssw0rd!').toString('base64')}`];
    const text = scrub('invalid token "s3cr3t-token-123"\nfor Bearer s3cr3t-token-123 and dTpwNHNzdzByZCE=', secrets);
    assert.doesNotMatch(text, /s3cr3t|dTpwNHNzdzByZCE=/);
    assert.doesNotMatch(text, /\n/);
    assert.equal(scrub('x'.repeat(500), [], 40).length, 40);
  });

  test('what an answer means', () => {
    const answer = (status: number, body = '', contentType = 'application/json') => verdictOf({ status, body, contentType }, 'pyroscope');
    assert.equal(answer(200).kind, 'sent');
    assert.equal(answer(200, '<html>', 'text/html; charset=utf-8').kind, 'stop');
    for (const status of [408, 429, 500, 502, 503, 504]) assert.equal(answer(status).kind, 'retry', String(status));
    for (const status of [401, 403, 404, 405, 415, 501]) assert.equal(answer(status).kind, 'stop', String(status));
    for (const status of [400, 413, 422]) assert.equal(answer(status).kind, 'rejected', String(status));
    assert.deepEqual(verdictOf({ status: 429, body: '', contentType: '', retryAfterMs: 7000 }, 'parca'), { kind: 'retry', why: 'answered 429', retryAfterMs: 7000 });
    assert.deepEqual(answer(422, '{"code":"invalid_argument","message":"profile too old"}'), { kind: 'rejected', why: 'answered 422: profile too old' });
  });
});
