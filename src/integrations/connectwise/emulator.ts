import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { World } from '../../world/fixture.ts';
import { deterministicUuid } from '../../world/ids.ts';
import { type CallbackDelivery, CallbackDispatcher, type DispatcherOptions } from './emulator-callbacks.ts';
import {
  type ConnectWiseEffect,
  type ConnectWiseEffectInput,
  ConnectWiseEffectsLog,
  type Latency,
  latencyDelay,
  latencySchema,
} from './emulator-effects.ts';
import {
  type CompanyRecord,
  type ContactRecord,
  emulatorClientIds,
  type InstanceSeed,
  type MemberRecord,
  PORTAL_MEMBER_IDENTIFIER,
  type StatusRecord,
  seedInstances,
} from './emulator-data.ts';
import {
  basicCredentials,
  cwError,
  cwNow,
  type FieldError,
  filtered,
  headerText,
  invalidObject,
  isHttpUrl,
  normaliseCodebase,
  notFoundEndpoint,
  ok,
  ordered,
  parseBody,
  parseControl,
  parseJson,
  pickFields,
  positiveIntParam,
  type Reply,
  ReplyError,
  readBody,
  send,
} from './emulator-http.ts';
import {
  type CallbackState,
  type Instance,
  type NoteState,
  renderBoard,
  renderCallback,
  renderCompany,
  renderContact,
  renderMember,
  renderNote,
  renderStatus,
  renderTicket,
  type TicketState,
} from './emulator-records.ts';
import { callbackSignature, SIGNATURE_HEADER } from './webhook.ts';

export {
  API_MEMBER_IDENTIFIER,
  type EmulatorCredentials,
  emulatorApiCredentials,
  emulatorPortalCredentials,
  HELP_DESK_BOARD,
  PORTAL_MEMBER_IDENTIFIER,
} from './emulator-data.ts';
export type { CallbackDelivery } from './emulator-callbacks.ts';
export type { ConnectWiseEffect, ConnectWiseEffectOp, Latency, NoteFlags } from './emulator-effects.ts';

/**
 * An emulated ConnectWise PSA: the subset of REST API 3.0 deskhand uses, under
 * `/{codebase}apis/3.0/...`, with ConnectWise's auth, pagination (Link headers), validation errors,
 * callbacks signed like the real ones, and the signing-key URL. State lives in memory for the life
 * of the process. Everything under `/_emulator/` is ours (inspection, reset, faults before or after
 * the effect, latency, an effects log); the real ConnectWise has no such path.
 */

export const DEFAULT_EMULATOR_CODEBASE = 'v4_6_release/';
export const TICKET_ID_START = 50_001;
export const NOTE_ID_START = 700_001;
export const CALLBACK_ID_START = 26_551;
const MAX_REQUEST_LOG = 1_000;
const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 1000;
const CALLBACK_TYPES = ['ticket', 'company', 'contact', 'project', 'opportunity', 'activity', 'schedule', 'configuration', 'member', 'time', 'agreement', 'invoice', 'purchaseorder', 'productcatalog', 'expense'];
const TICKET_CALLBACK_LEVELS = ['owner', 'board', 'status', 'ticket'];

export interface ConnectWiseEmulatorOptions {
  world: World;
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  codebase?: string;
  /** The site URL to advertise in Link headers, `_info` links and key URLs when clients reach the
   * emulator under another name than host:port (e.g. it listens on 0.0.0.0). */
  publicUrl?: string;
  delivery?: DispatcherOptions;
  /** A delay drawn uniformly from [min, max] ms before every ConnectWise call (default none). */
  latencyMs?: Latency;
}

export interface EmulatorFault {
  id: number;
  /** 0 when the fault only delays or drops. */
  status: number;
  remaining: number;
  pathContains?: string;
  method?: string;
  retryAfterSeconds?: number;
  delayMs?: number;
  /** The call is handled (its change made), then `status` is answered or the connection dropped. */
  afterEffect: boolean;
  /** No answer at all: the connection is destroyed (before the call, or after it with `afterEffect`). */
  dropConnection: boolean;
  hits: number;
}

export interface RequestLogEntry {
  at: string;
  method: string;
  path: string;
  /** The query string, `?` included (or empty). */
  query: string;
  status: number;
  companyId?: string;
  member?: string;
}

export interface EmulatorTicketView {
  companyId: string;
  ticket: Record<string, unknown>;
  notes: Record<string, unknown>[];
}

export interface ForgeCallbackInput {
  url: string;
  companyId?: string;
  ticketId?: number;
  action?: 'added' | 'updated' | 'deleted';
  memberId?: string;
  /** `valid`: signed with the key behind keyUrl (or `signingKey`); `invalid`: signed with a random key; `none`: no header. */
  signature?: 'valid' | 'invalid' | 'none';
  keyUrl?: string;
  signingKey?: string;
}

export interface ForgeCallbackResult {
  status: number | null;
  responseBody: string;
  rawBody: string;
  signature: string | null;
  keyUrl: string;
}

export interface ConnectWiseEmulator {
  /** The site URL to configure deskhand with, e.g. `http://127.0.0.1:PORT`. */
  url: string;
  codebase: string;
  /** `{url}/{codebase}apis/3.0/` */
  apiBaseUrl: string;
  port: number;
  close(): Promise<void>;
  /** Forgets tickets, notes, callbacks, deliveries, faults and the request log; ids start over. */
  reset(): void;
  tickets(companyId?: string): EmulatorTicketView[];
  deliveries(): CallbackDelivery[];
  /** Resolves when every callback delivery started so far has succeeded or given up. */
  deliveriesSettled(): Promise<void>;
  addFault(fault: FaultInput): EmulatorFault;
  clearFaults(): void;
  requests(): RequestLogEntry[];
  forgeCallback(input: ForgeCallbackInput): Promise<ForgeCallbackResult>;
  /** Every ticket created and note added, in order (all emulated companies, or one by login company id). */
  effects(companyId?: string): ConnectWiseEffect[];
  /** Latency before every ConnectWise call from now on; null for none. `reset()` restores the start option. */
  setLatency(latency: Latency | null): void;
}

export async function startConnectWiseEmulator(options: ConnectWiseEmulatorOptions): Promise<ConnectWiseEmulator> {
  const emulator = new ConnectWiseEmulatorServer(options);
  return emulator.listen(options.port ?? 0, options.host ?? '127.0.0.1');
}

// --- state -------------------------------------------------------------------------------------


