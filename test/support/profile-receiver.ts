/**
 * A local stand-in for the two backends' ingestion endpoints, for tests (loopback only). It takes a request as the
 * real server's code does — same paths, methods, query syntax, body decoding, validation, and the same status and
 * error body for what it refuses — and checks on top what leakhunt's contract promises (inuse_* sample types only,
 * duration_nanos 0, time_nanos inside from/until, our labels): a request that breaks that contract is answered
 * 422 and listed in `violations`, so a test fails on it even where a real server would have let it through.
 *
 * Read from (see src/push/requests.ts for the citations): grafana/pyroscope pkg/api/api.go, register_options.go,
 * pkg/ingester/pyroscope/ingest_handler.go, api/model/labelset/{labelset,validate}.go, pkg/pprof/pprof.go,
 * pkg/validation/validate.go; parca-dev/parca proto/parca/profilestore/v1alpha1/profilestore.proto,
 * pkg/normalizer/{normalizer,validate}.go, pkg/server/server.go; grpc-ecosystem/grpc-gateway runtime/errors.go,
 * marshaler_registry.go.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';

export type Backend = 'pyroscope' | 'parca';

export interface ReceivedProfile {
  backend: Backend;
  /** Pyroscope: the application name as service_name, and the name's labels; Parca: every label but __name__. */
  labels: Record<string, string>;
  /** Parca's __name__; Pyroscope's is "memory" by the server's rule for inuse_* sample types. */
  name: string;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, string>;
  profile: Profile;
  /** "type/unit" of each sample type. */
  sampleTypes: string[];
  timeNanos: bigint;
  durationNanos: bigint;
  gzipped: boolean;
  receivedAtMs: number;
}

export interface ReceiverOptions {
  /** Headers every request must carry with these values (a tenant, a token), else 401 as the server or its proxy. */
  requireHeaders?: Record<string, string>;
  /** Answer each request this long after reading it (it is recorded at once): a slow server. */
  delayMs?: number;
  /** Answer every request with this status, storing nothing: an overloaded or unavailable server. */
  forceStatus?: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  atMs: number;
}

const PYROSCOPE_PATHS = new Set(['/ingest', '/pyroscope/ingest']);
const PARCA_PATH = '/api/profiles/writeraw';
/** Pyroscope's default ingestion window (pkg/validation/limits.go: reject-older-than 1h, reject-newer-than 10m). */
const REJECT_OLDER_THAN_MS = 60 * 60 * 1000;
const REJECT_NEWER_THAN_MS = 10 * 60 * 1000;
const EXPECTED_SAMPLE_TYPES = ['inuse_objects/count', 'inuse_space/bytes'];

class Refusal extends Error {
  constructor(readonly status: number, readonly body: string, readonly contentType = 'application/json', readonly violation = false) {
    super(body);
  }
}

/** Pyroscope's JSON error (pkg/util/http/error.go ErrorWithStatus). */
const pyroscopeError = (status: number, code: string, message: string) => new Refusal(status, JSON.stringify({ code, message }));
/** grpc-gateway's JSON error: {code, message, details} with the gRPC code's HTTP status. */
const gatewayError = (status: number, code: number, message: string) => new Refusal(status, JSON.stringify({ code, message, details: [] }));
/** What leakhunt promised and did not keep. */
const contractError = (message: string) => new Refusal(422, JSON.stringify({ code: 'leakhunt_contract', message }), 'application/json', true);

// ---- Pyroscope's /ingest name syntax (api/model/labelset) ----

const labelNameRune = (c: string) => /^[a-zA-Z0-9_.]$/.test(c);
const serviceNameRune = (c: string) => c === '-' || c === '.' || c === '/' || labelNameRune(c);

function validateLabelName(name: string): void {
  if (name.length === 0) throw new Error('label name is required');
  for (const c of name) if (!labelNameRune(c)) throw new Error(`invalid label name: ${name}: character is not allowed: "${c}"`);
  if (name === '__name__') throw new Error(`label name is reserved: ${name}`);
}

function validateServiceName(name: string): void {
  if (name.length === 0) throw new Error('service name is required');
  for (const c of name) if (!serviceNameRune(c)) throw new Error(`invalid service name: ${name}: character is not allowed: "${c}"`);
}

/** labelset.Parse, as the Go code walks it: no escapes; values trimmed; keys checked unless reserved. */
export function parsePyroscopeName(name: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let state: 'name' | 'tags' | 'value' | 'done' = 'name';
  let key = '';
  let value = '';
  for (const c of `${name}{`) {
    if (state === 'name') {
      if (c === '{') {
        state = 'tags';
        const service = value.trim();
        validateServiceName(service);
        labels['__name__'] = service;
      } else value += c;
    } else if (state === 'tags') {
      if (c === '}') state = 'done';
      else if (c === '=') {
        state = 'value';
        value = '';
      } else key += c;
    } else if (state === 'value') {
      if (c === ',' || c === '}') {
        state = 'tags';
        const k = key.trim();
        if (k !== '__name__') validateLabelName(k);
        labels[k] = value.trim();
        key = '';
      } else value += c;
    }
  }
  return labels;
}

