import { EMULATED_SETTINGS, type EmulatedSystem } from '../module.ts';
import { emulatorHuduApiKey, HUDU_MSPS, huduCompanyId } from './emulator/index.ts';

/**
 * The demo world's Hudu: one integration per MSP that documents in Hudu, signed with the emulated
 * instance's API key, the MSP's own company as its MSP-wide knowledge base, and each of the MSP's
 * clients linked to its company. Only the emulator list imports this file.
 */
export const huduEmulated: EmulatedSystem = {
  kind: 'hudu',
  label: 'Hudu emulator',
  url: (endpoints) => endpoints['hudu']!,
  demoIntegrations(world, endpoints) {
    return world.msps
      .filter((msp) => HUDU_MSPS[msp.id] !== undefined)
      .map((msp) => ({
        msp: msp.id,
        kind: 'hudu',
        name: `Hudu (${msp.name})`,
        settings: { baseUrl: endpoints['hudu'], mspCompanyId: String(huduCompanyId(msp.id, msp.id)), ...EMULATED_SETTINGS },
        secrets: { apiKey: emulatorHuduApiKey(msp.id) },
        links: world.clients.filter((c) => c.msp === msp.id).map((c) => ({ client: c.id, externalId: String(huduCompanyId(msp.id, c.id)) })),
      }));
  },
  pointAt: (settings, endpoints) => ({ ...settings, baseUrl: endpoints['hudu'], ...EMULATED_SETTINGS }),
};
