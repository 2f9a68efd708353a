import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { DeskhandError, isDeskhandError } from '../../core/errors.ts';
import { backoffMs, baseUrlProblem, HttpClient, type HttpClientOptions, type HttpRequest, type HttpResponse, isTimeout } from '../http.ts';
import { CONNECTWISE_ACCEPT } from './api-version.ts';
import { condition } from './conditions.ts';
import { hostOf, isTrustedUrl, trustedOrigins } from './hosts.ts';
import {
  boardSchema,
  boardStatusSchema,
  callbackEntrySchema,
  companyInfoSchema,
  companySchema,
  type ConnectWiseBoard,
  type ConnectWiseBoardStatus,
  type ConnectWiseCallbackEntry,
  type ConnectWiseCompany,
  type ConnectWiseCompanyInfo,
  type ConnectWiseContact,
  type ConnectWiseMember,
  type ConnectWiseNote,
  type ConnectWiseTicket,
  contactSchema,
  errorBodySchema,
  memberSchema,
  noteSchema,
  securityRoleSettingSchema,
  type ConnectWiseSecurityRoleSetting,
  signingKeyResponseSchema,
  ticketSchema,
} from './schemas.ts';

/**
 * The ConnectWise PSA (Manage) REST client: API 3.0 at `{siteUrl}/{codebase}apis/3.0`, Basic auth
 * `companyId+publicKey:privateKey` plus the integration's `clientId` header on every call, and the
 * API version pinned in `Accept` (`CONNECTWISE_API_VERSION`, api-version.ts). Retries on
 * 429/5xx come from the shared HttpClient; this file adds ConnectWise's pagination (Link headers),
 * its error bodies, and the handful of records the agent reads and writes.
 */

export const DEFAULT_CODEBASE = 'v4_6_release/';
export const MAX_PAGE_SIZE = 1000;
/** ConnectWise rejects summaries over 100 characters. */
export const SUMMARY_MAX_LENGTH = 100;
/** ConnectWise's limit for a ticket's `externalXRef` (its "External Reference"). */
export const EXTERNAL_XREF_MAX_LENGTH = 100;
const SYSTEM = 'ConnectWise';
/** HttpClient's defaults, which this client's own retry of note posts follows. */
const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_MAX_INLINE_WAIT_MS = 2_000;
/**
 * How far before a post a note found after it failed may date and still be that post's: ConnectWise
 * stamps notes with its server's clock (whole seconds), which need not agree with ours. An identical
 * note (same text and flags) posted on purpose within this window would be mistaken for it; deskhand's
 * notes each carry a unique marker, so for them that cannot happen.
 */
const LANDED_NOTE_WINDOW_MS = 2 * 60_000;

/**
 * The signing-key fetch answers an unauthenticated callback, inline: a key is a short string, and the
 * callback waits for it (ConnectWise sends it again if we do not answer in time).
 */
export const SIGNING_KEY_FETCH_LIMITS = { maxResponseBytes: 64 * 1024, timeoutMs: 5_000, maxAttempts: 2 } as const;