// ---- the pprof body ----

function decodeBody(body: Buffer): { profile: Profile; gzipped: boolean } {
  const gzipped = body[0] === 0x1f && body[1] === 0x8b;
  return { profile: Profile.decode(gzipped ? gunzipSync(body) : body), gzipped };
}

const n = (v: number | bigint | undefined) => Number(v ?? 0);

/** Parca's ValidatePprofProfile (pkg/normalizer/validate.go): the structure both servers rely on. */
export function pprofProblem(p: Profile): string | undefined {
  const strings = p.stringTable.strings;
  const len = strings.length;
  if (len > 0 && strings[0] !== '') return `first item in string table is expected to be empty string, but it is "${strings[0]}"`;
  for (const [i, m] of p.mapping.entries()) {
    if (n(m.id) !== i + 1) return 'mapping id is not sequential';
    if (n(m.filename) >= len && n(m.filename) !== 0) return `mapping (id: ${n(m.id)}) has invalid filename index`;
    if (n(m.buildId) >= len && n(m.buildId) !== 0) return `mapping (id: ${n(m.id)}) has invalid buildid index`;
  }
  for (const [i, f] of p.function.entries()) {
    if (n(f.id) !== i + 1) return 'function id is not sequential';
    for (const index of [f.name, f.systemName, f.filename]) if (n(index) !== 0 && n(index) >= len) return `function (id: ${n(f.id)}) has an invalid string index`;
  }
  for (const [i, l] of p.location.entries()) {
    if (n(l.id) !== i + 1) return 'location id is not sequential';
    if (n(l.mappingId) > p.mapping.length) return `location has invalid mapping id: ${n(l.mappingId)}`;
    for (const line of l.line) if (n(line.functionId) > p.function.length) return `location ${n(l.id)} has invalid function id: ${n(line.functionId)}`;
  }
  if (p.sampleType.length === 0 && p.sample.length !== 0) return 'missing sample type information';
  for (const [i, st] of p.sampleType.entries()) {
    if (n(st.type) !== 0 && n(st.type) >= len) return `sample type ${i} has invalid type index`;
    if (n(st.unit) !== 0 && n(st.unit) >= len) return `sample type ${i} has invalid unit index`;
  }
  for (const [i, s] of p.sample.entries()) {
    if (s.value.length !== p.sampleType.length) return `mismatch: sample has ${s.value.length} values vs. ${p.sampleType.length} types`;
    for (const l of s.locationId) {
      if (n(l) === 0) return 'location ids of stacktraces must be non-zero';
      if (n(l) > p.location.length) return `sample ${i} location is out of range`;
    }
    for (const label of s.label) if (n(label.key) === 0 || n(label.key) >= len || n(label.str) >= len) return `sample ${i} has an invalid label`;
  }
  return undefined;
}

/** What leakhunt promises of every profile it pushes, whichever backend. */
function contractProblem(p: Profile): string | undefined {
  const strings = p.stringTable.strings;
  const types = p.sampleType.map((t) => `${strings[n(t.type)]}/${strings[n(t.unit)]}`);
  if (types.join(',') !== EXPECTED_SAMPLE_TYPES.join(',')) return `sample types ${types.join(',')}, expected ${EXPECTED_SAMPLE_TYPES.join(',')}`;
  if (n(p.durationNanos) !== 0) return `duration_nanos ${n(p.durationNanos)}: a gauge has none (Parca would call it :delta)`;
  if (!(BigInt(p.timeNanos) > 0n)) return 'no time_nanos';
  if (strings[n(p.defaultSampleType)] !== 'inuse_space') return 'default sample type is not inuse_space';
  const period = p.periodType ? `${strings[n(p.periodType.type)]}/${strings[n(p.periodType.unit)]}` : '';
  if (period !== 'space/bytes') return `period type ${period}, expected space/bytes`;
  for (const s of p.sample) {
    if (s.label.length > 0) return 'a sample has labels';
    if (s.value.every((v) => n(v) === 0)) return 'a sample with nothing in use';
  }
  return undefined;
}

function typesOf(p: Profile): string[] {
  const strings = p.stringTable.strings;
  return p.sampleType.map((t) => `${strings[n(t.type)]}/${strings[n(t.unit)]}`);
}

// ---- the server ----

export class ProfileReceiver {
  readonly received: ReceivedProfile[] = [];
  readonly requests: RequestRecord[] = [];
  readonly violations: string[] = [];
  port = 0;
  private server: Server | undefined;

