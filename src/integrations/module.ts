import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { Clock } from '../core/clock.ts';
import type { BoardStatusMap } from '../core/ticket-status.ts';
import type { Runbook } from '../core/directory.ts';
import type { PlanStep } from '../core/plan.ts';
import type { ToolDefinition } from '../core/tool.ts';
import type { Logger } from '../logger.ts';
import type { DiagnosisReader, Planner, PlannerInput } from '../planner/types.ts';

export type RequestChannel = PlannerInput['request']['channel'];

/**
 * What an integration module is: one outside system, one folder (`src/integrations/<kind>/`),
 * discovered through the list in `index.ts`. The engine never asks which vendor it talks to; it
 * asks a connected integration for a capability (a ticket to note on, an identity provider to read
 * and mail through, tools to run) and the module answers in its system's terms.
 */
export interface IntegrationModule {
  /** Stable identifier, stored in `integrations.kind` and prefixing its tools' names. */
  readonly kind: string;
  /** What people see: "ConnectWise PSA", "Microsoft 365". */
  readonly label: string;
  /** Connected once per MSP (a PSA, a multi-tenant app) or once per client. */
  readonly scope: 'msp' | 'client';
  /**
   * An MSP-scoped system a client may also connect on its own (its own credentials): the client's
   * integration then wins over the MSP's for that client.
   */
  readonly clientOverride?: boolean;
  /** The capabilities its connections offer, so that lists (PSAs, identity providers) need no vendor names. */
  readonly provides: readonly CapabilityName[];
  /** Settings (shown and edited in the dashboard) and secrets (write-only), as Zod schemas. */
  readonly settings: z.ZodType<Record<string, unknown>>;
  readonly secrets: z.ZodType<Record<string, string>>;
  /**
   * What a client's link to this system holds, for an MSP-scoped integration: the client's PSA
   * company, its Microsoft 365 tenant id. Stored in `client_links`.
   */
  readonly clientLink?: { readonly label: string; readonly schema: z.ZodType<string> };
  /**
   * For a multi-tenant app (an MSP-scoped integration reaching each client's tenant through its
   * link): the URL a client's administrator opens to consent to the app in their tenant (`tenant`:
   * the client's link, or null before it is linked). `redirectUri` is where the system sends them
   * back; it must be registered on the app.
   */
  adminConsentUrl?(settings: Record<string, unknown>, target: { tenant: string | null; redirectUri: string }): string;
  /**
   * Settings only deskhand itself writes (for an integration pointing at a built-in emulator),
   * beside `EMULATED_SETTINGS`: never shown in a form, never accepted from the API.
   */
  readonly internalSettings?: readonly string[];
  /** Its tools (names are `<kind>.<verb_noun>`, a contract). */
  readonly tools: readonly ModuleTool[];
  /** Build the live connection from a stored integration (settings parsed, secrets decrypted). */
  connect(input: ConnectionInput): Connection;
  /** Its webhook routes, mounted under `/webhooks/<kind>/`. */
  readonly webhooks?: WebhookPlugin;
  /** Each webhook route, described for the route table (who may call it; what its parameters name). */
  readonly webhookRoutes?: readonly WebhookRoute[];
  /** Ask the system for what its webhooks may have missed (new tickets); returns how many were taken in. */
  poll?(integration: ConnectedIntegration, host: IntakeHost, intervalMs: number): Promise<number>;
  /**
   * Register what the system needs when the integration is connected or its settings change (a
   * callback URL), and check it works. Idempotent: it runs at every start.
   */
  onConnect?(integration: ConnectedIntegration, host: ConnectHost): Promise<ConnectOutcome>;
  /**
   * Connect to the system and report, for every tool, whether the credentials, permissions and
   * roles it needs are present, with the fix for each missing one (`deskhand doctor`, and the
   * dashboard's *Test connection*). Reads only: it never changes the system.
   */
  doctor?(integration: ConnectedIntegration, host: DoctorHost): Promise<DoctorReport>;
}

/** What a module's doctor may ask of deskhand. */
export interface DoctorHost {
  readonly logger: Logger;
  /** Every client linked to this integration (an MSP-wide app is checked in each client's tenant). */
  linkedClients(): Promise<{ clientId: string; clientName: string; externalId: string }[]>;
}

/** One thing the doctor looked at: a credential, a permission, a role, a registration. */
export interface DoctorCheck {
  /** What was checked, in the system's words ("Graph application permission User.ReadWrite.All"). */
  name: string;
  ok: boolean;
  /** What was found (never a secret). */
  detail: string;
  /** For a failed check: what an admin does to fix it. */
  fix?: string;
}