interface IncomingRequest {
  method: string;
  /** With repeated slashes collapsed. */
  path: string;
  requestUrl: URL;
  raw: string;
  headers: IncomingMessage['headers'];
}

interface ApiContext {
  instance: Instance;
  actor: MemberRecord;
  params: string[];
  query: URLSearchParams;
  body: unknown;
  requestUrl: URL;
}

type Route = { method: string; pattern: RegExp; handle: (ctx: ApiContext) => Reply };

/** What the server does with a call: answer it, or (an injected fault) drop the connection unanswered. */
type Outcome = { reply: Reply } | { drop: true };
const DROP: Outcome = { drop: true };

const faultSchema = z
  .object({
    /** A status below 400 only delays (with delayMs). */
    status: z.number().int().min(0).max(599).optional(),
    count: z.number().int().min(1).default(1),
    pathContains: z.string().min(1).optional(),
    method: z.string().min(1).optional(),
    retryAfterSeconds: z.number().min(0).optional(),
    delayMs: z.number().int().min(0).max(60_000).optional(),
    afterEffect: z.boolean().default(false),
    dropConnection: z.boolean().default(false),
  })
  .refine((f) => f.status !== undefined || f.delayMs !== undefined || f.dropConnection, {
    message: 'a fault needs a status, a delayMs or dropConnection',
  })
  .refine((f) => !f.afterEffect || (f.status ?? 0) >= 400 || f.dropConnection, {
    message: 'an afterEffect fault needs an error status (400 or more) or dropConnection: something must replace the real answer',
  });
export type FaultInput = z.input<typeof faultSchema>;

const forgeSchema = z.object({
  url: z.string().url(),
  companyId: z.string().optional(),
  ticketId: z.number().int().positive().optional(),
  action: z.enum(['added', 'updated', 'deleted']).default('added'),
  memberId: z.string().default(PORTAL_MEMBER_IDENTIFIER),
  signature: z.enum(['valid', 'invalid', 'none']).default('none'),
  keyUrl: z.string().optional(),
  signingKey: z.string().optional(),
});

const refInput = z.looseObject({
  id: z.number().int().optional(),
  identifier: z.string().optional(),
  name: z.string().optional(),
});

const newTicketSchema = z.looseObject({
  summary: z.string().optional(),
  company: refInput.optional(),
  board: refInput.optional(),
  status: refInput.optional(),
  contact: refInput.nullish(),
  priority: refInput.optional(),
  contactEmailAddress: z.string().nullish(),
  externalXRef: z.string().nullish(),
  initialDescription: z.string().nullish(),
  initialInternalAnalysis: z.string().nullish(),
  initialResolution: z.string().nullish(),
});

const newNoteSchema = z.looseObject({
  text: z.string().nullish(),
  detailDescriptionFlag: z.boolean().optional(),
  internalAnalysisFlag: z.boolean().optional(),
  resolutionFlag: z.boolean().optional(),
  customerUpdatedFlag: z.boolean().optional(),
  processNotifications: z.boolean().optional(),
  contact: refInput.nullish(),
});

const patchSchema = z
  .array(z.looseObject({ op: z.string(), path: z.string(), value: z.unknown().optional() }))
  .min(1);

const newCallbackSchema = z.looseObject({
  url: z.string().optional(),
  description: z.string().nullish(),
  objectId: z.number().int().optional(),
  type: z.string().optional(),
  level: z.string().optional(),
  inactiveFlag: z.boolean().optional(),
  isSelfSuppressedFlag: z.boolean().optional(),
});

class ConnectWiseEmulatorServer {
  private readonly codebase: string;
  private readonly publicUrl: string | undefined;
  private readonly instances = new Map<string, Instance>();
  private readonly clientIds: ReadonlySet<string>;
  private readonly dispatcher: CallbackDispatcher;
  private readonly signingKeys = new Map<string, { companyId: string; key: string }>();
  private readonly server: Server;
  private faults: EmulatorFault[] = [];
  private requestLog: RequestLogEntry[] = [];
  private readonly effectsLog = new ConnectWiseEffectsLog();
  private latency: Latency | null;
  private readonly startLatency: Latency | null;
  private nextTicketId = TICKET_ID_START;
  private nextNoteId = NOTE_ID_START;
  private nextCallbackId = CALLBACK_ID_START;
  private nextFaultId = 1;
  private nextMessage = 1;
  private siteUrl = '';
  private readonly routes: Route[];
  /** Absolute API URLs for `_info` links, once the port is known. */
  private readonly href = (path: string): string => `${this.siteUrl}/${this.codebase}apis/3.0/${path}`;

