import { randomBytes } from 'node:crypto';
import type { World } from '../../../world/fixture.ts';
import { AppDirectory } from './apps.ts';
import { type EffectInput, EffectsLog, type GraphEffect } from './effects.ts';
import { type Fault, FaultBook, type FaultInput, type Latency, latencySchema } from './faults.ts';
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
        const tenant = EmulatedTenant.fromFixture(client, startedAt);
        return [tenant.tenantId, tenant];
      }),
    );
    this.apps.resetConsents();
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
