import { randomBytes } from 'node:crypto';
import type { World } from '../../../world/fixture.ts';
import { AppDirectory } from './apps.ts';
import { type EffectInput, EffectsLog, type GraphEffect } from './effects.ts';
import { type Fault, FaultBook, type FaultInput, type Latency, latencySchema } from './faults.ts';
import { type GrantsInput, PrincipalBook, servicePrincipalId } from './principals.ts';
import { EmulatedTenant } from './tenant.ts';
import { ExchangeDirectory } from '../exchange/emulator/directory.ts';

/**
 * Everything the Graph emulator remembers between calls: the tenants (from the fixture), the app
 * registrations and their consents, issued tokens, sent mail, faults, latency, the request log and
 * the effects log. The HTTP layer (graph-routes.ts, login-routes.ts, control-routes.ts) reads and
 * changes it; `reset()` goes back to the fixture.
 */

export interface GraphEmulatorStateOptions {
  world: World;
  pageSize?: number;
  tokenLifetimeSeconds?: number;
  latencyMs?: Latency;
  /** Service principals that start (and reset) with other permissions or roles, by fixture client id or tenant id. */
  grants?: Record<string, GrantsInput>;
  /** Default true: the emulator's hybrid marks (synced objects, default phone methods) on the fixture. */
  hybridMarks?: boolean;
}

export interface SentMail {
  id: string;
  tenantId: string;
  clientId: string;
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  contentType: string;
  content: string;
  saveToSentItems: boolean;
  sentAt: string;
}

export interface RequestRecord {
  at: string;
  method: string;
  path: string;
  /** The query string as sent (never a body: bodies may carry passwords). */
  query: string;
  status: number;
  tenantId: string | null;
}

export interface TenantGrants {
  appId: string;
  servicePrincipalId: string;
  permissions: string[];
  roles: string[];
}
/** Which API a token was issued for (its audience): a token for one is refused by the other. */
export type TokenResource = 'graph' | 'exchange';

interface IssuedToken {
  tenantId: string;
  appId: string;
  expiresAt: number;
  resource: TokenResource;
}

const DEFAULT_PAGE_SIZE = 100;
const REQUEST_LOG_LIMIT = 5000;

export class GraphEmulatorState {
  readonly world: World;
  readonly pageSize: number;
  readonly tokenLifetimeSeconds: number;
  readonly apps: AppDirectory;
  readonly faults = new FaultBook();
  /** The app permissions and directory roles of each app's service principal, per tenant. */
  readonly principals = new PrincipalBook();
  /** Exchange Online's view of the same tenants: the app's Exchange access, its call log, redirects. */
  readonly exchange = new ExchangeDirectory();
  private tenantsById = new Map<string, EmulatedTenant>();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly effectsLog = new EffectsLog();
  latency: Latency | null = null;
  private sentMail: SentMail[] = [];
  private log: RequestRecord[] = [];

  constructor(private readonly options: GraphEmulatorStateOptions) {
    this.world = options.world;
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3599;
    this.apps = new AppDirectory(options.world);
    this.reset();
  }

  /** Back to the fixture: tenants, consents, mail, faults, logs, latency. Tokens and certificates stay. */
  reset(): void {
    const startedAt = new Date();
    this.tenantsById = new Map(
      this.world.clients.map((client) => {
        const tenant = EmulatedTenant.fromFixture(client, startedAt, { hybridMarks: this.options.hybridMarks ?? true });
        return [tenant.tenantId, tenant];
      }),
    );
    this.apps.resetConsents();
    this.principals.reset();
    for (const [key, grants] of Object.entries(this.options.grants ?? {})) {
      const tenant = this.tenantByKey(key);
      if (!tenant) throw new Error(`the Graph emulator has no tenant ${key} to give grants to`);
      this.setGrants(tenant.tenantId, grants);
    }
    this.exchange.reset();
    this.faults.clear();
    this.effectsLog.clear();
    this.latency = this.options.latencyMs ? latencySchema.parse(this.options.latencyMs) : null;
    this.sentMail = [];
    this.log = [];
  }

