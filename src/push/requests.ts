/**
 * One profile as each backend's ingestion request, and what its answer means. The contracts, as read from the
 * servers' code (grafana/pyroscope main after v2.2.1, August 2026; parca-dev/parca main after v0.28.0, July 2026):
 *
 * Pyroscope, `POST <base>/ingest?name=<app>{k=v,…}&from=<s>&until=<s>&format=pprof&spyName=leakhunt`, the body
 * the pprof profile (gzip or not), as the /ingest handler reads it (pkg/ingester/pyroscope/ingest_handler.go:
 * parseInputMetadataFromRequest takes `name` through labelset.Parse, `from`/`until` through attime.Parse (unix
 * seconds), `spyName`; readInputRawDataFromRequest takes `format=pprof` before looking at the Content-Type, and the
 * whole body as the profile; pkg/pprof/pprof.go RawFromBytesWithLimit gunzips it when it starts with gzip's magic).
 * For pprof the server labels the series itself: __name__ from the sample types ("inuse_" → "memory"),
 * __delta__="false", pyroscope_spy from spyName, service_name from the application name
 * (pkg/og/convert/pprof/profile.go createLabels, metricName). Answers: 200 with no body; 400 for a bad `name`;
 * 401 without a tenant when multi-tenancy is on; 413 body too large; 422 for a profile it cannot take (parse or
 * validation errors, e.g. a time_nanos more than validation.reject-older-than — default 1h — in the past); 429 rate
 * limited; errors as JSON {code, message} (pkg/util/http/error.go).
 *
 * Why /ingest rather than the Connect API push.v1.PusherService/Push: every Pyroscope-compatible receiver takes
 * /ingest — Pyroscope 0.x to 2.x, Grafana Cloud Profiles, and Grafana Alloy's pyroscope.receive_http, which fleets
 * run next to their services and which forwards to either. The server then names and labels a pprof profile itself
 * (memory, __delta__="false") exactly as it does for every pprof agent, where with Push we would have to pick
 * __name__ and __delta__ ourselves. What /ingest costs — one profile per request, label values without "," or "}"
 * — is nothing at one profile per snapshot interval with labels we validate (labels.ts).
 *
 * Parca, `POST <base>/api/profiles/writeraw` with WriteRawRequest as JSON, grpc-gateway's form of the gRPC
 * ProfileStoreService/WriteRaw (proto/parca/profilestore/v1alpha1/profilestore.proto: series[] of {labels: {labels:
 * [{name, value}]}, samples: [{raw_profile}]}; protojson, so bytes are base64 and "rawProfile" is the field's JSON
 * name). The server needs a __name__ label and valid, unique label names, gunzips a raw_profile that starts with
 * gzip's magic and validates the pprof (pkg/normalizer/normalizer.go NormalizeWriteRawRequest, validate.go); the
 * profile type is __name__:sample_type:unit:period_type:period_unit, ":delta" when duration_nanos is not 0
 * (pkg/profilestore/profilecolumnstore.go). Answers: 200 "{}"; gRPC errors as JSON {code, message, details} with
 * grpc-gateway's HTTP status (InvalidArgument 400, Unauthenticated 401, Unimplemented — a method other than POST —
 * 501; grpc-ecosystem/grpc-gateway runtime/errors.go).
 */
import type { PushEndpoint } from './endpoint.js';
import { pyroscopeName } from './labels.js';
import type { PushProfile } from './profile.js';

export interface HttpRequest {
  url: URL;
  headers: [string, string][];
  body: Buffer;
}

/** The profile's name in both backends: Pyroscope derives "memory" from inuse_* itself; Parca takes __name__. */
export const PROFILE_NAME = 'memory';
export const SPY_NAME = 'leakhunt';

export function requestFor(endpoint: PushEndpoint, labels: readonly [string, string][], profile: PushProfile): HttpRequest {
  return endpoint.backend === 'pyroscope' ? pyroscopeRequest(endpoint, labels, profile) : parcaRequest(endpoint, labels, profile);
}

function pyroscopeRequest(endpoint: PushEndpoint, labels: readonly [string, string][], profile: PushProfile): HttpRequest {
  const until = profile.timeNanos / 1_000_000_000n;
  const from = profile.spanNanos > 0n && profile.spanNanos < profile.timeNanos ? (profile.timeNanos - profile.spanNanos) / 1_000_000_000n : until;
  const url = new URL(endpoint.url);
  url.search = new URLSearchParams({
    name: pyroscopeName(labels), from: String(from), until: String(until), format: 'pprof', spyName: SPY_NAME,
  }).toString();
  return { url, headers: [['Content-Type', 'application/octet-stream'], ...endpoint.headers], body: profile.gz };
}

function parcaRequest(endpoint: PushEndpoint, labels: readonly [string, string][], profile: PushProfile): HttpRequest {
  const request = {
    series: [{
      labels: { labels: [{ name: '__name__', value: PROFILE_NAME }, ...labels.map(([name, value]) => ({ name, value }))] },
      samples: [{ rawProfile: profile.gz.toString('base64') }],
    }],
  };
  return { url: endpoint.url, headers: [['Content-Type', 'application/json'], ...endpoint.headers], body: Buffer.from(JSON.stringify(request)) };
}

/** What an answer means for the profile and for the endpoint. */
export type Verdict =
  /** Stored. */
  | { kind: 'sent' }
  /** Try this profile again later: the server is down, overloaded or slow (it may say when: retryAfterMs). */
  | { kind: 'retry'; why: string; retryAfterMs?: number }
  /** This profile was refused; the next ones may not be. */
  | { kind: 'rejected'; why: string }
  /** Every profile would be refused the same way (auth, wrong URL or backend): stop pushing. */
  | { kind: 'stop'; why: string };

export interface HttpAnswer {
  status: number;
  contentType: string;
  /** The start of the body, for messages. */
  body: string;
  retryAfterMs?: number;
}

/** The server's own message from an error body: {message} in both backends' JSON errors, else the text. */
function serverMessage(answer: HttpAnswer): string {
  try {
    const parsed = JSON.parse(answer.body) as { message?: unknown };
    if (typeof parsed?.message === 'string' && parsed.message !== '') return parsed.message;
  } catch {
    // not JSON
  }
  return answer.contentType.includes('html') ? '(a web page)' : answer.body;
}

export function verdictOf(answer: HttpAnswer, backend: PushEndpoint['backend']): Verdict {
  const { status } = answer;
  const said = serverMessage(answer).trim();
  const why = `answered ${status}${said ? `: ${said}` : ''}`;
  if (status >= 200 && status < 300) {
    // Parca serves its web UI for any path its API does not know (pkg/server/fallback.go): a 200 with a page is
    // a wrong URL or --push-to, not a stored profile.
    if (answer.contentType.includes('text/html')) return { kind: 'stop', why: `answered with a web page, not as ${backend} ingestion does (wrong URL or --push-to?)` };
    return { kind: 'sent' };
  }
  if (status === 408 || status === 429 || status === 502 || status === 503 || status === 504) {
    return { kind: 'retry', why, ...(answer.retryAfterMs === undefined ? {} : { retryAfterMs: answer.retryAfterMs }) };
  }
  if (status >= 500 && status !== 501) return { kind: 'retry', why };
  // Authentication, tenancy, a path or method the server does not have: the same for every profile.
  if ([401, 403, 404, 405, 415, 501].includes(status)) return { kind: 'stop', why };
  return { kind: 'rejected', why };
}
