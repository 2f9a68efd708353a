import { setTimeout as sleep } from 'node:timers/promises';
import { DeskhandError, isDeskhandError } from '../../core/errors.ts';
import { backoffMs, baseUrlProblem, HttpClient, type HttpClientOptions, type HttpRequest, type HttpResponse } from '../http.ts';

/**
 * The Autotask PSA REST client (API v1.0). Every database lives in a zone: the zone's base URL is
 * found once through `zoneInformation` from the API user's name, then every call carries the three
 * headers Autotask reads (`ApiIntegrationCode`, the tracking identifier; `UserName`; `Secret`).
 * Retries on 429/5xx (Retry-After honoured, bounded) and timeouts come from the shared HttpClient;
 * this file adds the zone, Autotask's query filters and paging (`pageDetails.nextPageUrl`, at most
 * 500 records a page), its error bodies (`{"errors": [...]}`) and the entities deskhand uses.
 * Errors name Autotask and the call, never the secret, the user name or the tracking identifier.
 */

const SYSTEM = 'Autotask';
/** The zone lookup's host: any zone answers it (Autotask's docs use webservices.autotask.net). */
export const DEFAULT_ZONE_LOOKUP_URL = 'https://webservices.autotask.net/atservicesrest/';
/** Autotask returns at most 500 records per query page. */
export const MAX_RECORDS = 500;

export interface AutotaskConfig {
  /** The API-only user's user name (an email address): the zone is looked up by it. */
  username: string;
  secret: string;
  /** The API tracking identifier (ApiIntegrationCode), what thread limits are counted against. */
  integrationCode: string;
  /** Where the zone is looked up (default Autotask's); the emulator's URL for the demo world. */
  zoneLookupUrl?: string;
  /** The zone URL may be http:// on loopback (the built-in emulator only). */
  developmentLoopback?: boolean;
}

export interface AutotaskClientOptions {
  timeoutMs?: number;
  maxAttempts?: number;
  maxInlineWaitMs?: number;
  /** Safety stop for runaway paging. */
  maxPages?: number;
}

export type AutotaskFilter = { op: string; field?: string; value?: unknown; udf?: boolean; items?: AutotaskFilter[] };

export type AutotaskRecord = Record<string, unknown> & { id: number };

export interface PicklistValue {
  value: string;
  label: string;
  isDefaultValue?: boolean;
  isActive?: boolean;
}

export interface EntityField {
  name: string;
  isPickList?: boolean;
  picklistValues?: PicklistValue[] | null;
}

export interface Zone {
  zoneName: string | null;
  /** e.g. `https://webservices14.autotask.net/ATServicesRest/` */
  url: string;
  /** `{url}V1.0/` */
  apiBaseUrl: string;
}

export interface NewTicketNote {
  title: string;
  description: string;
  noteType: number;
  publish: number;
}

export interface WebhookRegistration {
  name: string;
  webhookUrl: string;
  deactivationUrl: string;
  secretKey: string;
}

export class AutotaskClient {
  private readonly config: AutotaskConfig;
  private readonly options: AutotaskClientOptions;
  private readonly lookup: HttpClient;
  private zone: Promise<{ zone: Zone; http: HttpClient; once: HttpClient }> | null = null;
  private readonly fieldCache = new Map<string, Promise<EntityField[]>>();
  private ownResource: Promise<number> | null = null;
  /** Autotask's thread limit: at most 3 calls at once per entity and tracking identifier (this process's share). */
  private readonly threads = new EntityThreads(THREADS_PER_ENTITY);