const configSchema = z.object({
  // https, or http to loopback (the emulator); whether configuration may name loopback is the registry's rule.
  siteUrl: z.string().superRefine((value, ctx) => {
    const problem = baseUrlProblem(value, { developmentLoopback: true });
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  codebase: z.string().optional(),
  companyId: z.string().trim().min(1, 'is required'),
  publicKey: z.string().trim().min(1, 'is required'),
  privateKey: z.string().min(1, 'is required'),
  clientId: z.string().trim().min(1, 'is required'),
  siteAliases: z.array(z.string()).optional(),
});

export interface ConnectWiseConfig {
  /** e.g. `https://api-na.myconnectwise.net`, or `http://127.0.0.1:PORT` for the emulator. */
  siteUrl: string;
  /** Default `v4_6_release/`; cloud sites may use a versioned one such as `v2025_1/`. */
  codebase?: string;
  /** The PSA login company (not a customer company). */
  companyId: string;
  publicKey: string;
  privateKey: string;
  /** The integration's clientId from developer.connectwise.com; ConnectWise treats it as a secret. */
  clientId: string;
  /**
   * Other names of the site, trusted like its region's ConnectWise hosts for signing-key URLs and
   * `Link` headers: loopback URLs only (the emulator's second host name; see hosts.ts).
   */
  siteAliases?: readonly string[];
}

export interface ConnectWiseClientOptions {
  timeoutMs?: number;
  maxAttempts?: number;
  maxInlineWaitMs?: number;
  /** Safety stop for runaway pagination. */
  maxPages?: number;
  fetchImpl?: typeof fetch;
  /** The largest API answer read (default 10 MiB, HttpClient's). */
  maxResponseBytes?: number;
}

export interface ListQuery {
  /** A `conditions` expression; build it with `condition()`/`allOf()` from conditions.ts. */
  conditions?: string;
  orderBy?: string;
  fields?: string;
  /** Records per page, 1..1000 (ConnectWise's maximum). Every page is fetched unless `limit` is set. */
  pageSize?: number;
  /** Stop after this many records (e.g. 1 with `orderBy: 'id desc'` for the newest ticket). */
  limit?: number;
}

type Ref<K extends string> = { id: number } | { [key in K]: string };

export interface NewTicket {
  /** Cut to 100 characters (ConnectWise's limit) before sending. */
  summary: string;
  company: Ref<'identifier'>;
  board?: Ref<'name'>;
  status?: Ref<'name'>;
  priority?: Ref<'name'>;
  contact?: { id: number };
  contactEmailAddress?: string;
  /** Becomes the ticket's first Discussion note (customer-visible). */
  initialDescription?: string;
  /** Becomes an Internal note. */
  initialInternalAnalysis?: string;
  automaticEmailContactFlag?: boolean;
  /**
   * The ticket's marker (ConnectWise's "External Reference", at most 100 characters): unique per
   * ticket to open, so that a ticket whose creation may or may not have happened can be found. One is
   * made up when absent; a caller that may crash mid-call passes its own (derived from its
   * idempotency key) and looks for it with `findTicketByMarker` before opening the ticket again.
   */
  externalXRef?: string;
}

export interface NewTicketNote {
  text: string;
  /** `internal`: technicians only (`internalAnalysisFlag`); `discussion`: the customer sees it (`detailDescriptionFlag`). */
  visibility: 'internal' | 'discussion';
  /** Also mark a discussion note as the Resolution (customer-facing, appears on invoices). */
  resolution?: boolean;
  /** Let ConnectWise send its configured ticket emails for this note. Ignored on internal notes. */
  processNotifications?: boolean;
  customerUpdatedFlag?: boolean;
}

export interface JsonPatchOperation {
  op: 'replace' | 'add' | 'remove';
  path: string;
  value?: unknown;
}

export interface CallbackRegistration {
  /** Where ConnectWise POSTs the callbacks: deskhand's public webhook URL. */
  url: string;
  /** At most 100 characters. */
  description: string;
  type?: 'ticket';
  /** `owner`: every record of the type. */
  level?: 'owner';
  /** ConnectWise requires it even at owner level (0 or 1 conventionally). */
  objectId?: number;
  /** Whether ConnectWise should skip callbacks caused by the registering member (behaviour unverified). */
  isSelfSuppressedFlag?: boolean;
}

export class ConnectWiseClient {
  readonly siteUrl: string;
  readonly codebase: string;
  /** `{siteUrl}/{codebase}apis/3.0/` */
  readonly apiBaseUrl: string;
  /** The PSA login company: a signing-key URL naming another company is refused. */
  readonly companyId: string;
  /** The site's origin, its region's ConnectWise hosts and its aliases (hosts.ts). */
  readonly trustedOrigins: ReadonlySet<string>;
  readonly siteAliases: readonly string[];
  private readonly http: HttpClient;
  /** No in-process retries: for posts that must not be repeated blindly (see addTicketNote). */
  private readonly httpOnce: HttpClient;
  /** HttpClients per trusted origin, made when first needed: the API's (with the keys) and the signing key's. */
  private readonly apiAt: (origin: string) => HttpClient;
  private readonly keyAt: (origin: string) => HttpClient;
  private readonly byOrigin = new Map<string, HttpClient>();
  private readonly retry: { maxAttempts: number; maxInlineWaitMs: number };
  private readonly secrets: readonly string[];
  private readonly maxPages: number;

  constructor(config: ConnectWiseConfig, options: ConnectWiseClientOptions = {}) {
    const parsed = parseConfig(config);
    this.siteUrl = normaliseSiteUrl(parsed.siteUrl);
    this.codebase = normaliseCodebase(parsed.codebase ?? DEFAULT_CODEBASE);
    this.apiBaseUrl = `${this.siteUrl}/${this.codebase}apis/3.0/`;
    this.companyId = parsed.companyId;
    this.siteAliases = [...(parsed.siteAliases ?? [])];
    this.trustedOrigins = trustedOrigins(this.siteUrl, this.siteAliases);
    this.maxPages = options.maxPages ?? 10_000;
    const authorization = basicAuthorization(parsed.companyId, parsed.publicKey, parsed.privateKey);
    this.secrets = [parsed.privateKey, parsed.clientId, authorization.slice('Basic '.length)];
    const shared: Omit<HttpClientOptions, 'baseUrl' | 'headers'> = {
      system: SYSTEM,
      describeError: (status, body) => this.redact(describeConnectWiseError(status, body)),
      ...pickDefined(options, ['timeoutMs', 'maxAttempts', 'maxInlineWaitMs', 'fetchImpl', 'maxResponseBytes']),
    };
    const api: HttpClientOptions = { ...shared, baseUrl: this.apiBaseUrl, headers: () => ({ authorization, clientId: parsed.clientId, accept: CONNECTWISE_ACCEPT }) };
    this.http = new HttpClient(api);
    this.apiAt = (origin) => new HttpClient({ ...api, baseUrl: `${origin}/` });
    this.httpOnce = new HttpClient({ ...api, maxAttempts: 1 });
    this.retry = {
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      maxInlineWaitMs: options.maxInlineWaitMs ?? DEFAULT_MAX_INLINE_WAIT_MS,
    };
    // The signing-key URL lives outside apis/3.0 and needs no API keys; it only ever goes to a
    // trusted host (the site or its region's ConnectWise hosts, checked in fetchSigningKey), so the
    // clientId may travel with it. An unauthenticated callback names it, so the fetch is small and
    // short (SIGNING_KEY_FETCH_LIMITS).
    this.keyAt = (origin) => new HttpClient({
      ...shared,
      baseUrl: origin,
      headers: () => ({ clientId: parsed.clientId }),
      maxResponseBytes: SIGNING_KEY_FETCH_LIMITS.maxResponseBytes,
      timeoutMs: Math.min(options.timeoutMs ?? SIGNING_KEY_FETCH_LIMITS.timeoutMs, SIGNING_KEY_FETCH_LIMITS.timeoutMs),
      maxAttempts: Math.min(options.maxAttempts ?? SIGNING_KEY_FETCH_LIMITS.maxAttempts, SIGNING_KEY_FETCH_LIMITS.maxAttempts),
    });
  }

  // --- tickets ---------------------------------------------------------------------------------

  async getTicket(id: number): Promise<ConnectWiseTicket> {
    const response = await this.send({ method: 'GET', url: `service/tickets/${positiveId(id, 'ticket')}` }, `Ticket ${id}`);
    return parseRecord(ticketSchema, response.body, 'ticket');
  }

  /** Every ticket matching the query, across all pages. */
  async listTickets(query: ListQuery = {}): Promise<ConnectWiseTicket[]> {
    return this.listAll('service/tickets', ticketSchema, query, 'ticket');
  }

  /**
   * Opens a ticket. A ticket posted twice is two tickets, and ConnectWise has no idempotency keys,
   * so the ticket carries a marker (`externalXRef`) and a failed post is never repeated blindly: the
   * failure may have come after ConnectWise opened it (a lost answer, a dropped connection, a 5xx).
   * Before each quick retry, the ticket with the marker is looked for, and is the answer when found.
   * After a timeout the post may still be on its way: it is looked for once, and when not found yet
   * the error goes back to the caller (who looks again later, with `findTicketByMarker`) rather than
   * posting a second time.
   */
  async createTicket(input: NewTicket): Promise<ConnectWiseTicket> {
    const marker = ticketMarker(input.externalXRef);
    const body = { ...input, summary: fitSummary(input.summary), externalXRef: marker };
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.send({ method: 'POST', url: 'service/tickets', json: body }, undefined, this.httpOnce);
        return parseRecord(ticketSchema, response.body, 'ticket');
      } catch (error) {
        // A refusal (400, 401, 403) opened nothing; anything else may have.
        if (!isDeskhandError(error) || !error.retryable) throw error;
        const waitMs = this.quickRetryWait(error, attempt);
        await sleep(waitMs ?? backoffMs(1));
        const landed = await this.findTicketByMarker(marker);
        if (landed) return landed;
        if (waitMs === null || isTimeout(error)) throw error;
      }
    }
  }

  /** The ticket opened with this marker (`externalXRef`), or null when there is none (yet). */
  async findTicketByMarker(marker: string): Promise<ConnectWiseTicket | null> {
    const found = await this.listAll(
      'service/tickets',
      ticketSchema,
      { conditions: condition('externalXRef', '=', marker), orderBy: 'id asc', pageSize: 2, limit: 1 },
      'ticket',
    );
    return found[0] ?? null;
  }

  /** JSON-Patch a ticket, e.g. `[{op: 'replace', path: 'status/id', value: 123}]`. */
  async updateTicket(id: number, operations: readonly JsonPatchOperation[]): Promise<ConnectWiseTicket> {
    if (operations.length === 0) throw new DeskhandError('bad_request', 'A ticket update needs at least one operation.');
    const response = await this.send(
      { method: 'PATCH', url: `service/tickets/${positiveId(id, 'ticket')}`, json: operations },
      `Ticket ${id}`,
    );
    return parseRecord(ticketSchema, response.body, 'ticket');
  }

  async setTicketStatus(id: number, statusId: number): Promise<ConnectWiseTicket> {
    return this.updateTicket(id, [{ op: 'replace', path: 'status/id', value: positiveId(statusId, 'status') }]);
  }

  // --- notes -----------------------------------------------------------------------------------

  /** Every note of the ticket, oldest first, across all pages. */
  async getTicketNotes(ticketId: number, query: Pick<ListQuery, 'pageSize'> = {}): Promise<ConnectWiseNote[]> {
    const path = `service/tickets/${positiveId(ticketId, 'ticket')}/notes`;
    return this.listAll(path, noteSchema, { ...query, orderBy: 'id asc' }, 'note');
  }

  /**
   * Adds a note. A note posted twice is two notes, so a failed post is never repeated blindly: the
   * failure may have come after ConnectWise saved it (a timeout, a lost answer, a 5xx). Before each
   * quick retry the ticket's notes are read, and a note with the same text and flags from this post's
   * time is the answer. Failures that outlast the quick retries go back to the caller, who (like the
   * outbox with its marker) looks again before posting again.
   */
  async addTicketNote(ticketId: number, note: NewTicketNote): Promise<ConnectWiseNote> {
    const id = positiveId(ticketId, 'ticket');
    const body = noteBody(note);
    const since = Date.now() - LANDED_NOTE_WINDOW_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.send({ method: 'POST', url: `service/tickets/${id}/notes`, json: body }, `Ticket ${ticketId}`, this.httpOnce);
        return parseRecord(noteSchema, response.body, 'note');
      } catch (error) {
        const waitMs = this.quickRetryWait(error, attempt);
        if (waitMs === null) throw error;
        await sleep(waitMs);
        const landed = await this.findLandedNote(id, body, since);
        if (landed) return landed;
      }
    }
  }

  /** How long to wait before trying a failed post again in-process, or null to give up now. */
  private quickRetryWait(error: unknown, attempt: number): number | null {
    if (!isDeskhandError(error) || !error.retryable || attempt >= this.retry.maxAttempts) return null;
    const waitMs = Math.max(error.retryAfterMs ?? 0, backoffMs(attempt));
    return waitMs <= this.retry.maxInlineWaitMs ? waitMs : null;
  }

  /** The newest note of the ticket with exactly this text and these flags, created since `since`. */
  private async findLandedNote(ticketId: number, body: NoteBody, since: number): Promise<ConnectWiseNote | null> {
    const notes = await this.getTicketNotes(ticketId);
    const landed = notes.filter(
      (n) =>
        n.text === body.text &&
        n.internalAnalysisFlag === body.internalAnalysisFlag &&
        n.detailDescriptionFlag === body.detailDescriptionFlag &&
        (n.resolutionFlag ?? false) === body.resolutionFlag &&
        createdSince(n.dateCreated, since),
    );
    return landed.at(-1) ?? null;
  }

  // --- companies, contacts, members, boards ----------------------------------------------------

  async getCompany(id: number): Promise<ConnectWiseCompany> {
    const response = await this.send({ method: 'GET', url: `company/companies/${positiveId(id, 'company')}` }, `Company ${id}`);
    return parseRecord(companySchema, response.body, 'company');
  }

  /** The company whose identifier (ConnectWise's short name, e.g. `contoso`) matches, or null. */
  async findCompanyByIdentifier(identifier: string): Promise<ConnectWiseCompany | null> {
    const found = await this.listAll(
      'company/companies',
      companySchema,
      { conditions: condition('identifier', '=', identifier), pageSize: 2 },
      'company',
    );
    return found[0] ?? null;
  }

  /** Every company of the site that is not deleted (the MSP's customers, and the MSP itself), by name. */
  async listCompanies(): Promise<ConnectWiseCompany[]> {
    const companies = await this.listAll('company/companies', companySchema, { conditions: condition('deletedFlag', '=', false), orderBy: 'name asc', pageSize: 1000 }, 'company');
    return companies.filter((company) => company.deletedFlag !== true);
  }

  async getContact(id: number): Promise<ConnectWiseContact> {
    const response = await this.send({ method: 'GET', url: `company/contacts/${positiveId(id, 'contact')}` }, `Contact ${id}`);
    return parseRecord(contactSchema, response.body, 'contact');
  }

  /** The member with this identifier (e.g. the API member `deskhand`), or null. */
  async getMember(identifier: string): Promise<ConnectWiseMember | null> {
    const found = await this.listAll(
      'system/members',
      memberSchema,
      { conditions: condition('identifier', '=', identifier), pageSize: 2 },
      'member',
    );
    return found[0] ?? null;
  }

  async listBoards(query: ListQuery = {}): Promise<ConnectWiseBoard[]> {
    return this.listAll('service/boards', boardSchema, query, 'board');
  }

  /** Status ids differ per board and per tenant: resolve them by name at setup. */
  async listBoardStatuses(boardId: number): Promise<ConnectWiseBoardStatus[]> {
    return this.listAll(`service/boards/${positiveId(boardId, 'board')}/statuses`, boardStatusSchema, {}, 'board status');
  }

  /** The settings of a security role: the levels it grants per module function (for the doctor). */
  async listSecurityRoleSettings(roleId: number): Promise<ConnectWiseSecurityRoleSetting[]> {
    return this.listAll(`system/securityRoles/${positiveId(roleId, 'security role')}/settings`, securityRoleSettingSchema, {}, 'security role setting');
  }

  /**
   * Reads at most one record of a list (`service/tickets`, `company/contacts`, ...), only its id:
   * whether the API member may read it at all (the doctor). Errors as for any call (403: the role).
   */
  async probe(path: string): Promise<void> {
    await this.send({ method: 'GET', url: path.replace(/^\/+/, ''), query: { pageSize: 1, fields: 'id' } });
  }

  // --- callbacks (webhooks) --------------------------------------------------------------------

  async listCallbacks(): Promise<ConnectWiseCallbackEntry[]> {
    return this.listAll('system/callbacks', callbackEntrySchema, {}, 'callback');
  }

  /**
   * Registers deskhand's webhook, or reuses the registration that already points at the same URL
   * (ConnectWise answers a duplicate with 400 "A matching callback entry already exists", and two
   * registrations would deliver every change twice). An inactive match is switched back on.
   */
  async registerCallback(input: CallbackRegistration): Promise<{ callback: ConnectWiseCallbackEntry; created: boolean }> {
    const wanted = callbackBody(input);
    const existing = (await this.listCallbacks()).find((entry) => sameCallbackTarget(entry, wanted));
    if (existing && existing.inactiveFlag !== true) return { callback: existing, created: false };
    if (existing) {
      const response = await this.send({
        method: 'PATCH',
        url: `system/callbacks/${existing.id}`,
        json: [{ op: 'replace', path: 'inactiveFlag', value: false }],
      });
      return { callback: parseRecord(callbackEntrySchema, response.body, 'callback'), created: false };
    }
    const response = await this.send({ method: 'POST', url: 'system/callbacks', json: wanted });
    return { callback: parseRecord(callbackEntrySchema, response.body, 'callback'), created: true };
  }

  /** Points an existing registration at another URL (JSON-Patch `replace url`), keeping its id and key. */
  async updateCallbackUrl(id: number, url: string): Promise<ConnectWiseCallbackEntry> {
    if (!isHttpUrl(url)) throw new DeskhandError('bad_request', 'A callback URL must be an absolute http(s) URL.');
    const response = await this.send({
      method: 'PATCH',
      url: `system/callbacks/${positiveId(id, 'callback')}`,
      json: [{ op: 'replace', path: 'url', value: url }],
    });
    return parseRecord(callbackEntrySchema, response.body, 'callback');
  }

  /** Removes a registration; false when it was already gone. */
  async deleteCallback(id: number): Promise<boolean> {
    const response = await this.send({ method: 'DELETE', url: `system/callbacks/${positiveId(id, 'callback')}`, acceptStatuses: [404] });
    return response.status !== 404;
  }

  /**
   * The signing key named by a callback's `Metadata.key_url`. Refuses any URL that is not on the
   * configured site: the URL comes from an unauthenticated request body, and following it blindly
   * would let anyone make deskhand fetch (and trust) a key from a server they control.
   */
  async fetchSigningKey(keyUrl: string): Promise<string> {
    assertKeyUrlOnSite(keyUrl, this.siteUrl, { origins: this.trustedOrigins, companyId: this.companyId });
    const response = await this.send({ method: 'GET', url: keyUrl }, 'The signing key', this.httpAt('key', keyUrl));
    const parsed = signingKeyResponseSchema.safeParse(response.body);
    if (!parsed.success) throw new DeskhandError('not_found', `${SYSTEM} answered the signing-key URL without a signing_key: it is no signing key.`);
    return parsed.data.signing_key;
  }

  // --- plumbing --------------------------------------------------------------------------------

  private async listAll<T>(path: string, schema: z.ZodType<T>, query: ListQuery, what: string): Promise<T[]> {
    const pageSize = clampPageSize(query.pageSize ?? MAX_PAGE_SIZE);
    const first = this.http.resolveUrl(path, {
      conditions: query.conditions,
      orderBy: query.orderBy,
      fields: query.fields,
      page: 1,
      pageSize,
    });
    const records: T[] = [];
    const visited = new Set<string>();
    let url: string | undefined = first;
    for (let page = 1; url !== undefined; page++) {
      if (visited.has(url) || visited.size >= this.maxPages) {
        throw new DeskhandError('upstream', `${SYSTEM} pagination of ${path} did not end (stopped after ${visited.size} pages).`);
      }
      visited.add(url);
      const response = await this.send({ method: 'GET', url }, undefined, this.httpAt('api', url));
      const items = parseList(schema, response.body, what);
      records.push(...items);
      if (query.limit !== undefined && records.length >= query.limit) return records.slice(0, query.limit);
      url = this.nextPageUrl(response, items.length, pageSize, url, page);
    }
    return records;
  }

  /** Follows `Link: <...>; rel="next"`; without any Link header, a full page means "ask for the next one". */
  private nextPageUrl(response: HttpResponse, count: number, pageSize: number, current: string, page: number): string | undefined {
    const link = response.headers.get('link');
    if (link === null) {
      if (count < pageSize) return undefined;
      const next = new URL(current);
      next.searchParams.set('page', String(page + 1));
      return next.toString();
    }
    const next = linkRelation(link, 'next');
    if (next === undefined) return undefined;
    const resolved = new URL(next, current).toString();
    // The Authorization header goes with the next request: only to the site or its region's
    // ConnectWise hosts (hosts.ts). The error names the host, never the link (its query).
    if (!isTrustedUrl(resolved, this.trustedOrigins)) {
      throw new DeskhandError('upstream', `${SYSTEM} sent a next-page link to ${hostOf(resolved)}, which is not a ConnectWise host of the configured site; refusing to follow it.`, {
        details: { linkHost: hostOf(resolved), siteHost: new URL(this.siteUrl).host },
      });
    }
    return resolved;
  }

  /** The HttpClient for a URL on a trusted origin (the API's, with the keys; or the signing key's). */
  private httpAt(kind: 'api' | 'key', url: string): HttpClient {
    const origin = new URL(url).origin;
    if (kind === 'api' && origin === new URL(this.apiBaseUrl).origin) return this.http;
    const key = `${kind} ${origin}`;
    let http = this.byOrigin.get(key);
    if (!http) {
      http = kind === 'api' ? this.apiAt(origin) : this.keyAt(origin);
      this.byOrigin.set(key, http);
    }
    return http;
  }

  private async send<T = unknown>(request: HttpRequest, notFoundSubject?: string, http: HttpClient = this.http): Promise<HttpResponse<T>> {
    try {
      return await http.request<T>(request);
    } catch (error) {
      throw this.scrubbed(error, notFoundSubject);
    }
  }

  /** Errors keep the status and ConnectWise's own message, never our keys or clientId. */
  private scrubbed(error: unknown, notFoundSubject: string | undefined): unknown {
    if (!isDeskhandError(error)) return error;
    const status = typeof error.details?.['status'] === 'number' ? error.details['status'] : undefined;
    const details = error.details === undefined ? undefined : (JSON.parse(this.redact(JSON.stringify(error.details))) as Record<string, unknown>);
    if (status === 404 && notFoundSubject !== undefined) {
      return new DeskhandError('not_found', `${SYSTEM}: ${notFoundSubject} was not found (HTTP 404).`, { ...(details ? { details } : {}) });
    }
    return new DeskhandError(error.code, this.redact(error.message), {
      ...(details ? { details } : {}),
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    });
  }

  private redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
    return out;
  }
}