export interface ToolDoctorReport {
  tool: string;
  /** For an integration checked per client (a multi-tenant app): the client. */
  client?: { id: string; name: string };
  /** `ok`: everything it needs is present; `missing`: something it needs is not; `error`: could not be checked. */
  status: 'ok' | 'missing' | 'error';
  /** The checks this tool depends on that failed (empty when `ok`). */
  missing: DoctorCheck[];
}

export interface DoctorReport {
  ok: boolean;
  /** The connection-level checks (reaching the system, signing in), then the permission checks. */
  checks: DoctorCheck[];
  tools: ToolDoctorReport[];
}

export type CapabilityName = 'ticket' | 'approvalNotice' | 'identity' | 'tools' | 'knowledge' | 'planner';

/** A tool, with the words deskhand uses for one of its steps. */
export interface ModuleTool extends ToolDefinition {
  /** The step in plain words for employees and managers ("add alex@… to SG-App-Zendesk"). */
  ask(args: Record<string, string>): string;
  /** The step done, for the employee's reply ("alex@… was added to SG-App-Zendesk"). */
  done(args: Record<string, string>): string;
  /**
   * For a tool whose result is a secret (`secretResult`): the secret, made before the call (a
   * temporary password), so that it is stored encrypted with the step's intent and a reconciled
   * step still has it. The engine hands it to the tool as `prepared.temporaryPassword`.
   */
  prepareSecret?(): string;
}

export interface ConnectionInput {
  integrationId: string;
  /** For messages about the integration (never a secret). */
  name: string;
  kind: string;
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
  /** For an MSP-scoped integration used for one client: the client's link (e.g. its tenant id). */
  clientLink?: string;
}

/** A live connection: the capabilities the engine may ask for. */
export interface Connection {
  ticket?: TicketCapability;
  approvalNotice?: ApprovalNoticeCapability;
  identity?: IdentityCapability;
  tools?: ToolsCapability;
  knowledge?: KnowledgeCapability;
  planner?: PlannerCapability;
}

/** A model-backed planner the MSP (or one client) chose instead of the built-in one. */
export interface PlannerCapability {
  readonly planner: Planner;
}

/**
 * A documentation platform's runbooks (knowledge-base articles, documents): those of a client's
 * linked company or organization, and the MSP's own knowledge base, consulted for every client. A
 * client that is not linked is never consulted.
 */
export interface KnowledgeCapability {
  /**
   * Every article of the client's company (`clientLink`: the client's link on this integration), or
   * of the MSP's own knowledge base when `clientLink` is null; `query` narrows the list when given.
   */
  list(scope: { clientLink: string | null }, query?: string): Promise<KnowledgeArticle[]>;
  /** One article by the system's id, or null when it is gone or outside the connection's scope. */
  get(id: string): Promise<KnowledgeArticle | null>;
  /** The read tools behind `list` and `get`: their policies apply, and reads are recorded under their names. */
  readonly readTools: { readonly list: string; readonly get: string };
}

export interface KnowledgeArticle {
  /** The system's own id of the article. */
  id: string;
  title: string;
  /** The article's text (HTML reduced to plain text by the module). */
  body: string;
  /** Where a technician opens it (cited in the internal note), or null. */
  url: string | null;
}

/**
 * A PSA ticket (or any thread a request came from): read the request, write notes on it, and move it
 * through the statuses the MSP maps per board. Every PSA module implements all of it.
 */
export interface TicketCapability {
  getTicket(ref: string): Promise<TicketText>;
  /** Only the employee's description (when the summary and requester are already known). */
  getDescription(ref: string): Promise<string>;
  /**
   * An internal note (technicians only) or a reply (the employee sees it). `marker` names the note
   * for reconciliation (`findNote`), and the module decides where it lives: it may be written into an
   * internal note, but never into anything the employee sees; a customer note is found again by its
   * content, author and visibility, or by a field the employee does not see.
   */
  postNote(ref: string, note: TicketNote): Promise<{ id: string }>;
  /** The note an earlier attempt of this post left on the ticket (same marker, or same content for a reply), or null: reconciling after a crash. */
  findNote(ref: string, note: TicketNote): Promise<string | null>;
  /** The boards (queues) tickets live on, each with the names of the statuses it offers. */
  boards(): Promise<TicketBoard[]>;
  /**
   * Move the ticket to the status its board maps to in `byBoard` (board name → status name). Nothing
   * changes when its board is not in the map or the ticket is already in that status: idempotent.
   */
  setStatus(ref: string, byBoard: Readonly<Record<string, string>>): Promise<TicketStatusChange>;
  /** The PSA's companies (the MSP's customers), for an admin to import as deskhand clients. */
  companies(): Promise<PsaCompany[]>;
}