  constructor(config: AutotaskConfig, options: AutotaskClientOptions = {}) {
    for (const [name, value] of [
      ['username', config.username],
      ['secret', config.secret],
      ['integrationCode', config.integrationCode],
    ] as const) {
      if (typeof value !== 'string' || value.trim() === '') throw new DeskhandError('config', `Autotask: the ${name} is required`);
    }
    this.config = config;
    this.options = options;
    const lookupUrl = config.zoneLookupUrl ?? DEFAULT_ZONE_LOOKUP_URL;
    const problem = baseUrlProblem(lookupUrl, { developmentLoopback: config.developmentLoopback === true });
    if (problem) throw new DeskhandError('config', `Autotask: the zone lookup URL ${problem}`);
    this.lookup = new HttpClient({ ...this.shared(), baseUrl: lookupUrl });
  }

  get username(): string {
    return this.config.username;
  }

  private shared(): Omit<HttpClientOptions, 'baseUrl'> {
    return {
      system: SYSTEM,
      describeError: (status, body) => this.redact(describeAutotaskError(status, body)),
      ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}),
      ...(this.options.maxAttempts !== undefined ? { maxAttempts: this.options.maxAttempts } : {}),
      ...(this.options.maxInlineWaitMs !== undefined ? { maxInlineWaitMs: this.options.maxInlineWaitMs } : {}),
    };
  }

  /** Never a credential in a message, whatever Autotask echoes back. */
  private redact(text: string): string {
    let out = text;
    for (const secret of [this.config.secret, this.config.integrationCode, this.config.username]) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
    return out;
  }

  // --- zone ------------------------------------------------------------------------------------

  /**
   * The zone of the API user's database, looked up once and kept (a failed lookup is tried again on
   * the next call). Zone lookups are not subject to thread limits; Autotask's own module sends them
   * without the credential headers, and so does this client (the user name is in the query).
   */
  async getZone(): Promise<Zone> {
    return (await this.zoned()).zone;
  }

  private zoned(): Promise<{ zone: Zone; http: HttpClient; once: HttpClient }> {
    if (!this.zone) {
      this.zone = this.discover().catch((error: unknown) => {
        this.zone = null;
        throw error;
      });
    }
    return this.zone;
  }

  private async discover(): Promise<{ zone: Zone; http: HttpClient; once: HttpClient }> {
    const response = await this.call(this.lookup, { method: 'GET', url: 'v1.0/zoneInformation', query: { user: this.config.username } }, 'zoneInformation');
    const body = response.body as Record<string, unknown> | null;
    const url = typeof body?.['url'] === 'string' ? body['url'] : '';
    if (url === '') throw new DeskhandError('upstream', 'Autotask zoneInformation: no zone for this API user (check the user name)');
    const problem = zoneUrlProblem(url, this.config.developmentLoopback === true);
    if (problem) throw new DeskhandError('upstream', `Autotask zoneInformation: the zone URL ${problem}`);
    const base = url.endsWith('/') ? url : `${url}/`;
    const zone: Zone = { zoneName: typeof body?.['zoneName'] === 'string' ? body['zoneName'] : null, url: base, apiBaseUrl: `${base}V1.0/` };
    const headers = () => ({ ApiIntegrationCode: this.config.integrationCode, UserName: this.config.username, Secret: this.config.secret });
    const http = new HttpClient({ ...this.shared(), baseUrl: zone.apiBaseUrl, headers });
    const once = new HttpClient({ ...this.shared(), baseUrl: zone.apiBaseUrl, headers, maxAttempts: 1 });
    return { zone, http, once };
  }

  // --- calls -----------------------------------------------------------------------------------

  /** Every error names the call (`Autotask GET Tickets/123: HTTP 404 ...`). */
  private async call<T>(http: HttpClient, req: HttpRequest, what: string): Promise<HttpResponse<T>> {
    try {
      return await http.request<T>(req);
    } catch (error) {
      if (!isDeskhandError(error)) throw error;
      const message = this.redact(error.message.replace(/^Autotask(:| could)/, `Autotask ${what}$1`));
      throw new DeskhandError(error.code, message, {
        ...(error.details ? { details: error.details } : {}),
        ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
      });
    }
  }

  private async api<T>(req: HttpRequest, what?: string, single = false): Promise<HttpResponse<T>> {
    const zoned = await this.zoned();
    const release = await this.threads.acquire(entityOf(req.url, zoned.zone.apiBaseUrl));
    try {
      return await this.call<T>(single ? zoned.once : zoned.http, req, what ?? `${req.method} ${req.url.split('?')[0]}`);
    } finally {
      release();
    }
  }

  /** One record by id, or null when Autotask has none (`{"item": null}` or 404). */
  async get(entity: string, id: number): Promise<AutotaskRecord | null> {
    const response = await this.api<{ item?: AutotaskRecord | null }>({ method: 'GET', url: `${entity}/${positive(id, entity)}`, acceptStatuses: [404] });
    if (response.status === 404) return null;
    return response.body?.item ?? null;
  }

  /**
   * Every record matching the filter, across all pages: `POST {entity}/query`, then each
   * `pageDetails.nextPageUrl` (an absolute URL on the zone, GET) until it is null. `limit` stops
   * early (1 with a `gt` filter is the newest-first trick's counterpart).
   */
  async query(entity: string, filter: AutotaskFilter[], options: { maxRecords?: number; limit?: number; includeFields?: string[] } = {}): Promise<AutotaskRecord[]> {
    const maxRecords = Math.min(MAX_RECORDS, Math.max(1, options.maxRecords ?? MAX_RECORDS));
    const body = { MaxRecords: maxRecords, filter, ...(options.includeFields ? { IncludeFields: [...new Set(['id', ...options.includeFields])] } : {}) };
    const out: AutotaskRecord[] = [];
    let page = await this.api<QueryPage>({ method: 'POST', url: `${entity}/query`, json: body }, `POST ${entity}/query`);
    for (let pages = 1; ; pages++) {
      out.push(...(page.body?.items ?? []));
      const next = page.body?.pageDetails?.nextPageUrl;
      if (!next || (options.limit !== undefined && out.length >= options.limit)) break;
      if (pages >= (this.options.maxPages ?? 1000)) throw new DeskhandError('upstream', `Autotask POST ${entity}/query: more than ${pages} pages; stopping`);
      page = await this.api<QueryPage>({ method: 'GET', url: next }, `GET ${entity}/query (page ${pages + 1})`);
    }
    return options.limit !== undefined ? out.slice(0, options.limit) : out;
  }

  async create(entity: string, body: Record<string, unknown>): Promise<number> {
    const response = await this.api<{ itemId?: number }>({ method: 'POST', url: entity, json: body });
    return itemId(response.body, `POST ${entity}`);
  }

  /** A partial update (`PATCH {entity}` with the record's id in the body). */
  async update(entity: string, id: number, changes: Record<string, unknown>): Promise<void> {
    await this.api({ method: 'PATCH', url: entity, json: { ...changes, id: positive(id, entity) } });
  }

  async remove(path: string): Promise<void> {
    await this.api({ method: 'DELETE', url: path, acceptStatuses: [404] });
  }

  /** The fields of an entity with their picklists (`{entity}/entityInformation/fields`), kept for the life of the client. */
  async fields(entity: string): Promise<EntityField[]> {
    let cached = this.fieldCache.get(entity);
    if (!cached) {
      cached = this.api<{ fields?: EntityField[] }>({ method: 'GET', url: `${entity}/entityInformation/fields` }).then((r) => r.body?.fields ?? []);
      cached.catch(() => this.fieldCache.delete(entity));
      this.fieldCache.set(entity, cached);
    }
    return cached;
  }

  /** The active values of one picklist field (statuses, queues, note publish types). */
  async picklist(entity: string, field: string): Promise<PicklistValue[]> {
    const found = (await this.fields(entity)).find((f) => f.name.toLowerCase() === field.toLowerCase());
    return (found?.picklistValues ?? []).filter((v) => v.isActive !== false).map((v) => ({ ...v, value: String(v.value) }));
  }

  /** Forget cached picklists (a technician changed them in Autotask). */
  forgetFields(): void {
    this.fieldCache.clear();
  }

  // --- tickets and notes -----------------------------------------------------------------------

  async getTicket(id: number): Promise<AutotaskRecord> {
    const ticket = await this.get('Tickets', id);
    if (!ticket) throw new DeskhandError('not_found', `Autotask has no ticket ${id}`);
    return ticket;
  }

  async ticketNotes(ticketId: number): Promise<AutotaskRecord[]> {
    const notes = await this.query('TicketNotes', [{ op: 'eq', field: 'ticketID', value: positive(ticketId, 'Tickets') }]);
    return notes.sort((a, b) => a.id - b.id);
  }

  /**
   * Adds a note through the ticket's child URL (`POST Tickets/{id}/Notes`; `POST TicketNotes`
   * answers 404). A note posted twice is two notes, so a failed post is never repeated blindly:
   * before a quick retry the ticket's notes are read, and a note with the same text, publish type and
   * author created since this post began is the answer.
   */
  async addTicketNote(ticketId: number, note: NewTicketNote): Promise<number> {
    const id = positive(ticketId, 'Tickets');
    const since = Date.now() - 2 * 60_000;
    const maxAttempts = this.options.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.api<{ itemId?: number }>({ method: 'POST', url: `Tickets/${id}/Notes`, json: note }, `POST Tickets/${id}/Notes`, true);
        return itemId(response.body, `POST Tickets/${id}/Notes`);
      } catch (error) {
        if (!isDeskhandError(error) || !error.retryable || attempt >= maxAttempts) throw error;
        const waitMs = Math.max(error.retryAfterMs ?? 0, backoffMs(attempt));
        if (waitMs > (this.options.maxInlineWaitMs ?? 2_000)) throw error;
        await sleep(waitMs);
        const landed = await this.findLandedNote(id, note, since);
        if (landed !== null) return landed;
      }
    }
  }

  private async findLandedNote(ticketId: number, note: NewTicketNote, since: number): Promise<number | null> {
    const own = await this.ownResourceId().catch(() => null);
    const found = (await this.ticketNotes(ticketId)).filter(
      (n) =>
        n['description'] === note.description &&
        Number(n['publish']) === note.publish &&
        (own === null || Number(n['creatorResourceID']) === own) &&
        Date.parse(String(n['createDateTime'] ?? '')) >= since,
    );
    return found.at(-1)?.id ?? null;
  }

  /** The Resource (Autotask's employee record) of the API user: its notes and changes are deskhand's. */
  ownResourceId(): Promise<number> {
    if (!this.ownResource) {
      this.ownResource = this.query('Resources', [{ op: 'eq', field: 'userName', value: this.config.username }], { maxRecords: 2 })
        .then(async (found) => {
          const byEmail = found[0] ?? (await this.query('Resources', [{ op: 'eq', field: 'email', value: this.config.username }], { maxRecords: 2 }))[0];
          if (!byEmail) throw new DeskhandError('config', 'Autotask: no Resource has the API user name of this integration');
          return byEmail.id;
        })
        .catch((error: unknown) => {
          this.ownResource = null;
          throw error;
        });
    }
    return this.ownResource;
  }

  async getContact(id: number): Promise<AutotaskRecord | null> {
    return this.get('Contacts', id);
  }

  async activeCompanies(): Promise<AutotaskRecord[]> {
    return this.query('Companies', [{ op: 'eq', field: 'isActive', value: true }], { includeFields: ['companyName', 'isActive'] });
  }

  // --- webhooks --------------------------------------------------------------------------------

  /** The webhooks of an entity (`TicketWebhooks`, `TicketNoteWebhooks`). */
  async listWebhooks(entity: WebhookEntity): Promise<AutotaskRecord[]> {
    return this.query(entity, [{ op: 'exist', field: 'id' }]);
  }

  async createWebhook(entity: WebhookEntity, input: WebhookRegistration): Promise<number> {
    return this.create(entity, {
      ...input,
      isActive: true,
      isSubscribedToCreateEvents: true,
      isSubscribedToUpdateEvents: false,
      isSubscribedToDeleteEvents: false,
      sendThresholdExceededNotification: true,
    });
  }

  /** Excludes a resource (deskhand's own) from a webhook: its changes are never sent. */
  async excludeResource(entity: WebhookEntity, webhookId: number, resourceId: number): Promise<void> {
    const existing = await this.query(`${entity}/${webhookId}/ExcludedResources`, [{ op: 'eq', field: 'resourceID', value: resourceId }]).catch(() => []);
    if (existing.length > 0) return;
    await this.create(`${entity}/${webhookId}/ExcludedResources`, { resourceID: resourceId });
  }
}

