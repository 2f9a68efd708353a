import { z } from 'zod';
import { DEVELOPMENT_LOOPBACK_SETTING, requiredSetting, settingUrl } from '../http.ts';
import type { Connection, IntegrationModule } from '../module.ts';
import { AutotaskChannel } from './channel.ts';
import { AutotaskClient, DEFAULT_ZONE_LOOKUP_URL } from './client.ts';
import { doctorAutotask } from './doctor.ts';
import { autotaskWebhooks, connectAutotask, pollAutotask } from './intake.ts';

/**
 * Autotask PSA: tickets are where requests come in (outbound webhooks for Ticket and TicketNote,
 * and a poll for missed ones), where the internal note and the approval notice go ("Internal Only"
 * ticket notes) and where the employee's reply goes (an "All Autotask Users" note). Connected once
 * per MSP with an API-only user; each client is linked by its Autotask company id.
 */
const settings = z.object({
  username: z.string().min(1).describe("User name of deskhand's API-only user (an email address)"),
  integrationCode: z.string().min(1).describe('API tracking identifier (Admin › Resources › the API user › Security)'),
  zoneLookupUrl: z.string().default(DEFAULT_ZONE_LOOKUP_URL).describe('Where the zone is looked up (leave the default)'),
});

const secrets = z.object({
  secret: z.string().min(1).describe("Secret (password) of deskhand's API-only user"),
  webhookSecret: z.string().min(16).max(64).describe("Secret key of deskhand's Autotask webhooks (generated)"),
});

export const autotask: IntegrationModule = {
  kind: 'autotask',
  label: 'Autotask PSA',
  scope: 'msp',
  provides: ['ticket', 'approvalNotice'],
  settings,
  secrets,
  clientLink: { label: 'Autotask company id', schema: z.string().regex(/^\d+$/, 'an Autotask company id is a number') },
  tools: [],
  connect(input): Connection {
    const integration = { id: input.integrationId, name: input.name, kind: input.kind };
    const client = new AutotaskClient({
      username: requiredSetting(integration, input.settings['username'], 'username'),
      integrationCode: requiredSetting(integration, input.settings['integrationCode'], 'integrationCode'),
      secret: requiredSetting(integration, input.secrets['secret'], 'secret'),
      zoneLookupUrl: settingUrl(integration, input.settings, 'zoneLookupUrl') ?? DEFAULT_ZONE_LOOKUP_URL,
      // The zone's URL may be loopback only for the built-in emulator (the demo world's setting).
      developmentLoopback: input.settings['emulated'] === true && input.settings[DEVELOPMENT_LOOPBACK_SETTING] === true,
    });
    const channel = new AutotaskChannel(client);
    const connection: Connection & { client: AutotaskClient; channel: AutotaskChannel } = {
      client,
      channel,
      ticket: channel,
      approvalNotice: {
        // The notice's text carries its marker already: an internal note (technicians only).
        notify: (ref, text) => channel.postNote(ref, { text, visibility: 'internal', marker: '' }),
        findNoticeWithMarker: (ref, marker) => channel.findNote(ref, { text: '', visibility: 'internal', marker }),
      },
    };
    return connection;
  },
  webhooks: autotaskWebhooks,
  webhookRoutes: [
    {
      method: 'POST',
      path: '/:integrationId',
      who: 'Autotask: a body signed with the webhook secret key (X-Hook-Signature); a session or token adds nothing',
      params: { integrationId: 'integration' },
      // A signed event that starts nothing (a note, an update): accepted, nothing created.
      answer: 202,
    },
  ],
  poll: pollAutotask,
  onConnect: connectAutotask,
  doctor: doctorAutotask,
};