// --- module functions --------------------------------------------------------------------------

/** `Basic base64(companyId+publicKey:privateKey)`. */
export function basicAuthorization(companyId: string, publicKey: string, privateKey: string): string {
  return `Basic ${Buffer.from(`${companyId}+${publicKey}:${privateKey}`, 'utf8').toString('base64')}`;
}

/**
 * The contact's email: the default Email communication item, else the first one. ConnectWise keeps
 * emails among phones and faxes in `communicationItems`, told apart by `communicationType`.
 */
export function contactEmail(contact: Pick<ConnectWiseContact, 'communicationItems'>): string | null {
  const emails = (contact.communicationItems ?? []).filter(
    (item) => item.communicationType?.toLowerCase() === 'email' || item.type?.name?.toLowerCase() === 'email',
  );
  const chosen = emails.find((item) => item.defaultFlag === true) ?? emails[0];
  const value = chosen?.value.trim();
  return value ? value : null;
}

/**
 * The codebase a site runs (`GET {site}/login/companyinfo/{companyId}`), e.g. `v2025_1/`. Needs no
 * keys; used at setup so that an admin only types the site and company.
 */
export async function fetchCompanyInfo(
  siteUrl: string,
  companyId: string,
  options: Pick<ConnectWiseClientOptions, 'fetchImpl' | 'timeoutMs'> = {},
): Promise<ConnectWiseCompanyInfo> {
  const http = new HttpClient({
    system: SYSTEM,
    baseUrl: normaliseSiteUrl(siteUrl),
    describeError: describeConnectWiseError,
    ...pickDefined(options, ['fetchImpl', 'timeoutMs']),
  });
  const response = await http.request({ method: 'GET', url: `login/companyinfo/${encodeURIComponent(companyId)}` });
  return parseRecord(companyInfoSchema, response.body, 'company info');
}