export type WebhookEntity = 'TicketWebhooks' | 'TicketNoteWebhooks';

/** Autotask counts concurrent calls per object endpoint and tracking identifier: 3 for integrations made since 2023.1. */
export const THREADS_PER_ENTITY = 3;

/** The entity a call is counted against: the first segment of its path under the zone's API base. */
function entityOf(url: string, apiBaseUrl: string): string {
  const path = url.startsWith(apiBaseUrl) ? url.slice(apiBaseUrl.length) : url.replace(/^https?:\/\/[^/]+\/[^/]+\/v1\.0\//i, '');
  return (path.replace(/^\/+/, '').split(/[/?]/)[0] ?? '').toLowerCase();
}

/** A counting semaphore per entity: callers past the limit wait their turn, in order. */
class EntityThreads {
  private readonly state = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(private readonly limit: number) {}

  async acquire(entity: string): Promise<() => void> {
    let slot = this.state.get(entity);
    if (!slot) {
      slot = { active: 0, waiting: [] };
      this.state.set(entity, slot);
    }
    const s = slot;
    if (s.active >= this.limit) await new Promise<void>((resolve) => s.waiting.push(resolve));
    else s.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = s.waiting.shift();
      // The slot passes straight to the next caller; otherwise it is freed.
      if (next) next();
      else s.active--;
    };
  }
}

