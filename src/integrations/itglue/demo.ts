import { EMULATED_SETTINGS, type EmulatedSystem } from '../module.ts';
import { emulatorItGlueApiKey, ITGLUE_MSPS, itGlueOrganizationId } from './emulator/index.ts';

/**
 * The demo world's IT Glue: one integration per MSP that documents in IT Glue, signed with the
 * emulated account's API key (reached through `apiBaseUrl`: the emulator), the MSP's own
 * organization as its MSP-wide knowledge base, and each of the MSP's clients linked to its
 * organization. Only the emulator list imports this file.
 */
export const itGlueEmulated: EmulatedSystem = {
  kind: 'itglue',
  label: 'IT Glue emulator',
  url: (endpoints) => endpoints['itglue']!,
  demoIntegrations(world, endpoints) {
    return world.msps
      .filter((msp) => ITGLUE_MSPS[msp.id] !== undefined)
      .map((msp) => ({
        msp: msp.id,
        kind: 'itglue',
        name: `IT Glue (${msp.name})`,
        settings: { region: 'us', apiBaseUrl: endpoints['itglue'], mspOrganizationId: itGlueOrganizationId(msp.id, msp.id), ...EMULATED_SETTINGS },
        secrets: { apiKey: emulatorItGlueApiKey(msp.id) },
        links: world.clients.filter((c) => c.msp === msp.id).map((c) => ({ client: c.id, externalId: itGlueOrganizationId(msp.id, c.id) })),
      }));
  },
  pointAt: (settings, endpoints) => ({ ...settings, apiBaseUrl: endpoints['itglue'], ...EMULATED_SETTINGS }),
};
