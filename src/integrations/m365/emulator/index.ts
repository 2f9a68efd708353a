import type { AddressInfo } from 'node:net';
import type { World } from '../../../world/fixture.ts';
import { type AppCredentials, emulatorAppCredentials, type MspAppCredentials } from './credentials.ts';
import type { GraphEffect } from './effects.ts';
import type { FaultInput, Latency } from './faults.ts';
import { buildGraphServer } from './server.ts';
import type { GrantsInput } from './principals.ts';
import { GraphEmulatorState, type RequestRecord, type SentMail, type TenantGrants } from './state.ts';
import type { TenantSnapshot } from './tenant.ts';
import { type ExchangeEmulatorControl, startExchangeListener } from '../exchange/emulator/index.ts';

/**
 * A Microsoft Graph v1.0 emulator: the token endpoint and the Graph endpoints GraphClient uses, one
 * tenant per fixture client, over real HTTP (Fastify). It behaves like Graph where the product
 * depends on it (app-only tokens bound to a tenant, `$select` defaults, `$top` + `@odata.nextLink`
 * paging, `$filter` and `$search` with `ConsistencyLevel: eventual`, 204s without bodies, Graph's
 * error bodies and messages, seat counting, Sent Items) and like Entra at sign-in (per-client apps
 * with a client secret; one multi-tenant app per MSP, consented in its clients' tenants, with a
 * client secret or a certificate's client assertion). It adds control endpoints under `/_emulator/`
 * for tests, the demo and the benchmarks: inspection, reset, faults (also after the effect),
 * latency, a request log, an effects log and the apps' credentials.
 *
 * Test, demo and benchmark code only: production code never imports an emulator.
 */

export type { AppCredentials, EmulatedCertificate, MspAppCredentials, MspAppSecretCredentials } from './credentials.ts';
export { emulatorAppCredentials, emulatorMspAppCredentials, fetchEmulatorMspApps } from './credentials.ts';
export type { GraphEffect, GraphEffectOp } from './effects.ts';
export { type FaultInput, faultSchema, type Latency } from './faults.ts';
export type { GrantsInput } from './principals.ts';
export type { RequestRecord, SentMail, TenantGrants } from './state.ts';
export type { TenantSnapshot } from './tenant.ts';
export type { ExchangeAccess, ExchangeCall, ExchangeEmulatorControl, ExchangeRole } from '../exchange/emulator/index.ts';

export interface GraphEmulatorOptions {
  world: World;
  /** Default 0: a free port. */
  port?: number;
  /** The Exchange Online emulator's port (default 0: a free port). */
  exchangePort?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Page size when a request has no `$top` (Graph: 100). */
  pageSize?: number;
  /** Lifetime of issued tokens (Graph: about an hour). */
  tokenLifetimeSeconds?: number;
  /** A delay drawn uniformly from [min, max] ms before every Graph and token call (default none). */
  latencyMs?: Latency;
  /**
   * Tenants whose apps' service principals start with other Graph permissions or Entra roles than
   * what the tools need (e.g. `{ contoso: { roles: [] } }`: no User Administrator); `reset()` keeps them.
   */
  grants?: Record<string, GrantsInput>;
  /**
   * Default true: the emulator's own marks on the demo world (principals.ts `HYBRID_MARKS`: users and
   * groups synced from an on-premises AD, default phone methods), which the fixture does not describe.
   * False leaves the world exactly as the fixture describes it (the evaluation). `reset()` keeps it.
   */
  hybridMarks?: boolean;
}

/** A complete GraphClient configuration (credentials, URLs) for one tenant. */
export type EmulatedClientConfig = { tenantId: string; clientId: string; graphBaseUrl: string; loginBaseUrl: string } & (
  | { clientSecret: string }
  | { certificate: { privateKeyPem: string; thumbprint: string } }
);

