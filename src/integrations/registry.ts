import { LRUCache } from 'lru-cache';
import type { Runbook } from '../core/directory.ts';
import { DeskhandError } from '../core/errors.ts';
import type { PolicyOverrides } from '../core/policy.ts';
import type { ToolPolicy } from '../core/tool.ts';
import type { DiagnosisReader } from '../planner/types.ts';
import type { SecretBox } from '../secrets.ts';
import type { Db } from '../store/db.ts';
import type { IntegrationRow } from '../store/schema.ts';
import { ConnectWiseChannel } from './connectwise/channel.ts';
import { ConnectWiseClient } from './connectwise/client.ts';
import { baseUrlProblem, DEVELOPMENT_LOOPBACK_SETTING } from './http.ts';
import { GraphClient, markedSubject } from './m365/client.ts';
import { M365DiagnosisReader, type ReadCallHook, type ReaderOptions } from './m365/reader.ts';
import { M365ToolRunner, type ToolResult } from './m365/runner.ts';
import type { PsaChannel } from './psa.ts';

/**
 * Builds live clients for configured integrations from their rows (config + decrypted secrets),
 * cached per integration and refreshed when the row changes. The engine asks for what it needs in
 * the product's words: the PSA channel a request came from, the identity provider of a client.
 */
export interface IdentityRuntime {
  integrationId: string;
  policies: PolicyOverrides;
  /**
   * What diagnosis may read: only the read tools `allowed` says the policies allow (a disabled one
   * is never called). `resolving` is the same reader without that check, for the names of a write
   * step the policies allow (part of that step); it reuses what diagnosis read.
   */
  reader(
    runbooks: () => Promise<Runbook[]>,
    onCall: ReadCallHook,
    options?: ReaderOptions,
  ): { reader: DiagnosisReader; resolving: DiagnosisReader };
  /** Run a tool; `prepared` carries what the engine made beforehand (the temporary password). */
  run(tool: string, args: Record<string, string>, resolved: Record<string, string>, prepared?: { temporaryPassword?: string }): Promise<ToolResult>;
  /** Has this write already taken effect (since `intentAt`)? Looks only. */
  reconcile(tool: string, args: Record<string, string>, resolved: Record<string, string>, intentAt: Date): Promise<{ done: true; result: ToolResult } | { done: false }>;
  /** Send mail; `marker` makes it findable later in the sender's Sent Items. */
  sendMail(from: string, mail: { to: string; subject: string; text: string; marker?: string }): Promise<void>;
  /** Whether a mail with this marker is already in the sender's Sent Items. */
  mailAlreadySent(from: string, subject: string, marker: string): Promise<boolean>;
}

interface Cached<T> {
  version: string;
  value: T;
}

/**
 * Every cache here is bounded in size and in time: ids come from outside (a webhook URL names its
 * integration), and a stranger posting made-up ids must not grow memory. Ids looked up and not found
 * are kept apart, in a small cache of their own, so that a flood of them never pushes out real rows.
 */
export const INTEGRATION_CACHE_LIMITS = {
  /** Integration rows found (and each client's identity integration). */
  rows: 1024,
  /** Integration ids looked up and not found. */
  missing: 256,
  policies: 1024,
  /** Live clients and channels built from rows (ConnectWise, Graph). */
  clients: 512,
} as const;

/** Built clients are built again after this long even when their row has not changed. */
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