interface QueryPage {
  items?: AutotaskRecord[];
  pageDetails?: { count?: number; requestCount?: number; prevPageUrl?: string | null; nextPageUrl?: string | null };
}

/**
 * A zone URL from zoneInformation: https on an autotask.net host (every zone Autotask documents is
 * `webservicesN.autotask.net`); http on loopback only for the built-in emulator.
 */
export function zoneUrlProblem(url: string, developmentLoopback: boolean): string | undefined {
  const problem = baseUrlProblem(url, { developmentLoopback });
  if (problem) return problem;
  const host = new URL(url).hostname.toLowerCase();
  if (new URL(url).protocol === 'https:' && !host.endsWith('.autotask.net') && !developmentLoopback) return 'is not on an autotask.net host';
  return undefined;
}

/** Autotask's error body is `{"errors": ["...", ...]}`. */
export function describeAutotaskError(status: number, body: unknown): string {
  const errors = body && typeof body === 'object' ? (body as { errors?: unknown }).errors : undefined;
  const messages = Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string').slice(0, 3) : [];
  if (status === 401) return `HTTP 401: the API user name, secret or tracking identifier was refused${messages.length ? ` (${messages.join('; ')})` : ''}`;
  return `HTTP ${status}${messages.length ? `: ${messages.join('; ').slice(0, 400)}` : ''}`;
}

function itemId(body: { itemId?: number } | null, what: string): number {
  const id = body?.itemId;
  if (typeof id !== 'number' || !Number.isInteger(id)) throw new DeskhandError('upstream', `Autotask ${what}: the answer has no itemId`);
  return id;
}

function positive(id: number, what: string): number {
  if (!Number.isInteger(id) || id < 0) throw new DeskhandError('bad_request', `"${id}" is not an Autotask ${what} id`);
  return id;
}