  constructor(public options: ReceiverOptions = {}) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on loopback, on `port` (the one it had before, to come back up there) or any free one. */
  async start(port = this.port): Promise<void> {
    const server = createServer((req, res) => { void this.handle(req, res); });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Goes down: no more connections (a client then meets "connection refused"). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** How many times each profile arrived, by the pid label and the profile's time_nanos (one snapshot's identity). */
  countsByProfile(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.received) {
      const key = `${r.labels['pid']}@${r.timeNanos}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://receiver');
    let status = 200;
    let answer = '';
    let contentType = '';
    try {
      const pyroscope = PYROSCOPE_PATHS.has(url.pathname);
      if (!pyroscope && url.pathname !== PARCA_PATH && !url.pathname.startsWith('/api/')) throw new Refusal(404, '404 page not found\n', 'text/plain; charset=utf-8');
      // A server that refuses (overloaded, unavailable) stores nothing.
      if (this.options.forceStatus !== undefined) throw new Refusal(this.options.forceStatus, JSON.stringify({ code: 'forced', message: `forced ${this.options.forceStatus}` }));
      if (pyroscope) this.pyroscope(req, url, body);
      else {
        this.parca(req, url, body);
        answer = '{}';
        contentType = 'application/json';
      }
    } catch (caught) {
      // A bug of the receiver's own is a 500 and a violation: the test fails on it, and says why.
      const error = caught instanceof Refusal ? caught : new Refusal(500, String((caught as Error).stack ?? caught), 'text/plain', true);
      status = error.status;
      answer = error.body;
      contentType = error.contentType;
      if (error.violation) this.violations.push(`${req.method} ${url.pathname}: ${error.body}`);
    }
    this.requests.push({ method: req.method ?? '', path: url.pathname, status, atMs: Date.now() });
    if (this.options.delayMs) await new Promise((resolve) => setTimeout(resolve, this.options.delayMs));
    if (contentType) res.setHeader('Content-Type', contentType);
    res.writeHead(status);
    res.end(answer);
  }

  private checkHeaders(req: IncomingMessage, refuse: (message: string) => Refusal): void {
    for (const [name, value] of Object.entries(this.options.requireHeaders ?? {})) {
      const got = req.headers[name.toLowerCase()];
      if (got === undefined && name.toLowerCase() === 'x-scope-orgid') throw new Refusal(401, 'no org id\n', 'text/plain; charset=utf-8');
      // The value it got is echoed, as a chatty proxy might: leakhunt must not show it.
      if (got !== value) throw refuse(`${name}: ${got === undefined ? 'missing' : `wrong value ${String(got)}`}`);
    }
  }

  /** POST /ingest (pkg/ingester/pyroscope/ingest_handler.go; routes by gorilla/mux: 405 for another method). */
  private pyroscope(req: IncomingMessage, url: URL, body: Buffer): void {
    if (req.method !== 'POST') throw new Refusal(405, '', '');
    this.checkHeaders(req, (message) => pyroscopeError(401, 'unauthenticated', message));
    const q = url.searchParams;
    let labels: Record<string, string>;
    try {
      labels = parsePyroscopeName(q.get('name') ?? '');
    } catch (error) {
      throw pyroscopeError(400, 'invalid_argument', `name: ${(error as Error).message}`);
    }
    const query = Object.fromEntries(q.entries());
    if (q.get('format') !== 'pprof') throw contractError(`format=${q.get('format')}, expected pprof`);
    if (q.get('spyName') !== 'leakhunt') throw contractError(`spyName=${q.get('spyName')}, expected leakhunt`);
    if (!/^\d{10}$/.test(q.get('from') ?? '') || !/^\d{10}$/.test(q.get('until') ?? '')) throw contractError('from and until must be unix seconds');
    if (req.headers['content-type'] !== 'application/octet-stream') throw contractError(`Content-Type ${req.headers['content-type']}`);
    let decoded: { profile: Profile; gzipped: boolean };
    try {
      decoded = decodeBody(body);
    } catch (error) {
      throw pyroscopeError(422, 'unknown', `pushing IngestInput-pprof failed: ${(error as Error).message}`);
    }
    const { profile } = decoded;
    if (profile.sampleType.length === 0) throw pyroscopeError(422, 'invalid_argument', 'empty profile');
    const timeMs = Number(BigInt(profile.timeNanos) / 1_000_000n);
    if (timeMs > 0 && timeMs < Date.now() - REJECT_OLDER_THAN_MS) throw pyroscopeError(422, 'invalid_argument', 'profile is outside the ingestion window: too old');
    if (timeMs > Date.now() + REJECT_NEWER_THAN_MS) throw pyroscopeError(422, 'invalid_argument', 'profile is outside the ingestion window: too new');
    const structural = pprofProblem(profile);
    if (structural) throw contractError(`invalid profile: ${structural}`);
    const problem = contractProblem(profile);
    if (problem) throw contractError(problem);
    const seconds = BigInt(profile.timeNanos) / 1_000_000_000n;
    if (seconds < BigInt(q.get('from')!) || seconds > BigInt(q.get('until')!)) throw contractError(`time_nanos ${profile.timeNanos} outside from..until`);
    const { __name__: app, ...rest } = labels;
    this.received.push({
      backend: 'pyroscope', labels: { service_name: app!, ...rest }, name: 'memory', headers: req.headers, query, profile,
      sampleTypes: typesOf(profile), timeNanos: BigInt(profile.timeNanos), durationNanos: BigInt(profile.durationNanos), gzipped: decoded.gzipped,
      receivedAtMs: Date.now(),
    });
  }

  /** POST /api/profiles/writeraw (grpc-gateway: 404 for an unknown path under /api, 501 for another method). */
  private parca(req: IncomingMessage, url: URL, body: Buffer): void {
    if (url.pathname !== PARCA_PATH) throw gatewayError(404, 5, 'Not Found');
    if (req.method !== 'POST') throw gatewayError(501, 12, 'Method Not Allowed');
    this.checkHeaders(req, (message) => gatewayError(401, 16, message));
    let request: unknown;
    try {
      request = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw gatewayError(400, 3, `proto: syntax error: ${(error as Error).message}`);
    }
    if (req.headers['content-type'] !== 'application/json') throw contractError(`Content-Type ${req.headers['content-type']}`);
    const series = field<unknown[]>(request, 'series', 'array') ?? [];
    const accepted: ReceivedProfile[] = [];
    for (const s of series) {
      const labelSet = field<object>(s, 'labels', 'object');
      const pairs = field<unknown[]>(labelSet ?? {}, 'labels', 'array') ?? [];
      const labels: Record<string, string> = {};
      let name = '';
      for (const pair of pairs) {
        const labelName = field<string>(pair, 'name', 'string') ?? '';
        const value = field<string>(pair, 'value', 'string') ?? '';
        if (labelName === '__name__') {
          name = value;
          continue;
        }
        if (labelName === '') throw gatewayError(400, 3, `invalid label name: ${labelName}`);
        if (labelName in labels) throw gatewayError(400, 3, `duplicate label name: ${labelName}`);
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(labelName)) throw contractError(`label name ${labelName} is not a legacy Prometheus name`);
        labels[labelName] = value;
      }
      if (name === '') throw gatewayError(400, 3, 'missing __name__ label');
      if (name !== 'memory') throw contractError(`__name__=${name}, expected memory`);
      for (const sample of field<unknown[]>(s, 'samples', 'array') ?? []) {
        const encoded = field<string>(sample, 'rawProfile', 'string') ?? field<string>(sample, 'raw_profile', 'string') ?? '';
        if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(encoded)) throw gatewayError(400, 3, 'proto: invalid value for bytes field raw_profile');
        const raw = Buffer.from(encoded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
        let decoded: { profile: Profile; gzipped: boolean };
        try {
          if (raw[0] === 0x1f && raw[1] === 0x8b) gunzipSync(raw);
        } catch (error) {
          throw gatewayError(500, 2, `decompressing profile: ${(error as Error).message}`);
        }
        try {
          decoded = decodeBody(raw);
        } catch (error) {
          throw gatewayError(400, 3, `failed to parse profile: ${(error as Error).message}`);
        }
        const structural = pprofProblem(decoded.profile);
        if (structural) throw gatewayError(400, 3, `invalid profile: ${structural}`);
        const problem = contractProblem(decoded.profile);
        if (problem) throw contractError(problem);
        const { profile } = decoded;
        accepted.push({
          backend: 'parca', labels, name, headers: req.headers, query: {}, profile, sampleTypes: typesOf(profile),
          timeNanos: BigInt(profile.timeNanos), durationNanos: BigInt(profile.durationNanos), gzipped: decoded.gzipped, receivedAtMs: Date.now(),
        });
      }
    }
    // The whole request is one write: all of it is stored, or (an error above) none.
    this.received.push(...accepted);
  }
}

/** A protojson field by its JSON or proto name, of the type protojson requires (a mistyped one is a 400). */
function field<T>(message: unknown, name: string, type: 'array' | 'object' | 'string'): T | undefined {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) throw gatewayError(400, 3, 'proto: syntax error: expected an object');
  const value = (message as Record<string, unknown>)[name];
  if (value === undefined || value === null) return undefined;
  const ok = type === 'array' ? Array.isArray(value) : type === 'object' ? typeof value === 'object' && !Array.isArray(value) : typeof value === type;
  if (!ok) throw gatewayError(400, 3, `proto: invalid value for ${type} field ${name}`);
  return value as T;
}