/**
 * Throws 'unauthorized' unless `keyUrl` is on a trusted origin: the configured site (same scheme,
 * host and port), its region's ConnectWise hosts, or its aliases (`origins`, from hosts.ts; the site
 * alone when not given). A key URL naming another login company (`companyName`) is refused too: any
 * ConnectWise customer can have a key served on the same cloud host.
 */
export function assertKeyUrlOnSite(keyUrl: string, siteUrl: string, options: { origins?: ReadonlySet<string>; companyId?: string } = {}): void {
  let key: URL;
  try {
    key = new URL(keyUrl);
  } catch {
    throw new DeskhandError('unauthorized', 'The callback names a signing-key URL that is not a URL; refusing it.');
  }
  const site = new URL(siteUrl);
  const origins = options.origins ?? new Set([site.origin.toLowerCase()]);
  if (!isTrustedUrl(keyUrl, origins)) {
    throw new DeskhandError(
      'unauthorized',
      `The callback's signing-key URL is on ${key.host || 'no host'}, not on the configured ConnectWise site ${site.host} or a ConnectWise host of its region; refusing to fetch it.`,
      { details: { keyHost: key.host, siteHost: site.host } },
    );
  }
  const company = key.searchParams.get('companyName');
  if (options.companyId !== undefined && company !== null && company.toLowerCase() !== options.companyId.toLowerCase()) {
    throw new DeskhandError('unauthorized', "The callback's signing-key URL names another ConnectWise company; refusing to fetch it.", {
      details: { keyHost: key.host, siteHost: site.host },
    });
  }
}

