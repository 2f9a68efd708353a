import http from 'node:http';
import https from 'node:https';

/**
 * The wire under HttpClient: node's http/https with keep-alive agents. It does what the clients
 * need (a method, headers, a string body, a timeout) at a fraction of the CPU of the WHATWG
 * `fetch` (undici's streams dominated the service's profile). `fetch` itself fits the same type,
 * so tests can pass it, or a spy around it.
 *
 * Two rules hold whatever the transport: a redirect is never followed (node's http never does;
 * `fetch` is told `redirect: 'manual'`), so the credentials of a call only ever reach the address it
 * was made to; and a body is read no further than `maxResponseBytes` (here while it streams in, with
 * or without a Content-Length; HttpClient checks it again for any other transport).
 */
export interface TransportResponse {
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export interface TransportInit {
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal?: AbortSignal;
  /** Always `manual`: a redirect comes back as the 3xx answer it is. */
  redirect?: 'manual';
  /** The most body bytes to read; a longer body fails the call with ResponseTooLargeError. */
  maxResponseBytes?: number;
}

export type Transport = (url: string, init: TransportInit) => Promise<TransportResponse>;

/** A body longer than the caller's limit: reading stopped there (the connection is dropped). */
export class ResponseTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`the response is larger than ${limitBytes} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 10_000 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 10_000 }),
};

class NodeHeaders {
  constructor(private readonly raw: http.IncomingHttpHeaders) {}
  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

export const nodeTransport: Transport = (url, init) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const body = init.body === undefined ? undefined : Buffer.from(init.body, 'utf8');
    const limit = init.maxResponseBytes ?? Number.POSITIVE_INFINITY;
    const request = (secure ? https : http).request(
      target,
      {
        method: init.method,
        agent: secure ? agents.https : agents.http,
        headers: { ...init.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (response) => {
        // Stop at once: the socket goes (never back to the pool half-read) and nothing more is buffered.
        const tooLarge = () => {
          response.destroy();
          request.destroy();
          reject(new ResponseTooLargeError(limit));
        };
        const announced = Number(response.headers['content-length']);
        if (Number.isFinite(announced) && announced > limit) return tooLarge();
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limit) return tooLarge();
          chunks.push(chunk);
        });
        response.on('error', (error) => reject(networkError(error, init.signal)));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ ok: status >= 200 && status < 300, status, headers: new NodeHeaders(response.headers), text: async () => text });
        });
        // A connection dropped mid-body ends the call as a network error, never as a short body.
        response.on('close', () => {
          if (!response.complete) reject(networkError(new Error('the connection closed before the response ended'), init.signal));
        });
      },
    );
    request.on('error', (error) => reject(networkError(error, init.signal)));
    if (body) request.write(body);
    request.end();
  });

/** Shape errors like fetch's, so callers see a timeout as a TimeoutError and the cause's code otherwise. */
function networkError(error: Error, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) {
    const reason = signal.reason;
    return reason instanceof Error ? reason : Object.assign(new Error('the request was aborted'), { name: 'AbortError' });
  }
  return Object.assign(new Error(error.message), { name: 'NetworkError', cause: error });
}
