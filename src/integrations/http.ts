import { setTimeout as sleep } from 'node:timers/promises';
import { DeskhandError } from '../core/errors.ts';
import { nodeTransport, ResponseTooLargeError, type Transport, type TransportResponse } from './transport.ts';

/**
 * The one HTTP client every integration uses: JSON in and out, a timeout, and short in-process
 * retries on 429/5xx/network errors (honouring Retry-After) with exponential backoff and jitter.
 * Waits longer than `maxInlineWaitMs` are not slept here: the error carries `retryAfterMs` so the
 * engine can schedule a durable retry (a row, not a timer).
 *
 * What it sends out is held to three rules, whoever calls it:
 * - its base URL is https, or http to a loopback address only (nothing travels in cleartext over a
 *   network; whether configuration may name loopback at all is `baseUrlProblem`'s second question);
 * - every request goes to the base URL's origin, and a redirect is never followed (an answer 3xx is
 *   an error naming where it pointed), so credentials never reach another host;
 * - an answer's body is read up to `maxResponseBytes` (10 MiB unless the client says otherwise) and
 *   the call fails beyond it, whether or not the answer announced its length.
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
  /** The largest answer body read, in bytes (default DEFAULT_MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
}

/** The largest answer body an integration's client reads unless it sets its own limit: 10 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/**
 * The name of the integration setting that lets a configured base URL use http:// to a loopback
 * address (the built-in emulators). Only the demo world's seeding writes it (src/world/seed.ts); an
 * API that edits integration settings must never accept it.
 */
export const DEVELOPMENT_LOOPBACK_SETTING = 'developmentLoopback';

/** 127.0.0.0/8, ::1 and `localhost`, as a WHATWG URL's `hostname` spells them (IPv6 in brackets). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === 'localhost' || host === '[::1]') return true;
  // The URL parser already turned every IPv4 spelling (127.1, 0x7f.1, 2130706433) into dotted decimal.
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Why `value` cannot be the base URL of an integration, or undefined when it can: it must be an
 * https:// URL without a user name or password; http:// is accepted only for a loopback address, and
 * only with `developmentLoopback` (the development setting; HttpClient itself passes true). The
 * answer never repeats the value: a secret pasted into the wrong field must not reach a log.
 */
export function baseUrlProblem(value: string, options: { developmentLoopback: boolean }): string | undefined {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return 'must be an https:// URL (the value is not a URL)';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `must be an https:// URL (not ${url.protocol.slice(0, 20)}//)`;
  if (url.username !== '' || url.password !== '') return 'must not contain a user name or password (credentials are configured separately)';
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname)) return 'must be an https:// URL: http:// would send credentials in cleartext (it is accepted only for a loopback address such as 127.0.0.1, for development)';
    if (!options.developmentLoopback) {
      return `must be an https:// URL: http:// to a loopback address is accepted only for the built-in emulators (the ${DEVELOPMENT_LOOPBACK_SETTING} setting, which only the demo world sets)`;
    }
  }
  return undefined;
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
  private readonly origin: string;

  constructor(options: HttpClientOptions) {
    const problem = baseUrlProblem(options.baseUrl, { developmentLoopback: true });
    if (problem) throw new DeskhandError('config', `${options.system}: the base URL ${problem}.`);
    this.options = {
      timeoutMs: CALL_TIMEOUT_MS,
      maxAttempts: 3,
      maxInlineWaitMs: 2_000,
      fetchImpl: nodeTransport,
      maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
      ...options,
    };
    this.origin = new URL(options.baseUrl).origin;
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
    // The headers (credentials) go with every request: never to another origin than the configured one.
    if (target.origin !== this.origin) {
      throw new DeskhandError('upstream', `${this.options.system}: refusing to send a request to another address (${target.host || target.protocol}) than the configured ${new URL(this.origin).host}`);
    }
    return target.toString();
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const url = this.resolveUrl(req.url, req.query);
    let unauthorizedRetried = false;
    for (let attempt = 1; ; attempt++) {
      let response: TransportResponse;
      let body: unknown;
      try {
        response = await this.send(url, req);
        body = await readBody(response, this.options.maxResponseBytes);
      } catch (cause) {
        // The same answer would come again: too large is final, not retried.
        if (cause instanceof ResponseTooLargeError) throw this.tooLarge(cause);
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
      if (response.ok || req.acceptStatuses?.includes(response.status)) {
        return { status: response.status, headers: response.headers, body: body as T, url };
      }
      if (REDIRECTS.has(response.status)) throw this.redirected(response, url);
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
      redirect: 'manual',
      maxResponseBytes: this.options.maxResponseBytes,
    });
  }

  private tooLarge(cause: ResponseTooLargeError): DeskhandError {
    return new DeskhandError(
      'upstream',
      `${this.options.system} sent an answer larger than ${formatBytes(cause.limitBytes)}, the most deskhand reads from it; it stopped reading there`,
      { details: { limitBytes: cause.limitBytes }, cause },
    );
  }

  /**
   * A redirect is an error: following it would send this call's credentials wherever the answer
   * points. The message names the host, so an admin can configure the address it points to.
   */
  private redirected(response: TransportResponse, url: string): DeskhandError {
    const location = response.headers.get('location');
    let where = 'no address';
    if (location !== null) {
      try {
        const target = new URL(location, url);
        where = target.origin === this.origin ? `another path on ${target.host}` : `another host, ${target.host || target.protocol}`;
      } catch {
        where = 'an address that is not a URL';
      }
    }
    return new DeskhandError(
      'upstream',
      `${this.options.system} answered with a redirect (HTTP ${response.status}) to ${where.slice(0, 200)}; deskhand does not follow redirects, so that credentials only go to the configured address: configure the address it points to`,
      { details: { status: response.status } },
    );
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The body as JSON (or text), no longer than `limit` bytes. The node transport stops reading at the
 * limit as the body streams in; for any other transport (fetch) the announced length is checked
 * before reading and the length read after.
 */
async function readBody(response: TransportResponse, limit: number): Promise<unknown> {
  const announced = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(announced) && announced > limit) throw new ResponseTooLargeError(limit);
  const text = await response.text();
  if (text.length > limit || Buffer.byteLength(text, 'utf8') > limit) throw new ResponseTooLargeError(limit);
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

function formatBytes(bytes: number): string {
  const MiB = 1024 * 1024;
  if (bytes >= MiB && bytes % (MiB / 4) === 0) return `${bytes / MiB} MiB`;
  if (bytes >= 1024 && bytes % 256 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
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

/**
 * A base URL from an integration's settings, held to the outbound rule before a client is built
 * with it: https only; http:// to a loopback address only when the settings carry the development
 * setting (`developmentLoopback: true`), which only the demo world's seeding writes for the
 * built-in emulators. The error names the integration and the field, never the value.
 */
export function settingUrl(integration: { name: string; kind: string; id: string }, settings: Record<string, unknown>, field: string): string | undefined {
  const value = settings[field];
  if (value === undefined || value === null || value === '') return undefined;
  const problem =
    typeof value === 'string' ? baseUrlProblem(value, { developmentLoopback: settings[DEVELOPMENT_LOOPBACK_SETTING] === true }) : 'must be an https:// URL (it is not text)';
  if (problem) {
    throw new DeskhandError('config', `integration ${integration.name} (${integration.kind}): its ${field} ${problem}`, { details: { integrationId: integration.id, field } });
  }
  return value as string;
}

/** A setting or secret the integration cannot work without. */
export function requiredSetting(integration: { name: string }, value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new DeskhandError('config', `integration ${integration.name} is missing its ${name}`);
  return value;
}