/** Reads one relation of an RFC 8288 Link header: `<url>; rel="next", <url>; rel="last"`. */
export function linkRelation(header: string, rel: string): string | undefined {
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const rels = /;\s*rel="?([^";]+)"?/i.exec(match[2]!)?.[1]?.toLowerCase().split(/\s+/) ?? [];
    if (rels.includes(rel)) return match[1];
  }
  return undefined;
}

/** Turns ConnectWise's `{code, message, errors[]}` into a sentence a technician can act on. */
export function describeConnectWiseError(status: number, body: unknown): string {
  const parsed = errorBodySchema.safeParse(body);
  const error = parsed.success ? parsed.data : {};
  const code = error.code ? ` ${error.code}` : '';
  const fields = (error.errors ?? [])
    .map((e) => [e.field, e.message].filter(Boolean).join(': '))
    .filter((s) => s.length > 0)
    .join('; ');
  const said = [error.message, fields ? `(${fields})` : ''].filter(Boolean).join(' ');
  const serverSaid = said ? ` ConnectWise said: ${said}` : '';
  if (status === 401) {
    return `the API keys were rejected (HTTP 401${code}): check the company ID and the API member's public and private keys.${serverSaid}`;
  }
  if (status === 400 && /client\s*id/i.test(`${error.code ?? ''} ${error.message ?? ''}`)) {
    return `the clientId was refused (HTTP 400${code}): register the integration at developer.connectwise.com/ClientID and configure its clientId.${serverSaid}`;
  }
  if (status === 403) {
    return `the API member's security role does not allow this (HTTP 403${code}).${serverSaid}`;
  }
  if (status === 429) return `rate limited (HTTP 429${code}).${serverSaid}`;
  return `HTTP ${status}${code}${said ? `: ${said}` : ''}`;
}

