import { LRUCache } from 'lru-cache';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Runbook } from '../core/directory.ts';
import { DeskhandError } from '../core/errors.ts';
import type { PolicyOverrides } from '../core/policy.ts';
import type { ToolPolicy } from '../core/tool.ts';
import { type Logger, silentLogger } from '../logger.ts';
import type { DiagnosisReader, Planner } from '../planner/types.ts';
import type { SecretBox } from '../secrets.ts';
import type { Db } from '../store/db.ts';
import type { IntegrationRow } from '../store/schema.ts';
import { IntegrationHealth, observedConnection } from './health.ts';
import { integrationModules, moduleOf } from './index.ts';
import type { KnowledgeSource } from './knowledge.ts';
import type {
  ApprovalNoticeCapability,
  CapabilityName,
  ConnectedIntegration,
  Connection,
  IdentityCapability,
  IntegrationModule,
  ReadCallHook,
  ReaderOptions,
  StepCheck,
  TicketCapability,
  ToolResult,
} from './module.ts';

/**
 * Builds live connections for configured integrations from their rows (settings + decrypted
 * secrets), through their modules, cached and rebuilt when the row changes. The engine asks in the
 * product's words: the ticket a request's note goes on, a client's identity provider, the policies
 * that apply to a client; it never asks which vendor answers.
 */
export interface IdentityRuntime {
  integrationId: string;
  /** The policies that apply to the client: its own per tool, else the integration's, else the default. */
  policies: PolicyOverrides;
  reader(runbooks: () => Promise<Runbook[]>, onCall: ReadCallHook, options?: ReaderOptions): { reader: DiagnosisReader; resolving: DiagnosisReader };
  readTools: IdentityCapability['readTools'];
  /** Run a tool; `prepared` carries what the engine made beforehand (the temporary password). */
  run(tool: string, args: Record<string, string>, resolved: Record<string, string>, prepared?: { temporaryPassword?: string }): Promise<ToolResult>;
  /** Has this write already taken effect (since `intentAt`)? Looks only. */
  reconcile(tool: string, args: Record<string, string>, resolved: Record<string, string>, intentAt: Date): Promise<{ done: true; result: ToolResult } | { done: false }>;
  /** The module's check of a planned step, when it has one (`ToolsCapability.check`). */
  check?(tool: string, args: Record<string, string>, resolved: Record<string, string>): Promise<StepCheck>;
  /** Send mail; `marker` (the message's idempotency key) makes it findable later. */
  sendMail(from: string, mail: { to: string; subject: string; text: string; marker: string }): Promise<void>;
  mailAlreadySent(from: string, subject: string, marker: string): Promise<boolean>;
}

/** A policy with where it comes from, for the API and the dashboard. */
export interface PolicySource {
  policy: ToolPolicy;
  /** `client`: the client's own row; `integration`: the integration's row. */
  source: 'client' | 'integration';
}

/**
 * Every cache here is bounded in size and in time: ids come from outside (a webhook URL names its
 * integration), and a stranger posting made-up ids must not grow memory. Ids looked up and not found
 * are kept apart, in a small cache of their own, so that a flood of them never pushes out real rows.
 */
export const INTEGRATION_CACHE_LIMITS = {
  /** Integration rows found (and each client's available integrations). */
  rows: 1024,
  /** Integration ids looked up and not found. */
  missing: 256,
  policies: 1024,
  /** Live connections built from rows. */
  clients: 512,
} as const;

/** Built connections are built again after this long even when their row has not changed. */
const CLIENT_TTL_MS = 15 * 60_000;

/** A v1-v8 UUID as PostgreSQL prints it (any case): the only shape an integration id has. */
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function boundedCache<V extends object>(max: number, ttlMs: number): LRUCache<string, V> {
  return new LRUCache<string, V>({ max, ttl: ttlMs });
}

/**
 * Rows and policies are read again after this long: a changed credential or URL takes effect within
 * it, without a query per call on the hot path. Execution always reads policies fresh (rule 3).
 */
const ROW_TTL_MS = 2_000;

interface Fresh<T> {
  value: T;
}

/** An integration a client can use, with the client's link when the integration is the MSP's. */
interface AvailableIntegration {
  row: IntegrationRow;
  link: string | null;
}

