/**
 * Where profiles go: the backend, its endpoint URL, and the headers sent with every request (--push-header, and
 * the user:password of a URL as basic auth). Header values are secrets (tokens, tenants): they are sent and
 * never printed, logged or stored; `secrets` lists them so that any text a server sends back is scrubbed of them
 * before it is shown.
 */
import { createHash } from 'node:crypto';

export const BACKENDS = ['pyroscope', 'parca'] as const;
export type Backend = (typeof BACKENDS)[number];

/** The path each backend ingests at, below the server's base URL. */
const ENDPOINT_PATHS: Record<Backend, string> = {
  // grafana/pyroscope pkg/api/api.go RegisterDistributor: "/ingest" (and "/pyroscope/ingest"), POST only.
  pyroscope: '/ingest',
  // parca-dev/parca proto/parca/profilestore/v1alpha1/profilestore.proto: WriteRaw is `post: "/profiles/writeraw"`,
  // served by grpc-gateway under "/api" (pkg/server/server.go: r.Mount("/api", …)).
  parca: '/api/profiles/writeraw',
};

export interface PushEndpoint {
  backend: Backend;
  /** The endpoint, without credentials. */
  url: URL;
  /** What messages show of it: the URL without user:password. */
  display: string;
  /** Sent with every request. */
  headers: [string, string][];
  /** The values of `headers`: to be scrubbed from anything shown. */
  secrets: string[];
  /**
   * Who the profiles went to, for the record of what was sent: backend, endpoint and tenant (X-Scope-OrgID, hashed:
   * the same server under another tenant is another destination).
   */
  key: string;
}

export class EndpointError extends Error {}

/** Headers leakhunt sets itself, per request. */
const OWN_HEADERS = new Set(['content-type', 'content-length', 'content-encoding', 'transfer-encoding', 'host', 'connection', 'accept']);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Parses one --push-header `Name: value`. The error names the header, never its value. */
export function parseHeader(text: string): [string, string] {
  const at = text.indexOf(':');
  const name = (at < 0 ? text : text.slice(0, at)).trim();
  if (at <= 0 || !HEADER_NAME.test(name)) throw new EndpointError('--push-header: expected "Name: value" (the value is not shown)');
  const value = text.slice(at + 1).trim();
  if (value === '' || /[\r\n\0]/.test(value)) throw new EndpointError(`--push-header ${name}: an empty value or one with line breaks`);
  if (OWN_HEADERS.has(name.toLowerCase())) throw new EndpointError(`--push-header ${name}: leakhunt sets this header itself`);
  return [name, value];
}

export function parseBackend(text: string): Backend {
  if ((BACKENDS as readonly string[]).includes(text)) return text as Backend;
  throw new EndpointError(`--push-to "${text}": expected ${BACKENDS.join(' or ')}`);
}

/** The endpoint of `backend` at the server `text` (its base URL, or the endpoint itself), with `headerOptions`. */
export function parseEndpoint(text: string, backend: Backend, headerOptions: readonly string[] = []): PushEndpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new EndpointError(`"${redactUserInfo(text)}" is not a URL (expected e.g. http://pyroscope:4040)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new EndpointError(`"${redactUserInfo(text)}": only http:// and https:// URLs are supported`);
  if (url.search || url.hash) throw new EndpointError(`"${display(url)}": give the server's URL without a query or fragment`);
  const headers = headerOptions.map(parseHeader);
  const names = new Set<string>();
  for (const [name] of headers) {
    if (names.has(name.toLowerCase())) throw new EndpointError(`--push-header ${name} is given twice`);
    names.add(name.toLowerCase());
  }
  if (url.username || url.password) {
    if (names.has('authorization')) throw new EndpointError(`"${display(url)}": credentials both in the URL and in an Authorization header`);
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.push(['Authorization', `Basic ${Buffer.from(credentials).toString('base64')}`]);
    url.username = '';
    url.password = '';
  }
  const path = ENDPOINT_PATHS[backend];
  const base = url.pathname.replace(/\/+$/, '');
  url.pathname = base.endsWith(path) ? base : `${base}${path}`;
  const tenant = headers.find(([name]) => name.toLowerCase() === 'x-scope-orgid')?.[1];
  const shown = display(url);
  return {
    backend, url, display: shown, headers, secrets: headers.map(([, value]) => value),
    key: `${backend} ${shown}${tenant === undefined ? '' : ` tenant:${createHash('sha256').update(tenant).digest('hex').slice(0, 16)}`}`,
  };
}

function display(url: URL): string {
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  return copy.toString();
}

/** A URL-ish text with whatever stands between "//" and "@" hidden (for text that is not a URL at all). */
function redactUserInfo(text: string): string {
  return text.replace(/\/\/[^/@]*@/, '//…@');
}

/**
 * `text` on one line, shortened, with every secret replaced by "…": each header value, and each of its words of 6
 * characters or more (a token without its "Bearer ", basic auth's base64).
 */
export function scrub(text: string, secrets: readonly string[], maxLength = 200): string {
  let out = text.replace(/\s+/g, ' ').trim();
  for (const secret of secrets) {
    for (const form of [secret, ...secret.split(/\s+/).filter((part) => part.length >= 6)]) {
      if (form.length > 0) out = out.split(form).join('…');
    }
  }
  return out.length > maxLength ? `${out.slice(0, maxLength - 1)}…` : out;
}