export interface PsaCompany {
  /** What a client's link on this integration holds (matched against `TicketText.companyIdentifier`). */
  externalId: string;
  name: string;
}

export interface TicketNote {
  text: string;
  visibility: 'internal' | 'customer';
  /** deskhand's marker for this note (`[deskhand ref <key>]`): unique per note deskhand posts. */
  marker: string;
}

export interface TicketBoard {
  name: string;
  statuses: string[];
}

export interface TicketStatusChange {
  /** The ticket's board (null when it has none). */
  board: string | null;
  /** The status it was moved to, or the one it already had; null when its board maps none. */
  status: string | null;
  changed: boolean;
}

export interface TicketText {
  ref: string;
  summary: string;
  description: string;
  requesterEmail: string | null;
  requesterName: string | null;
  /** The system's own identifier of the client (a PSA company), matched against client links. */
  companyIdentifier: string | null;
}

/** Telling technicians that a plan waits for them (on the ticket, an issue, a chat). */
export interface ApprovalNoticeCapability {
  notify(ref: string, text: string): Promise<{ id: string }>;
  findNoticeWithMarker(ref: string, marker: string): Promise<string | null>;
}

/** The identity provider: what diagnosis reads, and mail to the employee's manager. */
export interface IdentityCapability {
  /**
   * What diagnosis may read: only the read tools `allowed` says the policies allow (a disabled one
   * is never called). `resolving` is the same reader without that check, for the names of a write
   * step the policies allow (part of that step); it reuses what diagnosis read.
   */
  reader(runbooks: () => Promise<Runbook[]>, onCall: ReadCallHook, options?: ReaderOptions): { reader: DiagnosisReader; resolving: DiagnosisReader };
  /** The read tools behind the reader's questions, named in notes ("not checked: <tool> is disabled"). */
  readonly readTools: { readonly user: string; readonly manager: string; readonly groups: string; readonly licenses: string };
  /** Send mail as `from`; `marker` makes it findable later in the sender's sent mail. */
  sendMail(from: string, mail: { to: string; subject: string; text: string; marker: string }): Promise<void>;
  /** Whether a mail with this marker was already sent by `from`. */
  mailAlreadySent(from: string, subject: string, marker: string): Promise<boolean>;
}

export type ReadPurpose = 'diagnosis' | 'resolve';
export type ReadCallHook = (tool: string, args: Record<string, string>, result: unknown, purpose?: ReadPurpose) => void;
export interface ReaderOptions {
  allowed?: (tool: string) => boolean;
  onRefused?: (tool: string, args: Record<string, string>) => void;
}

export interface ToolResult {
  summary: string;
  data?: unknown;
  /**
   * A write that succeeded in part (the rest cannot be done by anyone through this system): what was
   * left as it was and why, in plain words for the employee and the technician. The step counts as
   * done; the internal note and the reply say this.
   */
  partial?: string;
}

/** Running write tools exactly once: run, and reconcile (look, never write) after an interruption. */
export interface ToolsCapability {
  run(tool: string, args: Record<string, string>, resolved: Record<string, string>, prepared?: { temporaryPassword?: string }): Promise<ToolResult>;
  reconcile(tool: string, args: Record<string, string>, resolved: Record<string, string>, intentAt: Date): Promise<{ done: true; result: ToolResult } | { done: false }>;
  /**
   * Optional, reads only: before a plan is accepted, look at one of its steps (its arguments resolved)
   * and say how the system will carry it out (`note`, for the technicians' note), or why it cannot be
   * carried out with this connection (`ok: false`: the request escalates with that reason instead of
   * failing when it runs). A tool the module has nothing to say about is `{ ok: true }`.
   */
  check?(tool: string, args: Record<string, string>, resolved: Record<string, string>): Promise<StepCheck>;
}

/** What a tool's check found about one step of a plan (see `ToolsCapability.check`). */
export type StepCheck = { ok: true; note?: string } | { ok: false; reason: string };

/** A stored integration, connected. */
export interface ConnectedIntegration {
  id: string;
  mspId: string;
  name: string;
  kind: string;
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
  connection: Connection;
}

/** What a module's webhooks and poll may ask of deskhand: find integrations and clients, take requests in. */
export interface IntakeHost {
  readonly logger: Logger;
  readonly clock: Clock;
  /** The enabled integration of `kind` with this id, connected; null for anything else (never a hint why). */
  integration(kind: string, id: string): Promise<ConnectedIntegration | null>;
  /** The client linked to `externalId` (case-insensitive) on this integration, or null (not served). */
  clientByLink(integrationId: string, externalId: string): Promise<{ id: string } | null>;
  /** Every client linked to this integration, with its link. */
  linkedClients(integrationId: string): Promise<{ clientId: string; externalId: string }[]>;
  /** Take a request in: idempotent per integration and external reference. */
  takeIn(input: TakeInInput): Promise<TakeInResult>;
  /** Tell the workers there is new work. */
  wake(): void;
  /** A small durable value of this integration's (a poll cursor), claimed by one worker per interval. */
  claimCursor<T>(key: string, intervalMs: number): Promise<{ state: 'busy' } | { state: 'claimed'; value: T | null }>;
  saveCursor<T>(key: string, value: T): Promise<void>;
}

