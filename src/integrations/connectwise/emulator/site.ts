import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { World } from '../../../world/fixture.ts';
import { deterministicUuid } from '../../../world/ids.ts';
import { CallbackDispatcher, type DispatcherOptions } from './callbacks.ts';
import { emulatorClientIds, type MemberRecord, seedInstances } from './data.ts';
import { type ConnectWiseEffectInput, ConnectWiseEffectsLog, type Latency, latencySchema } from './effects.ts';
import { FaultBook } from './faults.ts';
import {
  type CallbackState,
  type Href,
  type Instance,
  type NoteState,
  renderCallback,
  renderNote,
  renderTicket,
  type TicketState,
} from './records.ts';
import { basicCredentials, cwError, cwNow, headerText, normaliseCodebase, type Reply } from './wire.ts';

/**
 * One emulated ConnectWise site and everything it holds in memory for the life of the process: an
 * instance per ConnectWise MSP of the world (its tickets and callback registrations), the id
 * counters, the callback signing keys and deliveries, and what the `/_emulator/` surface shows and
 * sets (faults, latency, the request and effects logs). The HTTP side lives in server.ts and routes/.
 */

export const DEFAULT_EMULATOR_CODEBASE = 'v4_6_release/';
export const TICKET_ID_START = 50_001;
export const NOTE_ID_START = 700_001;
export const CALLBACK_ID_START = 26_551;
const MAX_REQUEST_LOG = 1_000;

export interface RequestLogEntry {
  at: string;
  method: string;
  path: string;
  /** The query string, `?` included (or empty). */
  query: string;
  status: number;
  /** The API version pinned in the call's Accept header; null when none; `malformed:<value>` when refused. */
  apiVersion: string | null;
  companyId?: string;
  member?: string;
}

export interface EmulatorTicketView {
  companyId: string;
  ticket: Record<string, unknown>;
  notes: Record<string, unknown>[];
}

export interface SiteOptions {
  world: World;
  codebase?: string;
  publicUrl?: string;
  delivery?: DispatcherOptions;
  latencyMs?: Latency;
}

/** Who made an API call, once their keys are accepted. */
export interface Caller {
  instance: Instance;
  actor: MemberRecord;
}

export class ConnectWiseSite {
  readonly codebase: string;
  readonly publicUrl: string | undefined;
  readonly instances = new Map<string, Instance>();
  readonly dispatcher: CallbackDispatcher;
  readonly faults = new FaultBook();
  readonly effects = new ConnectWiseEffectsLog();
  /** Signing keys by the id their key URL names (`connectWiseID` of a registration). */
  readonly signingKeys = new Map<string, { companyId: string; key: string }>();
  latency: Latency | null;
  /** Known once the server listens: the URL clients reach it under. */
  siteUrl = '';
  /**
   * The site's second host name (`http://localhost:PORT` for `http://127.0.0.1:PORT`), on which key
   * URLs and Link headers are served, as a real site's may be on its region's other host; null: none.
   */
  aliasUrl: string | null = null;
  private readonly clientIds: ReadonlySet<string>;
  private readonly startLatency: Latency | null;
  private requestLog: RequestLogEntry[] = [];
  private nextTicketId = TICKET_ID_START;
  private nextNoteId = NOTE_ID_START;
  private nextCallbackId = CALLBACK_ID_START;
  private nextMessage = 1;
  /** Absolute API URLs for `_info` links. */
  readonly href: Href = (path) => `${this.siteUrl}/${this.codebase}apis/3.0/${path}`;

  constructor(options: SiteOptions) {
    this.codebase = normaliseCodebase(options.codebase ?? DEFAULT_EMULATOR_CODEBASE);
    this.publicUrl = options.publicUrl?.replace(/\/+$/, '');
    this.startLatency = options.latencyMs ? latencySchema.parse(options.latencyMs) : null;
    this.latency = this.startLatency;
    for (const seed of seedInstances(options.world)) {
      this.instances.set(seed.companyId.toLowerCase(), { seed, tickets: new Map(), callbacks: new Map() });
    }
    this.clientIds = new Set(emulatorClientIds());
    this.dispatcher = new CallbackDispatcher(options.delivery);
  }