export interface GraphEmulator {
  /** Graph's base URL, including `/v1.0`: pass as `graphBaseUrl`. */
  readonly url: string;
  /** The login base URL (token endpoint at `{loginUrl}/{tenantId}/oauth2/v2.0/token`): pass as `loginBaseUrl`. */
  readonly loginUrl: string;
  readonly port: number;
  /** Exchange Online's emulator, a listener of its own over the same tenants (its base URL is `exchange.url`). */
  readonly exchange: ExchangeEmulatorControl;
  close(): Promise<void>;
  /** The app credentials the emulator accepts for a fixture client (same as `emulatorAppCredentials`). */
  credentials(clientId: string): AppCredentials;
  /** A complete GraphClient configuration for a fixture client, with its own app (the per-client override). */
  clientConfig(clientId: string): AppCredentials & { graphBaseUrl: string; loginBaseUrl: string };
  /**
   * The multi-tenant app of an MSP: id, client secret, the certificate registered on it with its
   * private key (made on first use, kept for the emulator's life), and the tenants that consented.
   */
  mspAppCredentials(mspId: string): Promise<MspAppCredentials>;
  /** A GraphClient configuration for a client's tenant through its MSP's app, by client secret or certificate. */
  mspClientConfig(mspId: string, clientId: string, credential: 'secret' | 'certificate'): Promise<EmulatedClientConfig>;
  /** The client's admin consents to the MSP's app (true) or removes it from the tenant (false). `reset()` restores the fixture's. */
  setConsent(mspId: string, clientIdOrTenantId: string, consented: boolean): void;
  tenants(): { clientId: string; tenantId: string; name: string; domain: string }[];
  /** A tenant's state by fixture client id or tenant id. */
  tenant(clientIdOrTenantId: string): TenantSnapshot;
  mail(): SentMail[];
  requests(): RequestRecord[];
  clearRequests(): void;
  /** Back to the fixture: state, consents, mail, faults and the request log (issued tokens stay valid). */
  reset(): void;
  injectFault(fault: FaultInput): void;
  clearFaults(): void;
  /** Invalidates every issued token, as a revoked or rotated credential would. */
  revokeTokens(): void;
  /** Every change applied to a tenant, in order (all tenants, or one by client id or tenant id). */
  effects(clientIdOrTenantId?: string): GraphEffect[];
  /** Latency before every Graph and token call from now on; null for none. `reset()` restores the start option. */
  setLatency(latency: Latency | null): void;
  /** The apps' service principals in a tenant: Graph application permissions and Entra roles. */
  grants(clientIdOrTenantId: string): TenantGrants[];
  /**
   * Replaces the permissions and/or roles of an app's service principal in a tenant (every app there
   * without `app`), e.g. a tenant without User Administrator. `reset()` gives back what the tools need.
   */
  setGrants(clientIdOrTenantId: string, grants: GrantsInput): void;
}

export async function startGraphEmulator(options: GraphEmulatorOptions): Promise<GraphEmulator> {
  const state = new GraphEmulatorState(options);
  const app = buildGraphServer(state);
  const host = options.host ?? '127.0.0.1';
  await app.listen({ port: options.port ?? 0, host });
  const { port } = app.server.address() as AddressInfo;
  const exchange = await startExchangeListener(state, { host, port: options.exchangePort ?? 0 });
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const url = `${origin}/v1.0`;
  const requireTenant = (key: string) => {
    const tenant = state.tenantByKey(key);
    if (!tenant) throw new Error(`the Graph emulator has no tenant ${key}`);
    return tenant;
  };
  const tenantName = (tenantId: string): string => state.tenantById(tenantId)?.clientId ?? tenantId;
  return {
    url,
    loginUrl: origin,
    port,
    exchange: exchange.control,
    close: async () => {
      await Promise.all([app.close(), exchange.close()]);
    },
    credentials: emulatorAppCredentials,
    clientConfig: (clientId) => ({ ...emulatorAppCredentials(clientId), graphBaseUrl: url, loginBaseUrl: origin }),
    mspAppCredentials: (mspId) => state.apps.mspAppCredentials(mspId, tenantName),
    mspClientConfig: async (mspId, clientId, credential) => {
      const app = await state.apps.mspAppCredentials(mspId, tenantName);
      const base = { tenantId: requireTenant(clientId).tenantId, clientId: app.clientId, graphBaseUrl: url, loginBaseUrl: origin };
      return credential === 'secret'
        ? { ...base, clientSecret: app.clientSecret }
        : { ...base, certificate: { privateKeyPem: app.certificate.privateKeyPem, thumbprint: app.certificate.thumbprint } };
    },
    setConsent: (mspId, key, consented) => state.apps.setConsent(mspId, requireTenant(key).tenantId, consented),
    tenants: () => state.tenantList(),
    tenant: (key) => requireTenant(key).snapshot(),
    mail: () => state.mail(),
    requests: () => state.requests(),
    clearRequests: () => state.clearRequests(),
    reset: () => state.reset(),
    injectFault: (fault) => {
      state.injectFault(fault);
    },
    clearFaults: () => state.clearFaults(),
    revokeTokens: () => state.revokeTokens(),
    effects: (key) => state.effects(key),
    setLatency: (latency) => state.setLatency(latency),
    grants: (key) => state.grantsOf(requireTenant(key).tenantId),
    setGrants: (key, grants) => state.setGrants(requireTenant(key).tenantId, grants),
  };
}
