import { z } from 'zod';
import { requiredSetting, settingUrl } from '../http.ts';
import type { ConnectionInput, IntegrationModule } from '../module.ts';
import { HuduClient } from './client.ts';
import { doctorHudu } from './doctor.ts';
import { HuduKnowledge } from './knowledge.ts';
import { huduTools } from './tools.ts';

/**
 * Hudu: the runbooks diagnosis reads. Connected once per MSP with an API key; each client is linked
 * to its Hudu company (an unlinked client's documentation is never read), and the MSP's own company
 * holds the MSP-wide runbooks, read for every client.
 */
const settings = z.object({
  baseUrl: z.string().min(1).describe('Your Hudu instance, e.g. https://northwind.huducloud.com'),
  mspCompanyId: z
    .string()
    .regex(/^\d{1,15}$/, 'a Hudu company id (a number)')
    .optional()
    .describe("The MSP's own Hudu company: its articles are the MSP-wide runbooks, read for every client"),
});

const secrets = z.object({
  apiKey: z.string().min(1).describe('Hudu API key (Admin › API), without password access'),
});

export const hudu: IntegrationModule = {
  kind: 'hudu',
  label: 'Hudu',
  scope: 'msp',
  provides: ['knowledge'],
  settings,
  secrets,
  clientLink: { label: 'Hudu company id', schema: z.string().regex(/^\d{1,15}$/, 'a Hudu company id (a number)') },
  tools: huduTools,
  connect(input) {
    const client = huduClientFor(input);
    return { knowledge: new HuduKnowledge(client, { name: input.name, mspCompanyId: mspCompanyOf(input.settings), clientLink: input.clientLink ?? null }) };
  },
  doctor: (integration, host) => doctorHudu(integration, host, huduClientFor({ integrationId: integration.id, ...integration }), mspCompanyOf(integration.settings)),
};

export function huduClientFor(input: Pick<ConnectionInput, 'integrationId' | 'name' | 'kind' | 'settings' | 'secrets'>): HuduClient {
  const integration = { id: input.integrationId, name: input.name, kind: input.kind };
  return new HuduClient({
    baseUrl: requiredSetting(integration, settingUrl(integration, input.settings, 'baseUrl'), 'baseUrl'),
    apiKey: requiredSetting(integration, input.secrets['apiKey'], 'apiKey'),
    name: input.name,
  });
}

function mspCompanyOf(settings: Record<string, unknown>): number | null {
  const value = settings['mspCompanyId'];
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : null;
}
