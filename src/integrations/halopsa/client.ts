import { setTimeout as sleep } from 'node:timers/promises';
import { DeskhandError, isDeskhandError } from '../../core/errors.ts';
import { backoffMs, baseUrlProblem, HttpClient, type HttpClientOptions, type HttpRequest } from '../http.ts';

/**
 * The HaloPSA REST client: an OAuth2 client-credentials token from the tenant's authorisation
 * server (`{authUrl}/token`, `?tenant=` for a hosted instance), then JSON under `{baseUrl}/api/`.
 * Writes POST arrays; an update is a POST carrying `id`. Lists page with Halo's own spelling,
 * `pageinate=true&page_size=N&page_no=1..`, and answer `{record_count, <records>: [...]}`.
 *
 * Retries (429 with Retry-After, 5xx, network) come from the shared HttpClient, bounded; a 401
 * drops the cached token and asks for a new one, once per call. Every error names HaloPSA and the
 * call (`HaloPSA GET Tickets/12: HTTP 404 ...`), never a credential.
 */

export const SYSTEM = 'HaloPSA';
/** Halo's answers are capped here per page; a list reads every page up to `maxPages`. */
export const DEFAULT_PAGE_SIZE = 100;
/** A token is renewed this long before Halo says it expires. */
const TOKEN_MARGIN_MS = 60_000;
/** How far before a post an action found after it failed may date and still be that post's. */
const LANDED_ACTION_WINDOW_MS = 2 * 60_000;
/** What deskhand asks for unless configured otherwise: tickets and actions, and the client list. */
export const DEFAULT_SCOPE = 'read:tickets edit:tickets read:customers';

export interface HaloConfig {
  /** The instance, e.g. `https://acme.halopsa.com` (the API is under `/api`). */
  baseUrl: string;
  /** The authorisation server (default `{baseUrl}/auth`; the token URL is `{authUrl}/token`). */
  authUrl?: string;
  /** A hosted instance's tenant name (sent as `?tenant=` on the token URL); empty for self-hosted. */
  tenant?: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated scopes (default `DEFAULT_SCOPE`). */
  scope?: string;
}

export interface HaloClientOptions {
  timeoutMs?: number;
  maxAttempts?: number;
  maxInlineWaitMs?: number;
  maxPages?: number;
  pageSize?: number;
}

export interface HaloTicket {
  id: number;
  summary?: string;
  details?: string;
  details_html?: string;
  status_id?: number;
  tickettype_id?: number;
  client_id?: number;
  client_name?: string;
  user_id?: number;
  user_name?: string;
  user_email?: string;
  agent_id?: number;
  hasbeenclosed?: boolean;
  [key: string]: unknown;
}

export interface HaloAction {
  id: number;
  ticket_id: number;
  note?: string;
  note_html?: string;
  outcome?: string;
  outcome_id?: number;
  hiddenfromuser?: boolean;
  who?: string;
  who_agentid?: number;
  datetime?: string;
  [key: string]: unknown;
}

export interface HaloNamed {
  id: number;
  name: string;
  [key: string]: unknown;
}

export interface HaloClientRecord extends HaloNamed {
  inactive?: boolean;
}

export interface HaloWebhook {
  id: string | number;
  name?: string;
  url?: string;
  [key: string]: unknown;
}

export interface NewAction {
  ticket_id: number;
  note: string;
  /** The action type's name (Halo's "outcome"), e.g. "Private Note". */
  outcome?: string;
  outcome_id?: number;
  hiddenfromuser: boolean;
  sendemail: boolean;
}

export interface TicketQuery {
  client_id?: number;
  open_only?: boolean;
  order?: string;
  orderdesc?: boolean;
}

interface Token {
  value: string;
  expiresAt: number;
  scope: string;
}

export class HaloClient {
  readonly baseUrl: string;
  readonly apiBaseUrl: string;
  readonly tokenUrl: string;
  readonly scope: string;
  private readonly config: HaloConfig;
  private readonly options: Required<Omit<HaloClientOptions, 'timeoutMs' | 'maxAttempts' | 'maxInlineWaitMs'>> & HaloClientOptions;
  private readonly secrets: string[];
  private token: Token | null = null;
  private tokenPending: Promise<Token> | null = null;