  constructor(options: ConnectWiseEmulatorOptions) {
    this.codebase = normaliseCodebase(options.codebase ?? DEFAULT_EMULATOR_CODEBASE);
    this.publicUrl = options.publicUrl?.replace(/\/+$/, '');
    this.startLatency = options.latencyMs ? latencySchema.parse(options.latencyMs) : null;
    this.latency = this.startLatency;
    for (const seed of seedInstances(options.world)) {
      this.instances.set(seed.companyId.toLowerCase(), { seed, tickets: new Map(), callbacks: new Map() });
    }
    this.clientIds = new Set(emulatorClientIds());
    this.dispatcher = new CallbackDispatcher(options.delivery);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) send(res, cwError(500, 'ConnectWiseApi', `Emulator failure: ${error instanceof Error ? error.message : String(error)}`));
      });
    });
    this.routes = this.apiRoutes();
  }

  async listen(port: number, host: string): Promise<ConnectWiseEmulator> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    this.siteUrl = this.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    return {
      url: this.siteUrl,
      codebase: this.codebase,
      apiBaseUrl: `${this.siteUrl}/${this.codebase}apis/3.0/`,
      port: address.port,
      close: () => this.close(),
      reset: () => this.reset(),
      tickets: (companyId) => this.ticketViews(companyId),
      deliveries: () => this.dispatcher.list(),
      deliveriesSettled: () => this.dispatcher.settled(),
      addFault: (fault) => this.addFault(faultSchema.parse(fault)),
      clearFaults: () => {
        this.faults = [];
      },
      requests: () => [...this.requestLog],
      forgeCallback: (input) => this.forgeCallback(forgeSchema.parse(input)),
      effects: (companyId) => this.effectsLog.list(companyId),
      setLatency: (latency) => {
        this.latency = latency ? latencySchema.parse(latency) : null;
      },
    };
  }

  private async close(): Promise<void> {
    await this.dispatcher.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private reset(): void {
    for (const instance of this.instances.values()) {
      instance.tickets.clear();
      instance.callbacks.clear();
    }
    this.signingKeys.clear();
    this.dispatcher.clear();
    this.faults = [];
    this.requestLog = [];
    this.effectsLog.clear();
    this.latency = this.startLatency;
    this.nextTicketId = TICKET_ID_START;
    this.nextNoteId = NOTE_ID_START;
    this.nextCallbackId = CALLBACK_ID_START;
    this.nextMessage = 1;
  }

  // --- HTTP plumbing ---------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestUrl = new URL(req.url ?? '/', this.siteUrl || 'http://localhost');
    // ConnectWise's own key URLs carry `//` after the codebase; treat repeated slashes as one.
    const path = requestUrl.pathname.replace(/\/{2,}/g, '/');
    const method = (req.method ?? 'GET').toUpperCase();
    const log: RequestLogEntry = { at: new Date().toISOString(), method, path, query: requestUrl.search, status: 0 };
    const isControl = path.startsWith('/_emulator/');
    const delay = isControl ? 0 : latencyDelay(this.latency);
    if (delay > 0) await sleep(delay);
    let outcome: Outcome;
    try {
      const raw = await readBody(req);
      outcome = isControl
        ? { reply: await this.control(method, path, requestUrl, raw) }
        : await this.connectWise({ method, path, requestUrl, raw, headers: req.headers }, log);
    } catch (error) {
      outcome = { reply: replyForError(error) };
    }
    // A dropped call is logged with status 0: it got no answer.
    log.status = 'reply' in outcome ? outcome.reply.status : 0;
    if (!isControl) this.record(log);
    if ('reply' in outcome) send(res, outcome.reply);
    else req.socket.destroy();
  }

  private record(entry: RequestLogEntry): void {
    this.requestLog.push(entry);
    if (this.requestLog.length > MAX_REQUEST_LOG) this.requestLog.splice(0, this.requestLog.length - MAX_REQUEST_LOG);
  }

  /** A ConnectWise call, with the fault injected for it (if any) before or after its effect. */
  private async connectWise(request: IncomingRequest, log: RequestLogEntry): Promise<Outcome> {
    const { method, path } = request;
    const root = `/${this.codebase}`;
    if (method === 'GET' && /^\/login\/companyinfo\/[^/]+$/i.test(path)) return { reply: this.companyInfo(path) };
    if (!path.toLowerCase().startsWith(root.toLowerCase())) return { reply: notFoundEndpoint() };
    const fault = await this.takeFault(method, path);
    if (fault && !fault.afterEffect && (fault.dropConnection || fault.status >= 400)) return faultOutcome(fault);
    let reply: Reply;
    try {
      reply = this.answer(request, path.slice(root.length), log);
    } catch (error) {
      reply = replyForError(error);
    }
    // The real answer (success or refusal) is lost in transit: the caller sees only the fault.
    if (fault?.afterEffect) return faultOutcome(fault);
    return { reply };
  }

  private answer(request: IncomingRequest, rest: string, log: RequestLogEntry): Reply {
    const { method, requestUrl, raw } = request;
    if (/^system\/callbackkey\/index\.rails$/i.test(rest)) return this.signingKey(requestUrl);
    if (!/^apis\/3\.0\//i.test(rest)) return notFoundEndpoint();
    const auth = this.authenticate(request.headers);
    if ('reply' in auth) return auth.reply;
    log.companyId = auth.instance.seed.companyId;
    log.member = auth.actor.identifier;
    return this.dispatch(method, rest.slice('apis/3.0/'.length).replace(/\/$/, ''), {
      instance: auth.instance,
      actor: auth.actor,
      params: [],
      query: requestUrl.searchParams,
      body: raw === '' ? undefined : parseJson(raw),
      requestUrl,
    });
  }

  private dispatch(method: string, apiPath: string, ctx: ApiContext): Reply {
    const matches = this.routes.filter((r) => r.pattern.test(apiPath));
    if (matches.length === 0) return notFoundEndpoint();
    const route = matches.find((r) => r.method === method);
    if (!route) return cwError(405, 'ConnectWiseApi', `The ${method} method is not allowed on this endpoint.`);
    if (this.forbidden(ctx.actor, apiPath)) {
      return cwError(403, 'Forbidden', `The security role of member ${ctx.actor.identifier} does not allow access to ${apiPath.split('/')[0]}.`);
    }
    const params = route.pattern.exec(apiPath)!.slice(1);
    return route.handle({ ...ctx, params });
  }

  /** The portal member's role reaches tickets and company records only, never System. */
  private forbidden(actor: MemberRecord, apiPath: string): boolean {
    return actor.identifier === PORTAL_MEMBER_IDENTIFIER && apiPath.toLowerCase().startsWith('system/');
  }

  private authenticate(headers: IncomingMessage['headers']): { instance: Instance; actor: MemberRecord } | { reply: Reply } {
    const clientId = headerText(headers['clientid']);
    if (clientId === undefined) {
      return { reply: cwError(400, 'ConnectWiseApi', 'A clientId header is required. See https://developer.connectwise.com/ClientID') };
    }
    if (!this.clientIds.has(clientId)) {
      return { reply: cwError(400, 'ConnectWiseApi', 'The clientId is not a registered integration. See https://developer.connectwise.com/ClientID') };
    }
    const credentials = basicCredentials(headerText(headers['authorization']));
    const instance = credentials && this.instances.get(credentials.companyId.toLowerCase());
    const actor = instance?.seed.members.find(
      (m) => m.credentials !== undefined && m.credentials.publicKey === credentials?.publicKey && m.credentials.privateKey === credentials.privateKey,
    );
    if (!instance || !actor) return { reply: cwError(401, 'Unauthorized', 'The API keys supplied are not valid for this company.') };
    return { instance, actor };
  }

  /** The first fault matching the call, counted down, after its delay. */
  private async takeFault(method: string, path: string): Promise<EmulatorFault | undefined> {
    const fault = this.faults.find(
      (f) => f.remaining > 0 && (f.pathContains === undefined || path.includes(f.pathContains)) && (f.method === undefined || f.method.toUpperCase() === method),
    );
    if (!fault) return undefined;
    fault.remaining--;
    fault.hits++;
    if (fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault);
    if (fault.delayMs) await sleep(fault.delayMs);
    return fault;
  }

  private addFault(input: z.output<typeof faultSchema>): EmulatorFault {
    const fault: EmulatorFault = {
      id: this.nextFaultId++,
      status: input.status ?? 0,
      remaining: input.count,
      afterEffect: input.afterEffect,
      dropConnection: input.dropConnection,
      hits: 0,
      ...(input.pathContains !== undefined ? { pathContains: input.pathContains } : {}),
      ...(input.method !== undefined ? { method: input.method } : {}),
      ...(input.retryAfterSeconds !== undefined ? { retryAfterSeconds: input.retryAfterSeconds } : {}),
      ...(input.delayMs !== undefined ? { delayMs: input.delayMs } : {}),
    };
    this.faults.push(fault);
    return fault;
  }

  // --- inspection and control (/_emulator/...) -------------------------------------------------

  private async control(method: string, path: string, requestUrl: URL, raw: string): Promise<Reply> {
    const route = `${method} ${path.replace(/\/$/, '')}`;
    const body = raw === '' ? {} : parseJson(raw);
    switch (route) {
      case 'GET /_emulator/info':
        return ok(this.info());
      case 'GET /_emulator/tickets':
        return ok({ tickets: this.ticketViews(requestUrl.searchParams.get('companyId') ?? undefined) });
      case 'GET /_emulator/callbacks':
        return ok({ callbacks: this.allCallbacks() });
      case 'GET /_emulator/callbacks/deliveries':
        return ok({ deliveries: this.dispatcher.list() });
      case 'POST /_emulator/callbacks/forge':
        return ok(await this.forgeCallback(parseControl(forgeSchema, body)));
      case 'POST /_emulator/reset':
        this.reset();
        return { status: 204 };
      case 'GET /_emulator/faults':
        return ok({ faults: this.faults });
      case 'POST /_emulator/faults':
        return { status: 201, body: this.addFault(parseControl(faultSchema, body)) };
      case 'DELETE /_emulator/faults':
        this.faults = [];
        return { status: 204 };
      case 'GET /_emulator/requests':
        return ok({ requests: this.requestLog });
      case 'GET /_emulator/effects':
        return ok({ effects: this.effectsLog.list(requestUrl.searchParams.get('companyId') ?? undefined) });
      case 'GET /_emulator/latency':
        return ok({ latencyMs: this.latency });
      case 'POST /_emulator/latency':
        this.latency = parseControl(latencySchema, body);
        return ok({ latencyMs: this.latency });
      case 'DELETE /_emulator/latency':
        this.latency = null;
        return ok({ latencyMs: null });
      default:
        return { status: 404, body: { error: `no emulator control route ${route}` } };
    }
  }

  private info(): Record<string, unknown> {
    return {
      system: 'connectwise',
      url: this.siteUrl,
      codebase: this.codebase,
      apiBaseUrl: `${this.siteUrl}/${this.codebase}apis/3.0/`,
      companies: [...this.instances.values()].map((i) => ({
        companyId: i.seed.companyId,
        name: i.seed.mspName,
        clients: i.seed.companies.map((c) => c.identifier),
      })),
    };
  }

  private ticketViews(companyId?: string): EmulatorTicketView[] {
    return [...this.instances.values()]
      .filter((i) => companyId === undefined || i.seed.companyId.toLowerCase() === companyId.toLowerCase())
      .flatMap((instance) =>
        [...instance.tickets.values()].map((t) => ({
          companyId: instance.seed.companyId,
          ticket: renderTicket(this.href, instance, t),
          notes: t.notes.map((n) => renderNote(instance, n)),
        })),
      );
  }

  private allCallbacks(): Record<string, unknown>[] {
    return [...this.instances.values()].flatMap((i) =>
      [...i.callbacks.values()].map((c) => ({ companyId: i.seed.companyId, ...renderCallback(c) })),
    );
  }

  private async forgeCallback(input: z.output<typeof forgeSchema>): Promise<ForgeCallbackResult> {
    const instance = input.companyId ? this.instances.get(input.companyId.toLowerCase()) : this.instances.values().next().value;
    if (!instance) throw new ReplyError({ status: 400, body: { error: 'no such ConnectWise company in the emulator' } });
    const ticket = input.ticketId === undefined ? undefined : instance.tickets.get(input.ticketId);
    const keyUrl = input.keyUrl ?? this.keyUrl(instance.seed.companyId, this.forgeKeyId(instance));
    const payload = {
      MessageId: this.messageId(),
      FromUrl: new URL(this.siteUrl).host,
      CompanyId: instance.seed.companyId,
      MemberId: input.memberId,
      Action: input.action,
      Type: 'ticket',
      ID: input.ticketId ?? TICKET_ID_START - 1,
      Entity: input.action === 'deleted' ? null : JSON.stringify(ticket ? renderTicket(this.href, instance, ticket) : forgedTicket(input.ticketId)),
      Metadata: { key_url: keyUrl },
      CallbackObjectRecId: CALLBACK_ID_START - 1,
    };
    const rawBody = JSON.stringify(payload);
    const signature = this.forgedSignature(input, keyUrl, rawBody);
    try {
      const response = await fetch(input.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(signature ? { [SIGNATURE_HEADER]: signature } : {}) },
        body: rawBody,
        signal: AbortSignal.timeout(5_000),
      });
      return { status: response.status, responseBody: (await response.text()).slice(0, 2_000), rawBody, signature, keyUrl };
    } catch (error) {
      return { status: null, responseBody: error instanceof Error ? error.message : String(error), rawBody, signature, keyUrl };
    }
  }

  private forgedSignature(input: z.output<typeof forgeSchema>, keyUrl: string, rawBody: string): string | null {
    if (input.signature === 'none') return null;
    if (input.signature === 'invalid') return callbackSignature(randomBytes(24).toString('base64'), rawBody);
    const key = input.signingKey ?? this.signingKeys.get(new URL(keyUrl, this.siteUrl).searchParams.get('id') ?? '')?.key;
    if (key === undefined) throw new ReplyError({ status: 400, body: { error: 'no signing key for that key URL; pass signingKey' } });
    return callbackSignature(key, rawBody);
  }

  /** A key that forged-but-valid callbacks are signed with, served like any registration's key. */
  private forgeKeyId(instance: Instance): string {
    const id = deterministicUuid('connectwise', 'forge-key', instance.seed.companyId);
    if (!this.signingKeys.has(id)) this.signingKeys.set(id, { companyId: instance.seed.companyId, key: newSigningKey() });
    return id;
  }

  // --- ConnectWise endpoints outside apis/3.0 --------------------------------------------------

  private companyInfo(path: string): Reply {
    const companyId = decodeURIComponent(path.split('/').pop() ?? '');
    const instance = this.instances.get(companyId.toLowerCase());
    if (!instance) return cwError(404, 'NotFound', `Company ${companyId} not found`);
    return ok({
      CompanyName: instance.seed.mspName,
      Codebase: this.codebase,
      VersionCode: 'v2025.1',
      VersionNumber: 'v4.6',
      CompanyID: instance.seed.companyId,
      IsCloud: false,
      SiteUrl: new URL(this.siteUrl).host,
    });
  }

  private signingKey(requestUrl: URL): Reply {
    const entry = this.signingKeys.get(requestUrl.searchParams.get('id') ?? '');
    const companyName = requestUrl.searchParams.get('companyName') ?? '';
    if (!entry || entry.companyId.toLowerCase() !== companyName.toLowerCase()) return cwError(404, 'NotFound', 'Callback key not found');
    return ok({ signing_key: entry.key });
  }

  private keyUrl(companyId: string, keyId: string): string {
    return `${this.siteUrl}/${this.codebase}system/callbackkey/index.rails?companyName=${encodeURIComponent(companyId)}&id=${keyId}`;
  }

  // --- apis/3.0 routes -------------------------------------------------------------------------

  private apiRoutes(): Route[] {
    const r = (method: string, pattern: RegExp, handle: (ctx: ApiContext) => Reply): Route => ({ method, pattern, handle });
    return [
      r('GET', /^service\/tickets$/i, (c) => this.list(c, this.ticketRecords(c.instance))),
      r('GET', /^service\/tickets\/count$/i, (c) => ok({ count: filtered(c.query, this.ticketRecords(c.instance)).length })),
      r('POST', /^service\/tickets$/i, (c) => this.createTicket(c)),
      r('GET', /^service\/tickets\/(\d+)$/i, (c) => ok(renderTicket(this.href, c.instance, this.ticket(c)))),
      r('PATCH', /^service\/tickets\/(\d+)$/i, (c) => this.patchTicket(c)),
      r('GET', /^service\/tickets\/(\d+)\/notes$/i, (c) => this.list(c, this.ticket(c).notes.map((n) => renderNote(c.instance, n)))),
      r('POST', /^service\/tickets\/(\d+)\/notes$/i, (c) => this.addNote(c)),
      r('GET', /^service\/tickets\/(\d+)\/notes\/(\d+)$/i, (c) => this.note(c)),
      r('GET', /^service\/boards$/i, (c) => this.list(c, [renderBoard(this.href, c.instance)])),
      r('GET', /^service\/boards\/(\d+)$/i, (c) => ok(renderBoard(this.href, c.instance, this.board(c)))),
      r('GET', /^service\/boards\/(\d+)\/statuses$/i, (c) => {
        this.board(c);
        return this.list(c, c.instance.seed.statuses.map((s) => renderStatus(c.instance, s)));
      }),
      r('GET', /^company\/companies$/i, (c) => this.list(c, c.instance.seed.companies.map((co) => renderCompany(this.href, co)))),
      r('GET', /^company\/companies\/(\d+)$/i, (c) => ok(renderCompany(this.href, this.company(c)))),
      r('GET', /^company\/contacts$/i, (c) => this.list(c, c.instance.seed.contacts.map((co) => renderContact(c.instance, co)))),
      r('GET', /^company\/contacts\/(\d+)$/i, (c) => ok(renderContact(c.instance, this.contact(c)))),
      r('GET', /^system\/members$/i, (c) => this.list(c, c.instance.seed.members.map((m) => renderMember(m)))),
      r('GET', /^system\/members\/([^/]+)$/i, (c) => ok(renderMember(this.member(c)))),
      r('GET', /^system\/callbacks$/i, (c) => this.list(c, [...c.instance.callbacks.values()].map((cb) => renderCallback(cb)))),
      r('POST', /^system\/callbacks$/i, (c) => this.createCallback(c)),
      r('GET', /^system\/callbacks\/(\d+)$/i, (c) => ok(renderCallback(this.callback(c)))),
      r('PATCH', /^system\/callbacks\/(\d+)$/i, (c) => this.patchCallback(c)),
      r('DELETE', /^system\/callbacks\/(\d+)$/i, (c) => {
        c.instance.callbacks.delete(this.callback(c).id);
        return { status: 204 };
      }),
    ];
  }

  private list(ctx: ApiContext, records: Record<string, unknown>[]): Reply {
    const page = positiveIntParam(ctx.query, 'page', 1);
    const pageSize = Math.min(positiveIntParam(ctx.query, 'pageSize', DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE);
    const rows = ordered(filtered(ctx.query, records), ctx.query.get('orderBy'));
    const lastPage = Math.max(1, Math.ceil(rows.length / pageSize));
    const slice = rows.slice((page - 1) * pageSize, page * pageSize).map((row) => pickFields(row, ctx.query.get('fields')));
    return { status: 200, body: slice, headers: { link: this.linkHeader(ctx.requestUrl, page, pageSize, lastPage) } };
  }

  /** Like ConnectWise: `first`/`prev` from page 2 on, `next` while more pages exist, always `last`. */
  private linkHeader(requestUrl: URL, page: number, pageSize: number, lastPage: number): string {
    const at = (n: number): string => {
      const url = new URL(requestUrl.pathname + requestUrl.search, this.siteUrl);
      url.searchParams.set('page', String(n));
      url.searchParams.set('pageSize', String(pageSize));
      return url.toString();
    };
    const links: string[] = [];
    if (page > 1) links.push(`<${at(1)}>; rel="first"`, `<${at(Math.min(page - 1, lastPage))}>; rel="prev"`);
    if (page < lastPage) links.push(`<${at(page + 1)}>; rel="next"`);
    links.push(`<${at(lastPage)}>; rel="last"`);
    return links.join(', ');
  }

  // --- tickets ---------------------------------------------------------------------------------

  private ticketRecords(instance: Instance): Record<string, unknown>[] {
    return [...instance.tickets.values()].map((t) => renderTicket(this.href, instance, t));
  }

  private ticket(ctx: ApiContext): TicketState {
    const id = Number(ctx.params[0]);
    const ticket = ctx.instance.tickets.get(id);
    if (!ticket) throw new ReplyError(cwError(404, 'NotFound', `Ticket ${id} not found`));
    return ticket;
  }

  private createTicket(ctx: ApiContext): Reply {
    const input = parseBody(newTicketSchema, ctx.body, 'serviceTicket');
    const { seed } = ctx.instance;
    const errors: FieldError[] = [];
    const summary = input.summary?.trim() ?? '';
    if (summary === '') errors.push({ code: 'MissingRequiredField', message: 'The summary field is required.', field: 'summary' });
    else if (summary.length > 100) errors.push({ code: 'InvalidField', message: 'The summary field has a maximum length of 100 characters.', field: 'summary' });
    const company = input.company ? findRef(seed.companies, input.company, 'identifier') : undefined;
    if (!input.company) errors.push({ code: 'MissingRequiredField', message: 'The company field is required.', field: 'company' });
    else if (!company) errors.push({ code: 'InvalidField', message: 'The company was not found.', field: 'company' });
    const board = !input.board || findRef([seed.board], input.board, 'name') ? seed.board : undefined;
    if (!board) errors.push({ code: 'InvalidField', message: 'The board was not found.', field: 'board' });
    const status = input.status ? findRef(seed.statuses, input.status, 'name') : seed.statuses.find((s) => s.defaultFlag);
    if (!status) errors.push({ code: 'InvalidField', message: 'The status was not found on this board.', field: 'status' });
    if ((input.externalXRef ?? '').length > 100) {
      errors.push({ code: 'InvalidField', message: 'The externalXRef field has a maximum length of 100 characters.', field: 'externalXRef' });
    }
    const contact = this.ticketContact(seed, input, company, errors);
    if (errors.length > 0 || !company || !board || !status) return invalidObject('serviceTicket', errors);

    const now = cwNow();
    const ticket: TicketState = {
      id: this.nextTicketId++,
      summary,
      companyId: company.id,
      contactId: contact?.id ?? null,
      contactEmailAddress: input.contactEmailAddress ?? contact?.email ?? null,
      externalXRef: input.externalXRef?.trim() || null,
      boardId: board.id,
      statusId: status.id,
      closedFlag: status.closedStatus,
      closedDate: status.closedStatus ? now : null,
      closedBy: status.closedStatus ? ctx.actor.identifier : null,
      dateEntered: now,
      enteredBy: ctx.actor.identifier,
      lastUpdated: now,
      updatedBy: ctx.actor.identifier,
      notes: [],
    };
    // ConnectWise turns these create-only fields into the ticket's first notes.
    const initial: [string | null | undefined, Partial<NoteState>][] = [
      [input.initialDescription, { detailDescriptionFlag: true }],
      [input.initialInternalAnalysis, { internalAnalysisFlag: true }],
      [input.initialResolution, { resolutionFlag: true }],
    ];
    for (const [text, flags] of initial) {
      if (text?.trim()) ticket.notes.push(this.newNote(ticket, ctx.actor, text, flags, contact?.id ?? null));
    }
    ctx.instance.tickets.set(ticket.id, ticket);
    this.recordEffect(ctx, { op: 'ticket_created', ticketId: ticket.id, noteId: null, flags: null, text: ticket.summary });
    this.fireTicketCallbacks(ctx.instance, ticket, ctx.actor, 'added');
    return { status: 201, body: renderTicket(this.href, ctx.instance, ticket) };
  }

  private ticketContact(
    seed: InstanceSeed,
    input: z.output<typeof newTicketSchema>,
    company: CompanyRecord | undefined,
    errors: FieldError[],
  ): ContactRecord | undefined {
    if (input.contact?.id !== undefined) {
      const contact = seed.contacts.find((c) => c.id === input.contact?.id);
      if (!contact) errors.push({ code: 'InvalidField', message: 'The contact was not found.', field: 'contact' });
      return contact;
    }
    // Email connectors and portals match the sender's address to a contact of the company.
    const email = input.contactEmailAddress?.toLowerCase();
    return email ? seed.contacts.find((c) => c.email.toLowerCase() === email && c.companyId === company?.id) : undefined;
  }

  private patchTicket(ctx: ApiContext): Reply {
    const ticket = this.ticket(ctx);
    const operations = parseBody(patchSchema, ctx.body, 'serviceTicket');
    const next: TicketState = { ...ticket };
    const errors: FieldError[] = [];
    for (const operation of operations) this.applyTicketPatch(ctx, next, operation, errors);
    if (errors.length > 0) return invalidObject('serviceTicket', errors);
    Object.assign(ticket, next, { lastUpdated: cwNow(), updatedBy: ctx.actor.identifier });
    this.fireTicketCallbacks(ctx.instance, ticket, ctx.actor, 'updated');
    return ok(renderTicket(this.href, ctx.instance, ticket));
  }

  private applyTicketPatch(ctx: ApiContext, ticket: TicketState, operation: { op: string; path: string; value?: unknown }, errors: FieldError[]): void {
    const path = operation.path.replace(/^\//, '').toLowerCase();
    const value = operation.value;
    if (operation.op !== 'replace' && operation.op !== 'add') {
      errors.push({ code: 'InvalidField', message: `The ${operation.op} operation is not supported here.`, field: operation.path });
      return;
    }
    if (path === 'summary') {
      if (typeof value !== 'string' || value.trim() === '' || value.length > 100) {
        errors.push({ code: 'InvalidField', message: 'The summary must be 1 to 100 characters.', field: 'summary' });
      } else ticket.summary = value.trim();
      return;
    }
    if (path === 'status' || path === 'status/id' || path === 'status/name') {
      const ref = path === 'status' ? value : path === 'status/id' ? { id: value } : { name: value };
      const status = isRef(ref) ? findRef(ctx.instance.seed.statuses, ref, 'name') : undefined;
      if (!status) errors.push({ code: 'InvalidField', message: 'The status was not found on this board.', field: 'status' });
      else setStatus(ticket, status, ctx.actor.identifier);
      return;
    }
    if (path === 'contact' || path === 'contact/id') {
      const id = path === 'contact' ? (isRef(value) ? value.id : value) : value;
      const contact = id === null ? null : ctx.instance.seed.contacts.find((c) => c.id === id);
      if (contact === undefined) errors.push({ code: 'InvalidField', message: 'The contact was not found.', field: 'contact' });
      else ticket.contactId = contact?.id ?? null;
      return;
    }
    if (path === 'contactemailaddress' && (typeof value === 'string' || value === null)) {
      ticket.contactEmailAddress = value;
      return;
    }
    errors.push({ code: 'InvalidField', message: `The emulator does not support patching ${operation.path}.`, field: operation.path });
  }

  // --- notes -----------------------------------------------------------------------------------

  private addNote(ctx: ApiContext): Reply {
    const ticket = this.ticket(ctx);
    const input = parseBody(newNoteSchema, ctx.body, 'serviceNote');
    const text = input.text ?? '';
    if (text.trim() === '') {
      return invalidObject('serviceNote', [{ code: 'MissingRequiredField', message: 'The text field is required.', field: 'text' }]);
    }
    if (!input.detailDescriptionFlag && !input.internalAnalysisFlag && !input.resolutionFlag) {
      return invalidObject('serviceNote', [
        {
          code: 'InvalidField',
          message: 'Please choose where to display the notes in order to save this record.',
          field: 'detailDescriptionFlag',
        },
      ]);
    }
    const contactId = input.contact?.id ?? null;
    const note = this.newNote(ticket, ctx.actor, text, noteFlags(input), contactId);
    ticket.notes.push(note);
    this.recordEffect(ctx, {
      op: 'note_added',
      ticketId: ticket.id,
      noteId: note.id,
      flags: { detailDescription: note.detailDescriptionFlag, internalAnalysis: note.internalAnalysisFlag, resolution: note.resolutionFlag },
      text: note.text,
    });
    ticket.lastUpdated = note.dateCreated;
    ticket.updatedBy = ctx.actor.identifier;
    // ConnectWise has no note callback type: a new note arrives as the ticket being `updated`.
    this.fireTicketCallbacks(ctx.instance, ticket, ctx.actor, 'updated');
    return { status: 201, body: renderNote(ctx.instance, note) };
  }

  private recordEffect(ctx: ApiContext, effect: Omit<ConnectWiseEffectInput, 'companyId' | 'member' | 'requestPath'>): void {
    this.effectsLog.append({ ...effect, companyId: ctx.instance.seed.companyId, member: ctx.actor.identifier, requestPath: ctx.requestUrl.pathname });
  }

  private newNote(ticket: TicketState, actor: MemberRecord, text: string, flags: Partial<NoteState>, contactId: number | null): NoteState {
    return {
      id: this.nextNoteId++,
      ticketId: ticket.id,
      text,
      detailDescriptionFlag: flags.detailDescriptionFlag === true,
      internalAnalysisFlag: flags.internalAnalysisFlag === true,
      resolutionFlag: flags.resolutionFlag === true,
      customerUpdatedFlag: flags.customerUpdatedFlag === true,
      processNotifications: flags.processNotifications === true,
      memberId: actor.id,
      contactId,
      dateCreated: cwNow(),
      createdBy: actor.identifier,
    };
  }

  private note(ctx: ApiContext): Reply {
    const ticket = this.ticket(ctx);
    const id = Number(ctx.params[1]);
    const note = ticket.notes.find((n) => n.id === id);
    if (!note) return cwError(404, 'NotFound', `Note ${id} not found`);
    return ok(renderNote(ctx.instance, note));
  }

  // --- callbacks -------------------------------------------------------------------------------

  private callback(ctx: ApiContext): CallbackState {
    const id = Number(ctx.params[0]);
    const callback = ctx.instance.callbacks.get(id);
    if (!callback) throw new ReplyError(cwError(404, 'NotFound', `Callback ${id} not found`));
    return callback;
  }

  private createCallback(ctx: ApiContext): Reply {
    const input = parseBody(newCallbackSchema, ctx.body, 'callbackEntry');
    const errors = callbackErrors(input);
    const duplicate = [...ctx.instance.callbacks.values()].some(
      (c) => c.url === input.url && c.type === input.type?.toLowerCase() && c.level === input.level?.toLowerCase() && c.objectId === input.objectId,
    );
    if (errors.length === 0 && duplicate) {
      errors.push({ code: 'ObjectExists', message: 'A matching callback entry already exists', field: 'objectId' });
    }
    if (errors.length > 0) return invalidObject('callbackEntry', errors);
    const now = cwNow();
    const callback: CallbackState = {
      id: this.nextCallbackId++,
      url: input.url!,
      description: input.description ?? '',
      objectId: input.objectId!,
      type: input.type!.toLowerCase(),
      level: input.level!.toLowerCase(),
      memberId: ctx.actor.id,
      inactiveFlag: input.inactiveFlag === true,
      isSelfSuppressedFlag: input.isSelfSuppressedFlag === true,
      connectWiseID: deterministicUuid('connectwise', 'callback', ctx.instance.seed.companyId, String(this.nextCallbackId - 1)),
      lastUpdated: now,
      updatedBy: ctx.actor.identifier,
    };
    ctx.instance.callbacks.set(callback.id, callback);
    // Each registration signs with its own key, served at the key URL its callbacks name.
    this.signingKeys.set(callback.connectWiseID, { companyId: ctx.instance.seed.companyId, key: newSigningKey() });
    return { status: 201, body: renderCallback(callback) };
  }

  private patchCallback(ctx: ApiContext): Reply {
    const callback = this.callback(ctx);
    const operations = parseBody(patchSchema, ctx.body, 'callbackEntry');
    const next = { ...callback };
    const errors: FieldError[] = [];
    for (const { path, value } of operations) {
      const field = path.replace(/^\//, '');
      if (field === 'inactiveFlag' || field === 'isSelfSuppressedFlag') {
        if (typeof value === 'boolean') next[field] = value;
        else errors.push({ code: 'InvalidField', message: `${field} must be true or false.`, field });
      } else if (field === 'url' && typeof value === 'string' && isHttpUrl(value)) next.url = value;
      else if (field === 'description' && typeof value === 'string' && value.length <= 100) next.description = value;
      else errors.push({ code: 'InvalidField', message: `The emulator does not support patching ${path} to that value.`, field });
    }
    if (errors.length > 0) return invalidObject('callbackEntry', errors);
    Object.assign(callback, next, { lastUpdated: cwNow(), updatedBy: ctx.actor.identifier });
    return ok(renderCallback(callback));
  }

  /** Sends the ticket to every matching registration, in the background, like ConnectWise. */
  private fireTicketCallbacks(instance: Instance, ticket: TicketState, actor: MemberRecord, action: 'added' | 'updated'): void {
    const entity = JSON.stringify(renderTicket(this.href, instance, ticket));
    for (const callback of instance.callbacks.values()) {
      if (!callbackApplies(callback, ticket, actor)) continue;
      const key = this.signingKeys.get(callback.connectWiseID);
      if (!key) continue;
      const messageId = this.messageId();
      this.dispatcher.dispatch({
        callbackId: callback.id,
        companyId: instance.seed.companyId,
        url: callbackTarget(callback.url, ticket.id),
        messageId,
        action,
        type: 'ticket',
        recordId: ticket.id,
        memberId: actor.identifier,
        signingKey: key.key,
        payload: {
          MessageId: messageId,
          FromUrl: new URL(this.siteUrl).host,
          CompanyId: instance.seed.companyId,
          MemberId: actor.identifier,
          Action: action,
          Type: 'ticket',
          ID: ticket.id,
          ProductInstanceId: deterministicUuid('connectwise', 'product-instance', instance.seed.companyId),
          PartnerId: deterministicUuid('connectwise', 'partner', instance.seed.companyId),
          Entity: entity,
          Metadata: { key_url: this.keyUrl(instance.seed.companyId, callback.connectWiseID) },
          CallbackObjectRecId: callback.id,
        },
      });
    }
  }

  private messageId(): string {
    return deterministicUuid('connectwise', 'message', String(this.nextMessage++));
  }

  // --- other records ---------------------------------------------------------------------------

  private board(ctx: ApiContext): InstanceSeed['board'] {
    const id = Number(ctx.params[0]);
    if (ctx.instance.seed.board.id !== id) throw new ReplyError(cwError(404, 'NotFound', `Board ${id} not found`));
    return ctx.instance.seed.board;
  }

  private company(ctx: ApiContext): CompanyRecord {
    const id = Number(ctx.params[0]);
    const company = ctx.instance.seed.companies.find((c) => c.id === id);
    if (!company) throw new ReplyError(cwError(404, 'NotFound', `Company ${id} not found`));
    return company;
  }

  private contact(ctx: ApiContext): ContactRecord {
    const id = Number(ctx.params[0]);
    const contact = ctx.instance.seed.contacts.find((c) => c.id === id);
    if (!contact) throw new ReplyError(cwError(404, 'NotFound', `Contact ${id} not found`));
    return contact;
  }

  private member(ctx: ApiContext): MemberRecord {
    const key = decodeURIComponent(ctx.params[0] ?? '');
    const member = ctx.instance.seed.members.find((m) => String(m.id) === key || m.identifier.toLowerCase() === key.toLowerCase());
    if (!member) throw new ReplyError(cwError(404, 'NotFound', `Member ${key} not found`));
    return member;
  }

}

// --- helpers -----------------------------------------------------------------------------------

function replyForError(error: unknown): Reply {
  if (error instanceof ReplyError) return error.reply;
  return cwError(500, 'ConnectWiseApi', `Emulator failure: ${error instanceof Error ? error.message : String(error)}`);
}

/** The injected answer (ConnectWise's error body) or, with dropConnection, no answer at all. */
function faultOutcome(fault: EmulatorFault): Outcome {
  if (fault.dropConnection) return DROP;
  const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
  const message =
    fault.status === 429
      ? 'Too many requests. Please retry after the number of seconds in the Retry-After header.'
      : 'An error occurred while processing the request.';
  return { reply: { ...cwError(fault.status, 'ConnectWiseApi', message), headers } };
}

function findRef<T extends { id: number }>(records: readonly T[], ref: z.output<typeof refInput>, key: 'identifier' | 'name'): T | undefined {
  if (ref.id !== undefined) return records.find((r) => r.id === ref.id);
  const wanted = ref[key]?.toLowerCase();
  return wanted === undefined ? undefined : records.find((r) => String((r as Record<string, unknown>)[key]).toLowerCase() === wanted);
}

function isRef(value: unknown): value is z.output<typeof refInput> {
  return refInput.safeParse(value).success;
}

function noteFlags(input: z.output<typeof newNoteSchema>): Partial<NoteState> {
  return {
    detailDescriptionFlag: input.detailDescriptionFlag === true,
    internalAnalysisFlag: input.internalAnalysisFlag === true,
    resolutionFlag: input.resolutionFlag === true,
    customerUpdatedFlag: input.customerUpdatedFlag === true,
    processNotifications: input.processNotifications === true,
  };
}

function setStatus(ticket: TicketState, status: StatusRecord, by: string): void {
  ticket.statusId = status.id;
  if (status.closedStatus && !ticket.closedFlag) {
    ticket.closedFlag = true;
    ticket.closedDate = cwNow();
    ticket.closedBy = by;
  } else if (!status.closedStatus) {
    ticket.closedFlag = false;
    ticket.closedDate = null;
    ticket.closedBy = null;
  }
}

function callbackErrors(input: z.output<typeof newCallbackSchema>): FieldError[] {
  const errors: FieldError[] = [];
  if (input.url === undefined || !isHttpUrl(input.url)) errors.push({ code: 'InvalidField', message: 'Invalid URL', field: 'url' });
  if ((input.description ?? '').length > 100) {
    errors.push({ code: 'InvalidField', message: 'The description field has a maximum length of 100 characters.', field: 'description' });
  }
  if (input.objectId === undefined) errors.push({ code: 'MissingRequiredField', message: 'The objectId field is required.', field: 'objectId' });
  const type = input.type?.toLowerCase();
  if (type === undefined || !CALLBACK_TYPES.includes(type)) {
    errors.push({ code: 'InvalidField', message: 'Unrecognized type', field: 'type' });
  } else if (type === 'ticket' && !TICKET_CALLBACK_LEVELS.includes(input.level?.toLowerCase() ?? '')) {
    errors.push({ code: 'InvalidField', message: 'Unrecognized level for type', field: 'level' });
  }
  return errors;
}

function callbackApplies(callback: CallbackState, ticket: TicketState, actor: MemberRecord): boolean {
  if (callback.inactiveFlag || callback.type !== 'ticket') return false;
  if (callback.isSelfSuppressedFlag && callback.memberId === actor.id) return false;
  switch (callback.level) {
    case 'owner':
      return true;
    case 'board':
      return callback.objectId === ticket.boardId;
    case 'status':
      return callback.objectId === ticket.statusId;
    case 'ticket':
      return callback.objectId === ticket.id;
    default:
      return false;
  }
}

/** A registration URL ending in `recordId=` gets the record id appended, as integrations report. */
function callbackTarget(url: string, recordId: number): string {
  return /recordid=$/i.test(url) ? `${url}${recordId}` : url;
}

function forgedTicket(ticketId: number | undefined): Record<string, unknown> {
  return { id: ticketId ?? TICKET_ID_START - 1, summary: 'Forged ticket', recordType: 'ServiceTicket', closedFlag: false };
}

function newSigningKey(): string {
  return randomBytes(24).toString('base64');
}