  /** Forgets tickets, notes, callbacks, deliveries, faults and the request log; ids start over. */
  reset(): void {
    for (const instance of this.instances.values()) {
      instance.tickets.clear();
      instance.callbacks.clear();
    }
    this.signingKeys.clear();
    this.dispatcher.clear();
    this.faults.clear();
    this.requestLog = [];
    this.effects.clear();
    this.latency = this.startLatency;
    this.nextTicketId = TICKET_ID_START;
    this.nextNoteId = NOTE_ID_START;
    this.nextCallbackId = CALLBACK_ID_START;
    this.nextMessage = 1;
  }

  // --- calls -----------------------------------------------------------------------------------

  record(entry: RequestLogEntry): void {
    this.requestLog.push(entry);
    if (this.requestLog.length > MAX_REQUEST_LOG) this.requestLog.splice(0, this.requestLog.length - MAX_REQUEST_LOG);
  }

  requests(): RequestLogEntry[] {
    return [...this.requestLog];
  }

  /** ConnectWise's checks, in its order: a registered clientId, then keys of a member of that company. */
  authenticate(headers: IncomingHttpHeaders): Caller | { reply: Reply } {
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

  // --- records ---------------------------------------------------------------------------------

  takeTicketId(): number {
    return this.nextTicketId++;
  }

  takeCallbackId(): number {
    return this.nextCallbackId++;
  }

  newNote(ticket: TicketState, actor: MemberRecord, text: string, flags: Partial<NoteState>, contactId: number | null): NoteState {
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

  recordEffect(caller: Caller, requestPath: string, effect: Omit<ConnectWiseEffectInput, 'companyId' | 'member' | 'requestPath'>): void {
    this.effects.append({ ...effect, companyId: caller.instance.seed.companyId, member: caller.actor.identifier, requestPath });
  }

  // --- callbacks -------------------------------------------------------------------------------

  /** A registration signs with its own key, served at the key URL its callbacks name. */
  addSigningKey(keyId: string, companyId: string): void {
    this.signingKeys.set(keyId, { companyId, key: newSigningKey() });
  }

  keyUrl(companyId: string, keyId: string): string {
    return `${this.linkBaseUrl}/${this.codebase}system/callbackkey/index.rails?companyName=${encodeURIComponent(companyId)}&id=${keyId}`;
  }

  /** Where key URLs and Link headers point: the alias when there is one. */
  get linkBaseUrl(): string {
    return this.aliasUrl ?? this.siteUrl;
  }

  messageId(): string {
    return deterministicUuid('connectwise', 'message', String(this.nextMessage++));
  }

  /** Sends the ticket to every matching registration, in the background, like ConnectWise. */
  fireTicketCallbacks(instance: Instance, ticket: TicketState, actor: MemberRecord, action: 'added' | 'updated'): void {
    // Rendered once, and only when some registration is to receive it.
    let entity: string | undefined;
    for (const callback of instance.callbacks.values()) {
      if (!callbackApplies(callback, ticket, actor)) continue;
      const key = this.signingKeys.get(callback.connectWiseID);
      if (!key) continue;
      entity ??= JSON.stringify(renderTicket(this.href, instance, ticket));
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

  // --- inspection ------------------------------------------------------------------------------

  info(): Record<string, unknown> {
    return {
      system: 'connectwise',
      url: this.siteUrl,
      aliasUrl: this.aliasUrl,
      codebase: this.codebase,
      apiBaseUrl: `${this.siteUrl}/${this.codebase}apis/3.0/`,
      companies: [...this.instances.values()].map((i) => ({
        companyId: i.seed.companyId,
        name: i.seed.mspName,
        clients: i.seed.companies.map((c) => c.identifier),
      })),
    };
  }

  ticketViews(companyId?: string): EmulatorTicketView[] {
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

  allCallbacks(): Record<string, unknown>[] {
    return [...this.instances.values()].flatMap((i) =>
      [...i.callbacks.values()].map((c) => ({ companyId: i.seed.companyId, ...renderCallback(c) })),
    );
  }
}

export function newSigningKey(): string {
  return randomBytes(24).toString('base64');
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

/**
 * ConnectWise is reported (by integrators; unverified against its docs) to call the registered URL
 * with the record id appended by plain string concatenation, whatever the URL ends with: `/hook`
 * becomes `/hook57937`, `/hook?recordId=` becomes `/hook?recordId=57937`. The emulator does the same.
 */
export function callbackTarget(url: string, recordId: number): string {
  return `${url}${recordId}`;
}
