import { randomToken } from '../../secrets.ts';
import { EMULATED_SETTINGS, type EmulatedSystem } from '../module.ts';
import { API_AGENT_NAME, emulatorApiCredentials, haloClientId, SERVICE_REQUEST_TYPE } from './emulator/data.ts';

/** The status the demo world's Service Request tickets take in each phase of a request. */
export const DEMO_TICKET_STATUSES = { board: SERVICE_REQUEST_TYPE, waiting: 'Waiting on Approval', in_progress: 'In Progress', resolved: 'Closed' } as const;

/** The scopes the demo asks for: the three deskhand needs, and admin to register its webhook. */
export const DEMO_SCOPE = 'read:tickets edit:tickets read:customers admin';

/**
 * The demo world's HaloPSA: one integration per MSP whose PSA is HaloPSA, signed in with the
 * emulator's API application of that tenant, each of the MSP's clients linked by its Halo client id.
 * Only the emulator list imports this file; production code never does.
 */
export const haloEmulated: EmulatedSystem = {
  kind: 'halopsa',
  label: 'HaloPSA emulator',
  url: (endpoints) => endpoints['halopsa']!,
  demoIntegrations(world, endpoints) {
    return world.msps
      .filter((msp) => msp.psa === 'halopsa')
      .map((msp) => {
        const credentials = emulatorApiCredentials(msp.id);
        return {
          msp: msp.id,
          kind: 'halopsa',
          name: `HaloPSA (${msp.name})`,
          settings: {
            baseUrl: endpoints['halopsa'],
            tenant: credentials.tenant,
            clientId: credentials.clientId,
            scope: DEMO_SCOPE,
            apiAgentName: API_AGENT_NAME,
            ...EMULATED_SETTINGS,
          },
          secrets: { clientSecret: credentials.clientSecret, webhookSecret: randomToken(24) },
          links: world.clients.filter((c) => c.msp === msp.id).map((c) => ({ client: c.id, externalId: String(haloClientId(world, msp.id, c.id)) })),
          ticketStatuses: [DEMO_TICKET_STATUSES],
        };
      });
  },
  pointAt: (settings, endpoints) => ({ ...settings, baseUrl: endpoints['halopsa'], ...EMULATED_SETTINGS }),
  async openTicket(endpoints, input) {
    // The end-user portal: the ticket is the employee's, and Halo calls its webhooks.
    const response = await fetch(`${endpoints['halopsa']}/_emulator/portal/tickets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: input.msp, client: input.client, requester: input.requester, details: input.text, ...(input.summary ? { summary: input.summary } : {}) }),
    });
    const body = (await response.json()) as { id?: number; error?: string };
    if (response.status !== 201 || typeof body.id !== 'number') throw new Error(`the HaloPSA emulator did not open the ticket: HTTP ${response.status} ${body.error ?? ''}`);
    return body.id;
  },
};