  constructor(config: HaloConfig, options: HaloClientOptions = {}) {
    for (const [field, value] of [['baseUrl', config.baseUrl], ['authUrl', config.authUrl]] as const) {
      if (value === undefined) continue;
      const problem = baseUrlProblem(value, { developmentLoopback: true });
      if (problem) throw new DeskhandError('config', `${SYSTEM}: the ${field} ${problem}.`);
    }
    if (!config.clientId.trim() || !config.clientSecret) throw new DeskhandError('config', `${SYSTEM}: a client id and a client secret are required`);
    this.config = config;
    this.baseUrl = config.baseUrl.replace(/\/+$/, '');
    this.apiBaseUrl = `${this.baseUrl}/api/`;
    const authUrl = (config.authUrl ?? `${this.baseUrl}/auth`).replace(/\/+$/, '');
    this.tokenUrl = `${authUrl}/token`;
    this.scope = (config.scope ?? DEFAULT_SCOPE).trim().split(/\s+/).join(' ') || DEFAULT_SCOPE;
    this.options = { maxPages: 1_000, pageSize: DEFAULT_PAGE_SIZE, ...options };
    this.secrets = [config.clientSecret];
  }

  // --- the token ---------------------------------------------------------------------------------

  /** A valid access token (cached until shortly before it expires; one request at a time). */
  async accessToken(): Promise<Token> {
    if (this.token && this.token.expiresAt > Date.now()) return this.token;
    this.tokenPending ??= this.fetchToken().finally(() => {
      this.tokenPending = null;
    });
    this.token = await this.tokenPending;
    return this.token;
  }

  /** Forget the cached token (Halo answered 401: it expired or was revoked). */
  dropToken(): void {
    this.token = null;
  }

  private async fetchToken(): Promise<Token> {
    const url = new URL(this.tokenUrl);
    const http = new HttpClient({ ...this.shared('POST token'), baseUrl: url.origin, describeError: (status, body) => this.redact(describeTokenError(status, body)) });
    const response = await http.request<Record<string, unknown>>({
      method: 'POST',
      url: url.pathname,
      ...(this.config.tenant ? { query: { tenant: this.config.tenant } } : {}),
      form: { grant_type: 'client_credentials', client_id: this.config.clientId, client_secret: this.config.clientSecret, scope: this.scope },
    });
    const body = response.body ?? {};
    const value = body['access_token'];
    if (typeof value !== 'string' || value === '') throw new DeskhandError('upstream', `${SYSTEM} POST token: the answer has no access_token`);
    // Redacted from error texts: the client secret and the tokens in use (the newest few).
    this.secrets.push(value);
    if (this.secrets.length > 4) this.secrets.splice(1, this.secrets.length - 4);
    const expiresIn = Number(body['expires_in']);
    const lifetimeMs = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 3_600_000;
    return {
      value,
      expiresAt: Date.now() + Math.max(lifetimeMs - TOKEN_MARGIN_MS, lifetimeMs / 2),
      // Halo answers the granted scopes (unverified on a real tenant); what was asked for otherwise.
      scope: typeof body['scope'] === 'string' ? body['scope'] : this.scope,
    };
  }

  // --- tickets -----------------------------------------------------------------------------------

  async getTicket(id: number): Promise<HaloTicket> {
    const body = await this.call<HaloTicket>({ method: 'GET', url: `Tickets/${positiveId(id, 'ticket')}`, query: { includedetails: true } });
    return record(body, 'ticket', `GET Tickets/${id}`);
  }

  async listTickets(query: TicketQuery = {}, limit?: number): Promise<HaloTicket[]> {
    return this.listAll<HaloTicket>('Tickets', 'tickets', { ...query }, limit);
  }

  /** Move a ticket to a status (an update is a POST of the ticket with its id). */
  async setTicketStatus(id: number, statusId: number): Promise<void> {
    await this.call({ method: 'POST', url: 'Tickets', json: [{ id: positiveId(id, 'ticket'), status_id: positiveId(statusId, 'status') }] });
  }

  // --- actions -----------------------------------------------------------------------------------

