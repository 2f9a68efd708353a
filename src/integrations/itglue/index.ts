import { z } from 'zod';
import { requiredSetting, settingUrl } from '../http.ts';
import type { ConnectionInput, IntegrationModule } from '../module.ts';
import { type ItGlueRegion, ItGlueClient, REGION_URLS } from './client.ts';
import { doctorItGlue } from './doctor.ts';
import { ItGlueKnowledge } from './knowledge.ts';
import { itGlueTools } from './tools.ts';

/**
 * IT Glue: the runbooks diagnosis reads. Connected once per MSP with an API key and its account's
 * region; each client is linked to its IT Glue organization (an unlinked client's documentation is
 * never read), and the MSP's own organization holds the MSP-wide runbooks, read for every client.
 */
const settings = z.object({
  region: z.enum(['us', 'eu', 'au']).describe('Where the IT Glue account lives: us (api.itglue.com), eu or au'),
  apiBaseUrl: z.string().optional().describe('Only to reach IT Glue through another address (https); the region sets it otherwise'),
  mspOrganizationId: z
    .string()
    .regex(/^\d{1,20}$/, 'an IT Glue organization id (a number)')
    .optional()
    .describe("The MSP's own IT Glue organization: its documents are the MSP-wide runbooks, read for every client"),
});

const secrets = z.object({
  apiKey: z.string().min(1).describe('IT Glue API key (Account › Settings › API Keys), without password access'),
});

export const itglue: IntegrationModule = {
  kind: 'itglue',
  label: 'IT Glue',
  scope: 'msp',
  provides: ['knowledge'],
  settings,
  secrets,
  clientLink: { label: 'IT Glue organization id', schema: z.string().regex(/^\d{1,20}$/, 'an IT Glue organization id (a number)') },
  tools: itGlueTools,
  connect(input) {
    return {
      knowledge: new ItGlueKnowledge(itGlueClientFor(input), { name: input.name, mspOrganizationId: mspOrganizationOf(input.settings), clientLink: input.clientLink ?? null }),
    };
  },
  doctor: (integration, host) => doctorItGlue(integration, host, itGlueClientFor({ integrationId: integration.id, ...integration }), mspOrganizationOf(integration.settings)),
};

export function itGlueClientFor(input: Pick<ConnectionInput, 'integrationId' | 'name' | 'kind' | 'settings' | 'secrets'>): ItGlueClient {
  const integration = { id: input.integrationId, name: input.name, kind: input.kind };
  const region = input.settings['region'];
  const regional = typeof region === 'string' && region in REGION_URLS ? REGION_URLS[region as ItGlueRegion] : undefined;
  return new ItGlueClient({
    baseUrl: requiredSetting(integration, settingUrl(integration, input.settings, 'apiBaseUrl') ?? regional, 'region'),
    apiKey: requiredSetting(integration, input.secrets['apiKey'], 'apiKey'),
    name: input.name,
  });
}

function mspOrganizationOf(settings: Record<string, unknown>): string | null {
  const value = settings['mspOrganizationId'];
  return typeof value === 'string' && /^\d{1,20}$/.test(value) ? value : null;
}
