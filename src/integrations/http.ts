import { setTimeout as sleep } from 'node:timers/promises';
import { DeskhandError } from '../core/errors.ts';
import { nodeTransport, type Transport, type TransportResponse } from './transport.ts';

/**
 * The one HTTP client every integration uses: JSON in and out, a timeout, and short in-process
 * retries on 429/5xx/network errors (honouring Retry-After) with exponential backoff and jitter.
 * Waits longer than `maxInlineWaitMs` are not slept here: the error carries `retryAfterMs` so the
 * engine can schedule a durable retry (a row, not a timer).
 */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Absolute URL, or a path joined to the client's base URL. */
  url: string;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
  /** Extra statuses that are not errors for this call (e.g. 404 meaning "none"). */
  acceptStatuses?: number[];
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: { get(name: string): string | null };
  body: T;
  url: string;
}

export interface HttpClientOptions {
  /** Name of the outside system, used in error messages ("Microsoft Graph answered 403 ..."). */
  system: string;
  baseUrl: string;
  /** Headers added to every request; may be async (token fetch). */
  headers?: () => Promise<Record<string, string>> | Record<string, string>;
  timeoutMs?: number;
  maxAttempts?: number;
  maxInlineWaitMs?: number;
  /** Turns an error response into the integration's own message; default describes status and code. */
  describeError?: (status: number, body: unknown) => string;
  /** Called on 401 once before retrying (e.g. to drop a cached token). */
  onUnauthorized?: () => void;
  /** The wire; node's http with keep-alive by default. `fetch` fits too (tests pass spies of it). */
  fetchImpl?: Transport;
}

/** How long one HTTP call may take before the client gives up on it (the default `timeoutMs`). */
export const CALL_TIMEOUT_MS = 15_000;

/**
 * How long after an interrupted attempt (its process died, or lost its lease, in the middle of a
 * call) that call may still land: the outside system applies a call it received even when nobody
 * waits for the answer any more. A call times out after `CALL_TIMEOUT_MS`; a few seconds more cover
 * the token fetch before it. Reconciling earlier can find nothing and make the change a second time.
 */
export const INTERRUPTED_CALL_SETTLE_MS = CALL_TIMEOUT_MS + 5_000;

export class HttpClient {
  private readonly options: Required<Omit<HttpClientOptions, 'headers' | 'describeError' | 'onUnauthorized' | 'fetchImpl'>> &
    Pick<HttpClientOptions, 'headers' | 'describeError' | 'onUnauthorized'> & { fetchImpl: Transport };

  constructor(options: HttpClientOptions) {
    this.options = {
      timeoutMs: CALL_TIMEOUT_MS,
      maxAttempts: 3,
      maxInlineWaitMs: 2_000,
      fetchImpl: nodeTransport,
      ...options,
    };
  }

  get system(): string {
    return this.options.system;
  }

  resolveUrl(url: string, query?: HttpRequest['query']): string {
    const base = this.options.baseUrl.endsWith('/') ? this.options.baseUrl : `${this.options.baseUrl}/`;
    const target = /^https?:\/\//.test(url) ? new URL(url) : new URL(url.replace(/^\//, ''), base);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) target.searchParams.set(k, String(v));
    }
    return target.toString();
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const url = this.resolveUrl(req.url, req.query);
    let unauthorizedRetried = false;
    for (let attempt = 1; ; attempt++) {
      let response: TransportResponse;
      try {
        response = await this.send(url, req);
      } catch (cause) {
        const retryAfterMs = backoffMs(attempt);
        if (attempt < this.options.maxAttempts) {
          await sleep(retryAfterMs);
          continue;
        }
        const reason = networkReason(cause);
        throw new DeskhandError('upstream_retryable', `${this.options.system} could not be reached (${reason})`, {
          retryAfterMs,
          cause,
          details: { network: reason, timedOut: reason === TIMED_OUT },
        });
      }
      const body = await readBody(response);
      if (response.ok || req.acceptStatuses?.includes(response.status)) {
        return { status: response.status, headers: response.headers, body: body as T, url };
      }
      if (response.status === 401 && this.options.onUnauthorized && !unauthorizedRetried) {
        unauthorizedRetried = true;
        this.options.onUnauthorized();
        attempt--;
        continue;
      }
      const retryable = response.status === 429 || response.status >= 500;
      const retryAfterMs = retryable ? (parseRetryAfter(response.headers.get('retry-after')) ?? backoffMs(attempt)) : undefined;
      if (retryable && attempt < this.options.maxAttempts && retryAfterMs !== undefined && retryAfterMs <= this.options.maxInlineWaitMs) {
        await sleep(retryAfterMs);
        continue;
      }
      const description = this.options.describeError?.(response.status, body) ?? defaultDescription(response.status, body);
      throw new DeskhandError(retryable ? 'upstream_retryable' : 'upstream', `${this.options.system}: ${description}`, {
        details: { status: response.status, body: safeBody(body) },
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
  }

  private async send(url: string, req: HttpRequest): Promise<TransportResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...(await this.options.headers?.()), ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(req.form).toString();
    }
    return this.options.fetchImpl(url, {
      method: req.method,
      headers,
      body,
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
  }
}

async function readBody(response: TransportResponse): Promise<unknown> {
  const text = await response.text();
  if (text.length === 0) return null;
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: Date = new Date()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now.getTime());
}

/** Exponential backoff with full jitter: 200 ms, 400 ms, 800 ms ... capped at 30 s. */
export function backoffMs(attempt: number, baseMs = 200, capMs = 30_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

const TIMED_OUT = 'timed out';

/**
 * Whether a call failed by running out of time: the other side may still apply it after we stopped
 * waiting, so it is neither done nor undone (a write is reconciled later, not repeated now).
 */
export function isTimeout(error: unknown): boolean {
  return error instanceof DeskhandError && error.details?.['timedOut'] === true;
}

function networkReason(cause: unknown): string {
  if (cause instanceof Error) {
    if (cause.name === 'TimeoutError' || cause.name === 'AbortError') return TIMED_OUT;
    const code = (cause as { cause?: { code?: string } }).cause?.code;
    return code ?? cause.message;
  }
  return 'network error';
}

function defaultDescription(status: number, body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const message = typeof b['message'] === 'string' ? b['message'] : undefined;
    const code = typeof b['code'] === 'string' ? b['code'] : undefined;
    if (message) return `HTTP ${status}${code ? ` ${code}` : ''}: ${message}`;
  }
  return `HTTP ${status}`;
}

/** Error bodies are kept for technicians, trimmed; they never contain our credentials. */
function safeBody(body: unknown): unknown {
  if (typeof body === 'string') return body.slice(0, 500);
  return body;
}
