import http from 'node:http';
import https from 'node:https';

/**
 * The wire under HttpClient: node's http/https with keep-alive agents. It does what the clients
 * need (a method, headers, a string body, a timeout) at a fraction of the CPU of the WHATWG
 * `fetch` (undici's streams dominated the service's profile). `fetch` itself fits the same type,
 * so tests can pass it, or a spy around it.
 */
export interface TransportResponse {
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type Transport = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string | undefined; signal?: AbortSignal },
) => Promise<TransportResponse>;

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
    const request = (secure ? https : http).request(
      target,
      {
        method: init.method,
        agent: secure ? agents.https : agents.http,
        headers: { ...init.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ ok: status >= 200 && status < 300, status, headers: new NodeHeaders(response.headers), text: async () => text });
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
