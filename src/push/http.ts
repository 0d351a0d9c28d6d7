/**
 * Sending one request: node's http/https with a keep-alive agent of our own (one connection: requests go one at a
 * time), a timeout when the connection stays silent, and network failures turned into one-line reasons. Idle sockets do not
 * keep the CLI alive (node's agent unrefs them), and close() ends them.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { HttpAnswer, HttpRequest } from './requests.js';

/** A request that got no answer: `permanent` when trying again cannot help (a TLS certificate the client refuses). */
export class NetworkError extends Error {
  constructor(message: string, readonly permanent = false) {
    super(message);
  }
}

export type Transport = (request: HttpRequest, timeoutMs: number) => Promise<HttpAnswer>;

/** Error bodies are read this far, for the message. */
const BODY_BYTES = 4096;

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporarily)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
};

function reasonOf(error: NodeJS.ErrnoException): NetworkError {
  const code = error.code ?? '';
  if (NETWORK_REASONS[code]) return new NetworkError(`${NETWORK_REASONS[code]} (${code})`);
  // TLS: a certificate this machine does not trust (or one for another name) will not become trusted by retrying.
  if (/CERT|SELF_SIGNED|ERR_TLS/.test(code)) return new NetworkError(`TLS: ${error.message}`, true);
  return new NetworkError(error.message.split('\n')[0] ?? code);
}

/** Retry-After in seconds (or an HTTP date), in ms. */
function retryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

export class HttpTransport {
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });

  readonly send: Transport = (request, timeoutMs) => new Promise<HttpAnswer>((resolve, reject) => {
    const https = request.url.protocol === 'https:';
    const headers: Record<string, string> = { 'Content-Length': String(request.body.length) };
    for (const [name, value] of request.headers) headers[name] = value;
    const req = (https ? httpsRequest : httpRequest)(request.url, {
      method: 'POST', headers, agent: https ? this.httpsAgent : this.httpAgent,
    }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (chunk: Buffer) => {
        if (kept < BODY_BYTES) chunks.push(chunk.subarray(0, BODY_BYTES - kept));
        kept += chunk.length;
      });
      res.on('end', () => {
        const retryAfter = retryAfterMs(res.headers['retry-after'], Date.now());
        resolve({
          status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'), ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
        });
      });
      res.on('error', (error) => reject(reasonOf(error)));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'LEAKHUNT_TIMEOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'LEAKHUNT_TIMEOUT' ? new NetworkError(`no answer within ${Math.round(timeoutMs / 1000)}s`) : reasonOf(error));
    });
    req.end(request.body);
  });

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