interface NoteBody {
  text: string;
  internalAnalysisFlag: boolean;
  detailDescriptionFlag: boolean;
  resolutionFlag: boolean;
  processNotifications?: boolean;
  customerUpdatedFlag?: boolean;
}

/** A note without a parsable creation time cannot be placed in the window: it is not taken. */
function createdSince(dateCreated: string | undefined, since: number): boolean {
  const at = dateCreated === undefined ? Number.NaN : Date.parse(dateCreated);
  return Number.isFinite(at) && at >= since;
}

function noteBody(note: NewTicketNote): NoteBody {
  if (note.text.trim() === '') throw new DeskhandError('bad_request', 'A ConnectWise note needs text.');
  if (note.visibility === 'internal' && note.resolution) {
    throw new DeskhandError('bad_request', 'A resolution note is customer-facing; it cannot also be internal.');
  }
  const internal = note.visibility === 'internal';
  return {
    text: note.text,
    internalAnalysisFlag: internal,
    detailDescriptionFlag: !internal,
    resolutionFlag: note.resolution === true,
    // An internal note must never mail the customer, whatever the caller asked for.
    ...(internal ? { processNotifications: false } : pickDefined(note, ['processNotifications'])),
    ...pickDefined(note, ['customerUpdatedFlag']),
  };
}

