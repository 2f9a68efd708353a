import { EMULATED_SETTINGS, type DemoIntegration, type EmulatedSystem } from '../module.ts';
import { emulatorAppCredentials, emulatorMspAppCredentials } from './emulator/credentials.ts';

/**
 * The demo world's Microsoft 365, connected both ways an MSP does: Tailspin through its one
 * multi-tenant app (a client secret stored once; each client linked by its tenant id, where the
 * emulator holds the admin's consent), the other MSPs' clients each through an app of their own
 * (per-client credentials, which win over an MSP's app). The world's tool policies become each
 * client's own policies. Only the emulator list imports this file; production code never does.
 */
const MULTI_TENANT_APP_MSPS = new Set(['tailspin']);

export const m365Emulated: EmulatedSystem = {
  kind: 'm365',
  label: 'Microsoft Graph emulator',
  url: (endpoints) => endpoints['graph']!,
  alsoServes: (endpoints) => (endpoints['exchange'] ? [{ name: 'Exchange Online emulator', url: endpoints['exchange'] }] : []),
  demoIntegrations(world, endpoints) {
    const urls = { graphBaseUrl: endpoints['graph'], loginBaseUrl: endpoints['login'], exchangeOnline: exchangeOnline(endpoints), ...EMULATED_SETTINGS };
    const policiesOf = (client: (typeof world.clients)[number], own: boolean) =>
      Object.entries(client.toolPolicies ?? {}).map(([tool, policy]) => ({
        ...(own ? {} : { client: client.id }),
        tool,
        policy: policy.policy,
        requireManagerApproval: policy.requireManagerApproval === true,
      }));
    const integrations: DemoIntegration[] = [];
    for (const msp of world.msps.filter((m) => MULTI_TENANT_APP_MSPS.has(m.id))) {
      const app = emulatorMspAppCredentials(msp.id);
      const clients = world.clients.filter((c) => c.msp === msp.id);
      integrations.push({
        msp: msp.id,
        kind: 'm365',
        name: `Microsoft 365 (${msp.name}'s multi-tenant app)`,
        settings: { clientId: app.clientId, ...urls },
        secrets: { clientSecret: app.clientSecret },
        links: clients.map((c) => ({ client: c.id, externalId: emulatorAppCredentials(c.id).tenantId })),
        policies: clients.flatMap((c) => policiesOf(c, false)),
      });
    }
    for (const client of world.clients.filter((c) => !MULTI_TENANT_APP_MSPS.has(c.msp))) {
      const app = emulatorAppCredentials(client.id);
      integrations.push({
        msp: client.msp,
        client: client.id,
        kind: 'm365',
        name: `Microsoft 365 (${client.name})`,
        settings: { tenantId: app.tenantId, clientId: app.clientId, ...urls },
        secrets: { clientSecret: app.clientSecret },
        policies: policiesOf(client, true),
      });
    }
    return integrations;
  },
  pointAt: (settings, endpoints) => ({
    ...settings,
    graphBaseUrl: endpoints['graph'],
    loginBaseUrl: endpoints['login'],
    // An integration saved without Exchange Online (before the emulator had it) gets it; one switched off stays off.
    exchangeOnline: pointExchange(settings['exchangeOnline'], endpoints),
    ...EMULATED_SETTINGS,
  }),
};

/**
 * Every demo tenant gives the app Exchange Online access (the emulator's default: Exchange.ManageAsApp
 * and Exchange Administrator), so shared-mailbox and list requests go through Exchange Online.
 */
function exchangeOnline(endpoints: Record<string, string>): { enabled: boolean; baseUrl?: string } {
  // Emulators started before the Exchange emulator existed have no such endpoint: never fall back to
  // Exchange Online's real host with an emulator's token.
  const baseUrl = endpoints['exchange'];
  return baseUrl ? { enabled: true, baseUrl } : { enabled: false };
}

function pointExchange(current: unknown, endpoints: Record<string, string>): { enabled: boolean; baseUrl?: string } {
  const pointed = exchangeOnline(endpoints);
  if (!pointed.baseUrl) return pointed;
  const enabled = (current as { enabled?: unknown } | undefined)?.enabled;
  return { ...pointed, enabled: typeof enabled === 'boolean' ? enabled : true };
}