export interface TakeInInput {
  integration: ConnectedIntegration;
  clientId: string;
  /** Where the request came in: a ticket, a call, a chat message. */
  channel: RequestChannel;
  externalRef: string;
  requesterEmail?: string | null;
  subject?: string;
  body?: string;
  /** Who took it in, for the audit log: `webhook:<kind>`, `poll:<kind>`. */
  via: string;
}

export type TakeInResult = { requestId: string; created: boolean } | { refused: string };

export type WebhookPlugin = (scope: FastifyInstance, host: IntakeHost) => void | Promise<void>;

export interface ConnectHost {
  readonly logger: Logger;
  /** Where this deskhand receives webhooks (`<base>/webhooks/<kind>/...`), or null when it cannot be reached. */
  readonly webhookBaseUrl: string | null;
}

export interface ConnectOutcome {
  ok: boolean;
  /** What was registered or checked, for the operator. */
  detail: string;
}

/** The words of a step, from its tool; a tool unknown to every module reads as its name. */
export type StepWords = (step: Pick<PlanStep, 'tool' | 'args'>) => string;

export interface WebhookRoute {
  method: 'POST' | 'GET' | 'PUT';
  /** Under `/webhooks/<kind>`, as registered (`:name` parameters). */
  path: string;
  /** Who may call it, in words. */
  who: string;
  /** What each path parameter names. */
  params: Record<string, 'integration' | 'webhook-secret'>;
  /** The answer to a well-formed call that starts nothing (every caller alike: sessions and tokens add nothing). */
  answer: number;
}

/**
 * An integration of the demo world, as an emulated system describes it: what `deskhand start`, the
 * demo and the tests seed into an empty database, pointing at the running emulator.
 */
export interface DemoIntegration {
  /** The world's MSP id. */
  msp: string;
  /** The world's client id, for a client-scoped integration. */
  client?: string;
  kind: string;
  name: string;
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
  /** Clients linked to an MSP-scoped integration, by world client id. */
  links?: { client: string; externalId: string }[];
  /** Tool policies: the integration's (no client) or one client's own. */
  policies?: { client?: string; tool: string; policy: 'auto' | 'approval_needed' | 'disabled'; requireManagerApproval: boolean }[];
  /** For a PSA: the ticket status each board maps each phase to (waiting, in_progress, resolved). */
  ticketStatuses?: BoardStatusMap[];
}

/** A built-in emulator as the demo seeding sees it (the list lives in `src/integrations/emulators.ts`). */
export interface EmulatedSystem {
  readonly kind: string;
  /** "ConnectWise emulator", shown on the home page. */
  readonly label: string;
  /** The emulator's base URL among the running emulators' endpoints. */
  url(endpoints: Record<string, string>): string;
  /** Further listeners of the same emulator, each a system of its own (Exchange Online beside Graph). */
  alsoServes?(endpoints: Record<string, string>): { name: string; url: string }[];
  /** The demo world's integrations of this system, pointing at the running emulator. */
  demoIntegrations(world: DemoWorld, endpoints: Record<string, string>): DemoIntegration[];
  /** An emulated integration's settings, pointed at the emulator's current address (it moves between runs). */
  pointAt(settings: Record<string, unknown>, endpoints: Record<string, string>): Record<string, unknown>;
  /**
   * For an emulated PSA: open a ticket as an employee of a client would (through the customer portal),
   * so that the system calls deskhand back as for a real ticket. Returns the ticket's id.
   */
  openTicket?(endpoints: Record<string, string>, input: { msp: string; client: string; requester: string; text: string; summary?: string }): Promise<number>;
}

/** The parts of the demo world an emulated system reads (src/world/fixture.ts has the whole). */
export interface DemoWorld {
  msps: readonly { id: string; name: string; psa: string }[];
  clients: readonly { id: string; msp: string; name: string; toolPolicies?: Record<string, { policy: 'auto' | 'approval_needed' | 'disabled'; requireManagerApproval?: boolean | undefined }> | undefined }[];
}

/** The settings that mark an integration as one pointing at a built-in emulator. */
export const EMULATED_SETTINGS = { emulated: true, developmentLoopback: true } as const;