  // ----- tenants -------------------------------------------------------------------------------

  /** By tenant id, fixture client id or domain. */
  tenantByKey(key: string): EmulatedTenant | undefined {
    const lower = key.toLowerCase();
    const byId = this.tenantsById.get(lower);
    if (byId) return byId;
    for (const tenant of this.tenantsById.values()) if (tenant.clientId === key || tenant.domain === lower) return tenant;
    return undefined;
  }

  tenantById(tenantId: string): EmulatedTenant | undefined {
    return this.tenantsById.get(tenantId);
  }

  tenantList(): { clientId: string; tenantId: string; name: string; domain: string }[] {
    return [...this.tenantsById.values()].map((t) => ({ clientId: t.clientId, tenantId: t.tenantId, name: t.client.name, domain: t.domain }));
  }

  // ----- service principals: permissions and roles ---------------------------------------------

  /** Each app with a service principal in the tenant: its Graph application permissions and Entra roles. */
  grantsOf(tenantId: string): TenantGrants[] {
    return this.apps.appsIn(tenantId).map((app) => {
      const grants = this.principals.grants(tenantId, app.appId);
      return { appId: app.appId, servicePrincipalId: servicePrincipalId(tenantId, app.appId), permissions: [...grants.permissions].sort(), roles: [...grants.roles].sort() };
    });
  }

  /** Replaces the permissions and/or roles of one app (or every app) in the tenant. */
  setGrants(tenantId: string, input: GrantsInput): void {
    const apps = this.apps.appsIn(tenantId).filter((app) => input.app === undefined || app.appId === input.app.toLowerCase());
    if (apps.length === 0) throw new Error(`no app ${input.app ?? ''} has a service principal in the tenant ${tenantId}`);
    const { app: _app, ...change } = input;
    for (const app of apps) this.principals.set(tenantId, app.appId, change);
  }

  // ----- tokens --------------------------------------------------------------------------------

  issueToken(tenantId: string, appId: string, resource: TokenResource = 'graph'): string {
    const accessToken = `emu.${randomBytes(32).toString('base64url')}`;
    this.tokens.set(accessToken, { tenantId, appId, expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000, resource });
    return accessToken;
  }

  /** The token's record; an expired token is forgotten and reported as `expired`. */
  token(accessToken: string): IssuedToken | 'expired' | undefined {
    const issued = this.tokens.get(accessToken);
    if (!issued) return undefined;
    if (Date.now() >= issued.expiresAt) {
      this.tokens.delete(accessToken);
      return 'expired';
    }
    return issued;
  }

  revokeTokens(): void {
    this.tokens.clear();
  }

  // ----- faults and latency --------------------------------------------------------------------

  injectFault(input: FaultInput): Fault {
    return this.faults.add(input);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  setLatency(latency: Latency | null): void {
    this.latency = latency ? latencySchema.parse(latency) : null;
  }

  // ----- mail, requests, effects ---------------------------------------------------------------

  addMail(mail: SentMail): void {
    this.sentMail.push(mail);
  }

  mail(): SentMail[] {
    return this.sentMail.map((m) => ({ ...m, to: [...m.to], cc: [...m.cc] }));
  }

  /** Sent mail of one tenant, without copying (for Sent Items). */
  mailOf(tenantId: string): readonly SentMail[] {
    return this.sentMail.filter((m) => m.tenantId === tenantId);
  }

  logRequest(record: RequestRecord): void {
    this.log.push(record);
    if (this.log.length > REQUEST_LOG_LIMIT) this.log.splice(0, this.log.length - REQUEST_LOG_LIMIT);
  }

  requests(): RequestRecord[] {
    return [...this.log];
  }

  clearRequests(): void {
    this.log = [];
  }

  recordEffect(effect: EffectInput): void {
    this.effectsLog.append(effect);
  }

  effects(tenantKey?: string): GraphEffect[] {
    if (tenantKey === undefined) return this.effectsLog.list();
    const tenant = this.tenantByKey(tenantKey);
    return tenant ? this.effectsLog.list(tenant.tenantId) : [];
  }
}