export class IntegrationRegistry {
  private readonly psaCache = boundedCache<Cached<PsaChannel>>(INTEGRATION_CACHE_LIMITS.clients, CLIENT_TTL_MS);
  private readonly identityCache = boundedCache<Cached<{ graph: GraphClient }>>(INTEGRATION_CACHE_LIMITS.clients, CLIENT_TTL_MS);
  private readonly cwClients = boundedCache<Cached<ConnectWiseClient>>(INTEGRATION_CACHE_LIMITS.clients, CLIENT_TTL_MS);
  private readonly rows = boundedCache<Fresh<IntegrationRow | undefined>>(INTEGRATION_CACHE_LIMITS.rows, ROW_TTL_MS);
  private readonly missing = boundedCache<Fresh<IntegrationRow | undefined>>(INTEGRATION_CACHE_LIMITS.missing, ROW_TTL_MS);
  private readonly policies = boundedCache<Fresh<PolicyOverrides>>(INTEGRATION_CACHE_LIMITS.policies, ROW_TTL_MS);

  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
  ) {}

  /** How many entries each cache holds now; each stays within INTEGRATION_CACHE_LIMITS. */
  cacheSizes(): Record<'rows' | 'missing' | 'policies' | 'psa' | 'identity' | 'connectWise', number> {
    return {
      rows: this.rows.size,
      missing: this.missing.size,
      policies: this.policies.size,
      psa: this.psaCache.size,
      identity: this.identityCache.size,
      connectWise: this.cwClients.size,
    };
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

  async psaChannel(integrationId: string): Promise<PsaChannel> {
    const row = await this.row(integrationId);
    const version = row.updated_at.toISOString();
    const cached = this.psaCache.get(integrationId);
    if (cached && cached.version === version) return cached.value;
    const channel = this.buildPsa(row);
    this.psaCache.set(integrationId, { version, value: channel });
    return channel;
  }

  /** The ConnectWise client of an integration row, reused while the row is unchanged. */
  connectWiseClient(row: IntegrationRow): ConnectWiseClient {
    const version = row.updated_at.toISOString();
    const cached = this.cwClients.get(row.id);
    if (cached && cached.version === version) return cached.value;
    const client = this.buildConnectWiseClient(row);
    this.cwClients.set(row.id, { version, value: client });
    return client;
  }

  private buildConnectWiseClient(row: IntegrationRow): ConnectWiseClient {
    const config = row.config as Record<string, string>;
    const secrets = this.secretsOf(row);
    return new ConnectWiseClient({
      siteUrl: requireValue(configuredUrl(row, 'siteUrl'), 'siteUrl'),
      codebase: config['codebase'] ?? 'v4_6_release/',
      companyId: requireValue(config['companyId'], 'companyId'),
      publicKey: requireValue(config['publicKey'], 'publicKey'),
      privateKey: requireValue(secrets['privateKey'], 'privateKey'),
      clientId: requireValue(secrets['clientId'], 'clientId'),
    });
  }

  private buildPsa(row: IntegrationRow): PsaChannel {
    if (row.kind === 'connectwise') return new ConnectWiseChannel(this.connectWiseClient(row));
    throw new DeskhandError('config', `integration ${row.name} (${row.kind}) is not a PSA deskhand can write to`);
  }

  /**
   * The client's Microsoft 365 integration, or null when none is configured. `freshPolicies` reads
   * the tool policies now rather than from the short cache (execution: a tool disabled a second ago
   * must not run).
   */
  async identityForClient(clientId: string, options: { freshPolicies?: boolean } = {}): Promise<IdentityRuntime | null> {
    const row = await this.remember(this.rows, `m365-of:${clientId}`, () =>
      this.db
        .selectFrom('integrations')
        .selectAll()
        .where('client_id', '=', clientId)
        .where('kind', '=', 'm365')
        .where('enabled', '=', true)
        .executeTakeFirst(),
    );
    if (!row) return null;
    const { graph } = this.graphFor(row);
    const policies = options.freshPolicies ? await this.policiesOf(row.id) : await this.remember(this.policies, row.id, () => this.policiesOf(row.id));
    return identityRuntime(row.id, graph, policies);
  }

  private graphFor(row: IntegrationRow): { graph: GraphClient } {
    const version = row.updated_at.toISOString();
    const cached = this.identityCache.get(row.id);
    if (cached && cached.version === version) return cached.value;
    const config = row.config as Record<string, string>;
    const secrets = this.secretsOf(row);
    const graphBaseUrl = configuredUrl(row, 'graphBaseUrl');
    const loginBaseUrl = configuredUrl(row, 'loginBaseUrl');
    const graph = new GraphClient({
      tenantId: requireValue(config['tenantId'], 'tenantId'),
      clientId: requireValue(config['clientId'], 'clientId'),
      clientSecret: requireValue(secrets['clientSecret'], 'clientSecret'),
      ...(graphBaseUrl ? { graphBaseUrl } : {}),
      ...(loginBaseUrl ? { loginBaseUrl } : {}),
    });
    const value = { graph };
    this.identityCache.set(row.id, { version, value });
    return value;
  }

  /** Forget what was read about an integration (its configuration or policies just changed here). */
  invalidate(integrationId?: string): void {
    if (!integrationId) {
      this.rows.clear();
      this.missing.clear();
      this.policies.clear();
      return;
    }
    this.policies.delete(integrationId);
    this.rows.delete(integrationId);
    this.missing.delete(integrationId);
    for (const key of [...this.rows.keys()]) if (key.startsWith('m365-of:')) this.rows.delete(key);
  }

  async policiesOf(integrationId: string): Promise<PolicyOverrides> {
    const rows = await this.db.selectFrom('tool_policies').selectAll().where('integration_id', '=', integrationId).execute();
    return new Map<string, ToolPolicy>(
      rows.map((row) => [row.tool, { policy: row.policy, requireManagerApproval: row.require_manager_approval }]),
    );
  }
}

/** The identity provider as the engine uses it, over one Graph client. */
export function identityRuntime(integrationId: string, graph: GraphClient, policies: PolicyOverrides): IdentityRuntime {
  const runner = new M365ToolRunner(graph);
  return {
    integrationId,
    policies,
    reader: (runbooks, onCall, options) => {
      const reader = new M365DiagnosisReader(graph, runbooks, onCall, options);
      return { reader, resolving: reader.forResolving() };
    },
    run: (tool, args, resolved, prepared) => runner.run(tool, args, resolved, prepared),
    reconcile: (tool, args, resolved, intentAt) => runner.reconcile(tool, args, resolved, intentAt),
    sendMail: async (from, mail) => {
      await graph.sendMail(from, mail);
    },
    mailAlreadySent: async (from, subject, marker) => (await graph.findSentMail(from, markedSubject(subject, marker))).length > 0,
  };
}

/**
 * A base URL from an integration's settings, held to the outbound rule before a client is built
 * with it: https only; http:// to a loopback address only when the row carries the development
 * setting (`developmentLoopback: true`), which only the demo world's seeding writes for the
 * built-in emulators. The error names the integration and the field, never the value.
 */
function configuredUrl(row: IntegrationRow, field: string): string | undefined {
  const config = row.config as Record<string, unknown>;
  const value = config[field];
  if (value === undefined || value === null || value === '') return undefined;
  const problem =
    typeof value === 'string' ? baseUrlProblem(value, { developmentLoopback: config[DEVELOPMENT_LOOPBACK_SETTING] === true }) : 'must be an https:// URL (it is not text)';
  if (problem) throw new DeskhandError('config', `integration ${row.name} (${row.kind}): its ${field} ${problem}`, { details: { integrationId: row.id, field } });
  return value as string;
}

function requireValue(value: string | undefined, name: string): string {
  if (!value) throw new DeskhandError('config', `the integration is missing its ${name}`);
  return value;
}
