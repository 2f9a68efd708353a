import type { ErrorAnswer } from '../../src/api/contract.ts';

/**
 * The dashboard's only way to the server: the HTTP API, with the session cookie (HttpOnly, sent by
 * the browser) and, for changes, the session's CSRF token in x-csrf-token. The token lives in memory
 * only: after a reload it is fetched again from GET /api/session/csrf.
 */
let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** A refusal of the API: its HTTP status, code and message (shown to the user as it is). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the API answers 401 (the session ended): the app sends the user to sign in. */
let onSignedOut: (() => void) | null = null;
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') {
    // Signing in, the setup and an invitation have no session yet; everything else (signing out too) needs the token.
    const signsIn = (method === 'POST' && path === '/api/session') || path.startsWith('/api/setup') || path.startsWith('/api/invites/');
    if (!csrfToken && !signsIn) {
      csrfToken = await fetchCsrfToken();
    }
    if (csrfToken) headers['x-csrf-token'] = csrfToken;
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new ApiError(0, 'network', 'deskhand did not answer: is the service running?');
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const error = (parsed as ErrorAnswer | null)?.error;
    if (response.status === 401 && !path.startsWith('/api/session') && onSignedOut) onSignedOut();
    throw new ApiError(response.status, error?.code ?? 'http', error?.message ?? `the server answered ${response.status}`);
  }
  return parsed as T;
}

async function fetchCsrfToken(): Promise<string | null> {
  const response = await fetch('/api/session/csrf', { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (!response.ok) return null;
  return ((await response.json()) as { csrfToken: string | null }).csrfToken;
}

export const api = {
  get: <T>(path: string) => call<T>('GET', path),
  post: <T>(path: string, body?: unknown) => call<T>('POST', path, body ?? {}),
  put: <T>(path: string, body: unknown) => call<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown) => call<T>('PATCH', path, body),
  delete: <T>(path: string) => call<T>('DELETE', path),
};

/** A message for any error a query or mutation throws. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