  /** Every action of the ticket, oldest first. */
  async listActions(ticketId: number): Promise<HaloAction[]> {
    const body = await this.call<{ actions?: unknown }>({ method: 'GET', url: 'Actions', query: { ticket_id: positiveId(ticketId, 'ticket') } });
    const actions = Array.isArray(body?.actions) ? (body.actions as HaloAction[]) : [];
    return actions.filter((a) => typeof a?.id === 'number').sort((a, b) => a.id - b.id);
  }

  /**
   * Adds an action. An action posted twice is two actions, so a failed post is never repeated
   * blindly: before each quick retry the ticket's actions are read, and one with the same text and
   * visibility from this post's time is the answer. A failure that outlasts the quick retries goes
   * back to the caller, who looks again (findNote) before posting again.
   */
  async addAction(action: NewAction): Promise<HaloAction> {
    const since = Date.now() - LANDED_ACTION_WINDOW_MS;
    const maxAttempts = this.options.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        const body = await this.call<unknown>({ method: 'POST', url: 'Actions', json: [action] }, { maxAttempts: 1 });
        // One record posted: Halo answers the created object (a bare object or a one-element array).
        return record(Array.isArray(body) ? body[0] : body, 'action', 'POST Actions');
      } catch (error) {
        if (!isDeskhandError(error) || !error.retryable || attempt >= maxAttempts) throw error;
        const waitMs = Math.max(error.retryAfterMs ?? 0, backoffMs(attempt));
        if (waitMs > (this.options.maxInlineWaitMs ?? 2_000)) throw error;
        await sleep(waitMs);
        const landed = (await this.listActions(action.ticket_id)).filter(
          (a) => comparable(a.note ?? '') === comparable(action.note) && (a.hiddenfromuser === true) === action.hiddenfromuser && dateSince(a.datetime, since),
        );
        if (landed.length > 0) return landed.at(-1)!;
      }
    }
  }

  // --- lookups -----------------------------------------------------------------------------------

  async listStatuses(): Promise<HaloNamed[]> {
    return lookup<HaloNamed>(await this.call({ method: 'GET', url: 'Status' }), 'statuses');
  }

  async listTicketTypes(): Promise<HaloNamed[]> {
    return lookup<HaloNamed>(await this.call({ method: 'GET', url: 'TicketType' }), 'tickettypes');
  }

  async listClients(limit?: number): Promise<HaloClientRecord[]> {
    return this.listAll<HaloClientRecord>('Client', 'clients', {}, limit);
  }

  // --- webhooks (the API route is unverified: see the README) ------------------------------------

  async listWebhooks(): Promise<HaloWebhook[]> {
    return lookup<HaloWebhook>(await this.call({ method: 'GET', url: 'Webhook' }), 'webhooks');
  }

  async saveWebhook(webhook: Record<string, unknown>): Promise<HaloWebhook> {
    const body = await this.call<unknown>({ method: 'POST', url: 'Webhook', json: [webhook] });
    return (Array.isArray(body) ? body[0] : body) as HaloWebhook;
  }

  /** One record of a list, for the doctor: its answer (or its 403) says whether the scope is there. */
  async probe(path: 'Tickets' | 'Client' | 'Webhook'): Promise<void> {
    await this.call({ method: 'GET', url: path, query: path === 'Webhook' ? {} : { pageinate: true, page_size: 1, page_no: 1 } });
  }

  // --- plumbing ----------------------------------------------------------------------------------

  /** Every record of a list, page by page (`pageinate=true`), up to `limit` records. */
  private async listAll<T>(path: string, key: string, query: Record<string, string | number | boolean | undefined>, limit?: number): Promise<T[]> {
    const out: T[] = [];
    const pageSize = limit !== undefined ? Math.min(limit, this.options.pageSize) : this.options.pageSize;
    for (let page = 1; page <= this.options.maxPages; page++) {
      const body = await this.call<Record<string, unknown>>({ method: 'GET', url: path, query: { ...query, pageinate: true, page_size: pageSize, page_no: page } });
      const records = body?.[key];
      if (!Array.isArray(records)) throw new DeskhandError('upstream', `${SYSTEM} GET ${path}: the answer has no "${key}" list`);
      out.push(...(records as T[]));
      const total = Number(body['record_count']);
      if (limit !== undefined && out.length >= limit) return out.slice(0, limit);
      if (records.length < pageSize || (Number.isFinite(total) && out.length >= total)) return out;
    }
    throw new DeskhandError('upstream', `${SYSTEM} GET ${path}: more than ${this.options.maxPages} pages; stopped`);
  }

  /**
   * One API call, named in its errors: `HaloPSA GET Tickets/12: HTTP 404 ...`. The token is fetched
   * first (its own errors name the token call); a 401 drops it and the call is made once more with a
   * new one, never twice.
   */
  private async call<T>(req: HttpRequest, overrides: Partial<HttpClientOptions> = {}): Promise<T> {
    const name = `${req.method} ${req.url.split('?')[0]}`;
    for (let refreshed = false; ; refreshed = true) {
      const token = await this.accessToken();
      const http = new HttpClient({
        ...this.shared(name),
        ...overrides,
        baseUrl: this.apiBaseUrl,
        headers: () => ({ authorization: `Bearer ${token.value}` }),
        describeError: (status, body) => this.redact(describeHaloError(status, body)),
      });
      try {
        return (await http.request<T>(req)).body;
      } catch (error) {
        if (refreshed || !isDeskhandError(error) || error.details?.['status'] !== 401) throw error;
        if (this.token === token) this.dropToken();
      }
    }
  }

  /** The scopes the current token was granted (signing in when needed). */
  async grantedScope(): Promise<string> {
    return (await this.accessToken()).scope;
  }

  private shared(call: string): Omit<HttpClientOptions, 'baseUrl'> {
    return {
      system: `${SYSTEM} ${call}`,
      ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}),
      ...(this.options.maxAttempts !== undefined ? { maxAttempts: this.options.maxAttempts } : {}),
      ...(this.options.maxInlineWaitMs !== undefined ? { maxInlineWaitMs: this.options.maxInlineWaitMs } : {}),
    };
  }

  /** Whatever Halo echoes, without our secret or tokens. */
  private redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
    return out;
  }
}