function callbackBody(input: CallbackRegistration): Required<CallbackRegistration> & { inactiveFlag: false } {
  if (!isHttpUrl(input.url)) throw new DeskhandError('bad_request', 'A callback URL must be an absolute http(s) URL.');
  if (input.description.length > 100) throw new DeskhandError('bad_request', 'A callback description is at most 100 characters.');
  return {
    url: input.url,
    description: input.description,
    type: input.type ?? 'ticket',
    level: input.level ?? 'owner',
    objectId: input.objectId ?? 1,
    isSelfSuppressedFlag: input.isSelfSuppressedFlag ?? false,
    inactiveFlag: false,
  };
}

function sameCallbackTarget(entry: ConnectWiseCallbackEntry, wanted: Required<CallbackRegistration>): boolean {
  const sameScope = wanted.level === 'owner' || entry.objectId === wanted.objectId;
  return entry.url === wanted.url && entry.type.toLowerCase() === wanted.type && entry.level.toLowerCase() === wanted.level && sameScope;
}

function parseRecord<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw unexpectedShape(what, parsed.error);
}

function parseList<T>(schema: z.ZodType<T>, body: unknown, what: string): T[] {
  const parsed = z.array(schema).safeParse(body);
  if (parsed.success) return parsed.data;
  throw unexpectedShape(`${what} list`, parsed.error);
}