export class IntegrationRegistry {
  private readonly connections = boundedCache<{ version: string; value: ConnectedIntegration }>(INTEGRATION_CACHE_LIMITS.clients, CLIENT_TTL_MS);
  private readonly rows = boundedCache<Fresh<IntegrationRow | undefined>>(INTEGRATION_CACHE_LIMITS.rows, ROW_TTL_MS);
  private readonly available = boundedCache<Fresh<AvailableIntegration[]>>(INTEGRATION_CACHE_LIMITS.rows, ROW_TTL_MS);
  private readonly missing = boundedCache<Fresh<IntegrationRow | undefined>>(INTEGRATION_CACHE_LIMITS.missing, ROW_TTL_MS);
  private readonly policies = boundedCache<Fresh<PolicyOverrides>>(INTEGRATION_CACHE_LIMITS.policies, ROW_TTL_MS);
  /** Each client's knowledge integrations, with its links (knowledgeForClient). */
  private readonly knowledge = boundedCache<Fresh<AvailableIntegration[]>>(INTEGRATION_CACHE_LIMITS.rows, ROW_TTL_MS);

  /** Each integration's health, recorded from every call through its connections and from its doctor. */
  readonly health: IntegrationHealth;

  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
    readonly modules: readonly IntegrationModule[] = integrationModules,
    options: { clock?: Clock; logger?: Logger } = {},
  ) {
    this.health = new IntegrationHealth(db, options.clock ?? systemClock, options.logger ?? silentLogger);
  }

  /** How many entries each cache holds now; each stays within INTEGRATION_CACHE_LIMITS. */
  cacheSizes(): Record<'rows' | 'missing' | 'policies' | 'connections' | 'available', number> {
    return {
      rows: this.rows.size,
      missing: this.missing.size,
      policies: this.policies.size,
      connections: this.connections.size,
      available: this.available.size,
    };
  }

  module(kind: string): IntegrationModule {
    const found = this.modules.find((m) => m.kind === kind) ?? moduleOf(kind);
    if (!found) throw new DeskhandError('config', `no integration module of kind ${kind} is installed`);
    return found;
  }

  async row(integrationId: string): Promise<IntegrationRow> {
    // An id that is not a UUID names nothing: refused before any lookup, and never remembered.
    if (!UUID_PATTERN.test(integrationId)) throw new DeskhandError('not_found', 'no integration has this id');
    const row = await this.remember(
      this.rows,
      integrationId,
      () => this.db.selectFrom('integrations').selectAll().where('id', '=', integrationId).executeTakeFirst(),
      this.missing,
    );
    if (!row) throw new DeskhandError('not_found', `integration ${integrationId} does not exist`);
    return row;
  }

  /** What `load` returns, read again after ROW_TTL_MS; an undefined answer goes to `absent` when given. */
  private async remember<T>(cache: LRUCache<string, Fresh<T>>, key: string, load: () => Promise<T>, absent?: LRUCache<string, Fresh<T>>): Promise<T> {
    const known = cache.get(key) ?? absent?.get(key);
    if (known) return known.value;
    const value = await load();
    (value === undefined && absent ? absent : cache).set(key, { value });
    return value;
  }

  secretsOf(row: IntegrationRow): Record<string, string> {
    return row.secrets_encrypted ? this.secrets.decryptJson(row.secrets_encrypted) : {};
  }

  /** The integration, connected through its module (for one client's link when given), reused while its row is unchanged. */
  connected(row: IntegrationRow, clientLink: string | null = null): ConnectedIntegration {
    const version = `${row.updated_at.toISOString()}|${clientLink ?? ''}`;
    const key = clientLink ? `${row.id}|${clientLink}` : row.id;
    const cached = this.connections.get(key);
    if (cached && cached.version === version) return cached.value;
    const module = this.module(row.kind);
    const settings = row.config as Record<string, unknown>;
    const secrets = this.secretsOf(row);
    // Every call through its capabilities tells the integration's health (refused credentials, or an answer).
    let built: Connection;
    try {
      built = module.connect({ integrationId: row.id, name: row.name, kind: row.kind, settings, secrets, ...(clientLink ? { clientLink } : {}) });
    } catch (error) {
      // A setting it cannot work with: the integration is unhealthy until its configuration is fixed.
      void this.health.observe(row.id, { ok: false, error });
      throw error;
    }
    const connection = observedConnection(built, (outcome) => this.health.observe(row.id, outcome));
    const value: ConnectedIntegration = { id: row.id, mspId: row.msp_id, name: row.name, kind: row.kind, settings, secrets, connection };
    this.connections.set(key, { version, value });
    return value;
  }

  /** The ticket capability of an integration (where a request's notes and reply go). */
  async ticketOf(integrationId: string): Promise<TicketCapability> {
    const row = await this.row(integrationId);
    const ticket = this.connected(row).connection.ticket;
    if (!ticket) throw new DeskhandError('config', `integration ${row.name} (${row.kind}) has no tickets deskhand can write to`);
    return ticket;
  }

  /** Where technicians are told that a plan waits for them. */
  async approvalNoticeOf(integrationId: string): Promise<ApprovalNoticeCapability> {
    const row = await this.row(integrationId);
    const notice = this.connected(row).connection.approvalNotice;
    if (!notice) throw new DeskhandError('config', `integration ${row.name} (${row.kind}) cannot notify technicians`);
    return notice;
  }

  /** The enabled integrations of modules that offer `capability` (e.g. every PSA to poll). */
  async enabledWith(hook: 'poll' | 'onConnect'): Promise<IntegrationRow[]> {
    const kinds = this.modules.filter((m) => m[hook] !== undefined).map((m) => m.kind);
    if (kinds.length === 0) return [];
    return this.db.selectFrom('integrations').selectAll().where('kind', 'in', kinds).where('enabled', '=', true).execute();
  }

  /**
   * The integrations a client can use: its own (client-scoped), and its MSP's that it is linked to
   * (or that need no link).
   */
  private async availableTo(clientId: string): Promise<AvailableIntegration[]> {
    return this.remember(this.available, clientId, async () => {
      const client = await this.db.selectFrom('clients').select(['msp_id']).where('id', '=', clientId).executeTakeFirst();
      if (!client) return [];
      const rows = await this.db
        .selectFrom('integrations')
        .leftJoin('client_links', (join) => join.onRef('client_links.integration_id', '=', 'integrations.id').on('client_links.client_id', '=', clientId))
        .selectAll('integrations')
        .select('client_links.external_id as link')
        .where('integrations.msp_id', '=', client.msp_id)
        .where('integrations.enabled', '=', true)
        .where((eb) => eb.or([eb('integrations.client_id', '=', clientId), eb('integrations.client_id', 'is', null)]))
        .execute();
      return rows
        // The MSP's integrations reach a client through its link (a PSA company, a tenant): none, none.
        .filter((row) => row.client_id === clientId || row.link !== null || !this.module(row.kind).clientLink)
        .map(({ link, ...row }) => ({ row: row as IntegrationRow, link: row.client_id === clientId ? null : link }));
    });
  }

  /** The client's integration offering `capability`: its own first (a per-client override), then its MSP's. */
  private async forClient(clientId: string, capability: CapabilityName): Promise<AvailableIntegration | null> {
    const candidates = (await this.availableTo(clientId)).filter((a) => this.module(a.row.kind).provides.includes(capability));
    return candidates.find((a) => a.row.client_id === clientId) ?? candidates[0] ?? null;
  }

  /**
   * The client's identity provider, or null when none is configured. `freshPolicies` reads the tool
   * policies now rather than from the short cache (execution: a tool disabled a second ago must not run).
   */
  async identityForClient(clientId: string, options: { freshPolicies?: boolean } = {}): Promise<IdentityRuntime | null> {
    const found = await this.forClient(clientId, 'identity');
    if (!found) return null;
    const { connection, id } = this.connected(found.row, found.link);
    const policies = options.freshPolicies ? await this.policiesForClient(clientId) : await this.remember(this.policies, `client:${clientId}`, () => this.policiesForClient(clientId));
    return identityFrom(id, connection, policies);
  }

  /** The model-backed planner the client uses (its own, else its MSP's), or null for the built-in one. */
  async plannerForClient(clientId: string): Promise<Planner | null> {
    const found = await this.forClient(clientId, 'planner');
    if (!found) return null;
    return this.connected(found.row, found.link).connection.planner?.planner ?? null;
  }

  /** The integrations a client uses, each once (its own, and its MSP's it is linked to). */
  async integrationsOfClient(clientId: string): Promise<IntegrationRow[]> {
    const byKind = new Map<string, IntegrationRow>();
    for (const { row } of await this.availableTo(clientId)) {
      // A client's own integration of a kind overrides its MSP's (a per-client credential override).
      const known = byKind.get(row.kind);
      if (!known || (row.client_id === clientId && known.client_id !== clientId)) byKind.set(row.kind, row);
    }
    return [...byKind.values()];
  }

  /** The policies that apply to a client, by tool: the client's own row, else its integration's. */
  async policiesForClient(clientId: string): Promise<PolicyOverrides> {
    return new Map([...(await this.policySourcesForClient(clientId))].map(([tool, found]) => [tool, found.policy]));
  }

  async policySourcesForClient(clientId: string): Promise<Map<string, PolicySource>> {
    const integrations = (await this.integrationsOfClient(clientId)).map((row) => row.id);
    if (integrations.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('tool_policies')
      .selectAll()
      .where('integration_id', 'in', integrations)
      .where((eb) => eb.or([eb('client_id', 'is', null), eb('client_id', '=', clientId)]))
      .execute();
    const found = new Map<string, PolicySource>();
    // The integration's rows first, the client's after: the client's own policy wins.
    for (const row of [...rows].sort((a, b) => (a.client_id === null ? 0 : 1) - (b.client_id === null ? 0 : 1))) {
      found.set(row.tool, { policy: { policy: row.policy, requireManagerApproval: row.require_manager_approval }, source: row.client_id ? 'client' : 'integration' });
    }
    return found;
  }

  /** The integration's own policies (no client's). */
  async policiesOf(integrationId: string): Promise<PolicyOverrides> {
    const rows = await this.db.selectFrom('tool_policies').selectAll().where('integration_id', '=', integrationId).where('client_id', 'is', null).execute();
    return new Map<string, ToolPolicy>(rows.map((row) => [row.tool, { policy: row.policy, requireManagerApproval: row.require_manager_approval }]));
  }

  /**
   * The knowledge bases a client's diagnosis reads (runbooks): on each enabled integration of its MSP
   * that offers knowledge, the client's linked company when it has a link (never without one), and
   * the MSP's own knowledge base, consulted for every client; a client's own integration is read
   * whole. Each comes with the policies that apply to the client on it. Empty when the MSP has none.
   */
  async knowledgeForClient(clientId: string): Promise<KnowledgeSource[]> {
    const kinds = this.modules.filter((m) => m.provides.includes('knowledge')).map((m) => m.kind);
    if (kinds.length === 0) return [];
    const rows = await this.remember(this.knowledge, clientId, async () => {
      const client = await this.db.selectFrom('clients').select(['msp_id']).where('id', '=', clientId).executeTakeFirst();
      if (!client) return [];
      const found = await this.db
        .selectFrom('integrations')
        .leftJoin('client_links', (join) => join.onRef('client_links.integration_id', '=', 'integrations.id').on('client_links.client_id', '=', clientId))
        .selectAll('integrations')
        .select('client_links.external_id as link')
        .where('integrations.msp_id', '=', client.msp_id)
        .where('integrations.enabled', '=', true)
        .where('integrations.kind', 'in', kinds)
        .where((eb) => eb.or([eb('integrations.client_id', '=', clientId), eb('integrations.client_id', 'is', null)]))
        .execute();
      return found.map(({ link, ...row }) => ({ row: row as IntegrationRow, link: row.client_id === clientId ? null : link }));
    });
    const sources: KnowledgeSource[] = [];
    for (const { row, link } of rows) {
      const policies = await this.remember(this.policies, `knowledge:${row.id}:${clientId}`, () => this.policiesOfFor(row.id, clientId));
      const scopes = row.client_id === clientId ? [null] : link !== null ? [link, null] : [null];
      for (const scope of scopes) {
        const knowledge = this.connected(row, link).connection.knowledge;
        if (knowledge) sources.push({ integrationId: row.id, name: row.name, clientLink: scope, knowledge, policies });
      }
    }
    return sources;
  }

  /** One integration's policies for one client: the client's own rows over the integration's. */
  private async policiesOfFor(integrationId: string, clientId: string): Promise<PolicyOverrides> {
    const rows = await this.db
      .selectFrom('tool_policies')
      .selectAll()
      .where('integration_id', '=', integrationId)
      .where((eb) => eb.or([eb('client_id', 'is', null), eb('client_id', '=', clientId)]))
      .execute();
    const sorted = [...rows].sort((a, b) => (a.client_id === null ? 0 : 1) - (b.client_id === null ? 0 : 1));
    return new Map<string, ToolPolicy>(sorted.map((row) => [row.tool, { policy: row.policy, requireManagerApproval: row.require_manager_approval }]));
  }

  /** Forget what was read about integrations (a configuration, link or policy just changed here). */
  invalidate(integrationId?: string): void {
    this.policies.clear();
    this.available.clear();
    this.knowledge.clear();
    if (!integrationId) {
      this.rows.clear();
      this.missing.clear();
      return;
    }
    this.rows.delete(integrationId);
    this.missing.delete(integrationId);
  }
}

/** The identity provider as the engine uses it, from a connection that offers identity and tools. */
export function identityFrom(integrationId: string, connection: Connection, policies: PolicyOverrides): IdentityRuntime | null {
  const identity = connection.identity;
  const tools = connection.tools;
  if (!identity || !tools) return null;
  return {
    integrationId,
    policies,
    reader: (runbooks, onCall, readerOptions) => identity.reader(runbooks, onCall, readerOptions),
    readTools: identity.readTools,
    run: (tool, args, resolved, prepared) => tools.run(tool, args, resolved, prepared),
    reconcile: (tool, args, resolved, intentAt) => tools.reconcile(tool, args, resolved, intentAt),
    ...(tools.check ? { check: tools.check.bind(tools) } : {}),
    sendMail: (from, mail) => identity.sendMail(from, mail),
    mailAlreadySent: (from, subject, marker) => identity.mailAlreadySent(from, subject, marker),
  };
}