/** Halo's error bodies vary (a string, `{message}`, `{error, error_description}`): the gist, short. */
export function describeHaloError(status: number, body: unknown): string {
  let message = '';
  if (typeof body === 'string') message = body;
  else if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    message = [b['message'], b['error'], b['error_description'], b['ClassName']].filter((v) => typeof v === 'string' && v !== '').join(': ');
  }
  const hint = status === 401 ? ' (the token was refused)' : status === 403 ? ' (the application, its scopes or its agent lack the permission)' : '';
  return `HTTP ${status}${hint}${message ? `: ${message.slice(0, 300)}` : ''}`;
}

function describeTokenError(status: number, body: unknown): string {
  const error = body && typeof body === 'object' ? (body as Record<string, unknown>)['error'] : undefined;
  const what = error === 'invalid_client' ? 'the client id or secret was refused' : error === 'invalid_scope' ? 'a requested scope is not granted to the application' : '';
  return `${describeHaloError(status, body)}${what ? ` — ${what}` : ''}`;
}

function record<T>(body: unknown, what: string, call: string): T {
  if (!body || typeof body !== 'object' || typeof (body as { id?: unknown }).id !== 'number') {
    throw new DeskhandError('upstream', `${SYSTEM} ${call}: the answer is not a ${what}`);
  }
  return body as T;
}

/** A lookup answers a bare array (or, unverified, an envelope): both are read. */
function lookup<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[];
  const inner = body && typeof body === 'object' ? (body as Record<string, unknown>)[key] : undefined;
  return Array.isArray(inner) ? (inner as T[]) : [];
}

function positiveId(id: number, what: string): number {
  if (!Number.isInteger(id) || id <= 0) throw new DeskhandError('bad_request', `${SYSTEM}: "${id}" is not a ${what} id`);
  return id;
}

export function comparable(text: string): string {
  return text.replace(/\r\n?/g, '\n').trim();
}

function dateSince(value: string | undefined, since: number): boolean {
  if (!value) return true;
  const at = Date.parse(value);
  return Number.isNaN(at) || at >= since;
}

/** Whether a granted scope list covers `needed` (`all` covers everything). */
export function scopeCovers(granted: string, needed: string): boolean {
  const scopes = granted.toLowerCase().split(/\s+/);
  return scopes.includes('all') || scopes.includes(needed.toLowerCase());
}
