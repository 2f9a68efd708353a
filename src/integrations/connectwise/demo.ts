import { randomToken } from '../../secrets.ts';
import { EMULATED_SETTINGS, type EmulatedSystem } from '../module.ts';
import { ConnectWiseClient } from './client.ts';
import { emulatorApiCredentials, emulatorPortalCredentials, HELP_DESK_BOARD } from './emulator/data.ts';
import { loopbackAlias } from './hosts.ts';
import { EMULATOR_SITE_ALIASES_SETTING } from './index.ts';

/** The emulator serves key URLs and Link headers under its second host name: the integration trusts it. */
function aliasesOf(siteUrl: string | undefined): Record<string, unknown> {
  const alias = siteUrl ? loopbackAlias(siteUrl) : null;
  return { [EMULATOR_SITE_ALIASES_SETTING]: alias ? [alias] : [] };
}

/** The status the demo world's Help Desk board takes in each phase of a request. */
export const DEMO_TICKET_STATUSES = { board: HELP_DESK_BOARD, waiting: 'Waiting on Approval', in_progress: 'In Progress', resolved: 'Resolved' } as const;

/**
 * The demo world's ConnectWise: one integration per MSP whose PSA is ConnectWise, signed in as the
 * emulator's API member, each of the MSP's clients linked by its company identifier (the world's
 * client id). Only the emulator list imports this file; production code never does.
 */
export const connectWiseEmulated: EmulatedSystem = {
  kind: 'connectwise',
  label: 'ConnectWise emulator',
  url: (endpoints) => endpoints['connectwise']!,
  demoIntegrations(world, endpoints) {
    return world.msps
      .filter((msp) => msp.psa === 'connectwise')
      .map((msp) => {
        const credentials = emulatorApiCredentials(msp.id);
        return {
          msp: msp.id,
          kind: 'connectwise',
          name: `ConnectWise Manage (${msp.name})`,
          settings: {
            siteUrl: endpoints['connectwise'],
            codebase: 'v4_6_release/',
            companyId: credentials.companyId,
            publicKey: credentials.publicKey,
            apiMemberIdentifier: credentials.memberIdentifier,
            ...aliasesOf(endpoints['connectwise']),
            ...EMULATED_SETTINGS,
          },
          secrets: { privateKey: credentials.privateKey, clientId: credentials.clientId, webhookSecret: randomToken(24) },
          links: world.clients.filter((c) => c.msp === msp.id).map((c) => ({ client: c.id, externalId: c.id })),
          // The Help Desk's tickets move with their requests; the emulator's other board (Projects) is left unmapped.
          ticketStatuses: [DEMO_TICKET_STATUSES],
        };
      });
  },
  pointAt: (settings, endpoints) => ({ ...settings, siteUrl: endpoints['connectwise'], ...aliasesOf(endpoints['connectwise']), ...EMULATED_SETTINGS }),
  async openTicket(endpoints, input) {
    // The portal member, not deskhand's API member: the ticket is the employee's, and starts a request.
    const { companyId, publicKey, privateKey, clientId } = emulatorPortalCredentials(input.msp);
    const cw = new ConnectWiseClient({ siteUrl: endpoints['connectwise']!, companyId, publicKey, privateKey, clientId });
    const ticket = await cw.createTicket({
      summary: input.summary ?? (input.text.length > 100 ? `${input.text.slice(0, 97)}...` : input.text),
      company: { identifier: input.client },
      contactEmailAddress: input.requester,
      initialDescription: input.text,
    });
    return ticket.id;
  },
};
