import { randomToken } from '../../secrets.ts';
import { EMULATED_SETTINGS, type EmulatedSystem } from '../module.ts';
import { emulatorApiCredentials, emulatorCompanyId, PORTAL_QUEUE } from './emulator/data.ts';

/** The status the demo world's portal queue takes in each phase of a request (the emulator's statuses). */
export const DEMO_TICKET_STATUSES = { board: PORTAL_QUEUE.label, waiting: 'Waiting Approval', in_progress: 'In Progress', resolved: 'Complete' } as const;

const zoneLookup = (endpoints: Record<string, string>) => `${endpoints['autotask']}/atservicesrest/`;

/**
 * The demo world's Autotask: one integration per MSP whose PSA is Autotask, signed in as the
 * emulator's API-only user, each of the MSP's clients linked by its Autotask company id. Only the
 * emulator list imports this file; production code never does.
 */
export const autotaskEmulated: EmulatedSystem = {
  kind: 'autotask',
  label: 'Autotask emulator',
  url: (endpoints) => endpoints['autotask'] ?? '',
  demoIntegrations(world, endpoints) {
    if (!endpoints['autotask']) return [];
    return world.msps
      .filter((msp) => msp.psa === 'autotask')
      .map((msp) => {
        const credentials = emulatorApiCredentials(msp.id);
        return {
          msp: msp.id,
          kind: 'autotask',
          name: `Autotask (${msp.name})`,
          settings: { username: credentials.username, integrationCode: credentials.integrationCode, zoneLookupUrl: zoneLookup(endpoints), ...EMULATED_SETTINGS },
          secrets: { secret: credentials.secret, webhookSecret: randomToken(24) },
          links: world.clients.filter((c) => c.msp === msp.id).map((c) => ({ client: c.id, externalId: String(emulatorCompanyId(world, c.id)) })),
          ticketStatuses: [DEMO_TICKET_STATUSES],
        };
      });
  },
  pointAt: (settings, endpoints) => (endpoints['autotask'] ? { ...settings, zoneLookupUrl: zoneLookup(endpoints), ...EMULATED_SETTINGS } : settings),
  async openTicket(endpoints, input) {
    // The client portal, not deskhand's API user: the ticket is the employee's, and starts a request.
    const response = await fetch(`${endpoints['autotask']}/_emulator/tickets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client: input.client,
        requester: input.requester,
        title: input.summary ?? (input.text.length > 100 ? `${input.text.slice(0, 97)}...` : input.text),
        description: input.text,
      }),
    });
    const body = (await response.json()) as { id?: number; error?: string };
    if (!response.ok || typeof body.id !== 'number') throw new Error(`the Autotask emulator did not open the ticket: ${body.error ?? response.status}`);
    return body.id;
  },
};