function unexpectedShape(what: string, error: z.ZodError): DeskhandError {
  // Zod's messages name paths and expected types, never the values, so nothing private leaks here.
  const issues = error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
  return new DeskhandError('upstream', `${SYSTEM} returned a ${what} deskhand cannot read (${issues}).`);
}

function parseConfig(config: ConnectWiseConfig): z.infer<typeof configSchema> {
  const parsed = configSchema.safeParse(config);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; ');
  throw new DeskhandError('config', `The ConnectWise integration is not configured correctly: ${problems}.`);
}

function normaliseSiteUrl(siteUrl: string): string {
  const url = new URL(siteUrl.trim());
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function normaliseCodebase(codebase: string): string {
  const trimmed = codebase.trim().replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

function clampPageSize(size: number): number {
  if (!Number.isInteger(size) || size < 1) throw new DeskhandError('bad_request', 'pageSize must be a positive integer.');
  return Math.min(size, MAX_PAGE_SIZE);
}

function positiveId(id: number, what: string): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new DeskhandError('bad_request', `A ConnectWise ${what} id must be a positive integer.`);
  return id;
}

function ticketMarker(given: string | undefined): string {
  const marker = given?.trim() || `deskhand:${randomUUID()}`;
  if (marker.length > EXTERNAL_XREF_MAX_LENGTH) {
    throw new DeskhandError('bad_request', `A ticket's externalXRef is at most ${EXTERNAL_XREF_MAX_LENGTH} characters.`);
  }
  return marker;
}

function fitSummary(summary: string): string {
  const clean = summary.replace(/\s+/g, ' ').trim();
  if (clean === '') throw new DeskhandError('bad_request', 'A ConnectWise ticket needs a summary.');
  return clean.length <= SUMMARY_MAX_LENGTH ? clean : `${clean.slice(0, SUMMARY_MAX_LENGTH - 1)}…`;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function pickDefined<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}
