import { z } from 'zod';
import { requiredSetting, settingUrl } from '../http.ts';
import type { Connection, IntegrationModule } from '../module.ts';
import { HaloChannel } from './channel.ts';
import { DEFAULT_SCOPE, HaloClient } from './client.ts';
import { doctorHalo } from './doctor.ts';
import { connectHalo, haloWebhooks, pollHalo } from './intake.ts';

/**
 * HaloPSA: tickets are where requests come in (webhooks for new tickets, and a poll for missed
 * ones), where the internal note and the approval notice go (private actions, hidden from the end
 * user) and where the employee's reply goes (a visible action that emails the user). Connected once
 * per MSP; each client is linked by its Halo client id.
 */
const settings = z.object({
  baseUrl: z.string().min(1).describe('Halo instance URL, e.g. https://acme.halopsa.com (the API is under /api)'),
  authUrl: z.string().optional().describe('Authorisation server URL (default: <instance>/auth; see GET /api/authinfo)'),
  tenant: z.string().default('').describe('Tenant name, for hosted Halo (Configuration › Integrations › Halo API › API Details); empty when self-hosted'),
  clientId: z.string().min(1).describe("Client ID of deskhand's API application (Client ID and Secret (Services))"),
  scope: z.string().default(DEFAULT_SCOPE).describe('Scopes asked for, space-separated (add admin to register the webhook through the API)'),
  apiAgentName: z.string().default('').describe('Name of the agent the application logs in as (the author of its actions)'),
  privateNoteOutcome: z.string().default('Private Note').describe('Action type (outcome) of internal notes'),
  replyOutcome: z.string().default('Email User').describe('Action type (outcome) of replies to the end user'),
});

const secrets = z.object({
  clientSecret: z.string().min(1).describe("Client secret of deskhand's API application"),
  webhookSecret: z.string().min(16).describe("Password of the webhook's Basic authentication (generated)"),
});

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

export const halopsa: IntegrationModule = {
  kind: 'halopsa',
  label: 'HaloPSA',
  scope: 'msp',
  provides: ['ticket', 'approvalNotice'],
  settings,
  secrets,
  clientLink: { label: 'HaloPSA client id', schema: z.string().regex(/^\d{1,12}$/, 'a HaloPSA client id (digits)') },
  tools: [],
  connect(input): Connection {
    const integration = { id: input.integrationId, name: input.name, kind: input.kind };
    const authUrl = settingUrl(integration, input.settings, 'authUrl');
    const client = new HaloClient({
      baseUrl: requiredSetting(integration, settingUrl(integration, input.settings, 'baseUrl'), 'baseUrl'),
      ...(authUrl ? { authUrl } : {}),
      tenant: text(input.settings['tenant']),
      clientId: requiredSetting(integration, input.settings['clientId'], 'clientId'),
      clientSecret: requiredSetting(integration, input.secrets['clientSecret'], 'clientSecret'),
      scope: text(input.settings['scope']) || DEFAULT_SCOPE,
    });
    const channel = new HaloChannel(client, {
      apiAgentName: text(input.settings['apiAgentName']),
      privateNoteOutcome: text(input.settings['privateNoteOutcome']),
      replyOutcome: text(input.settings['replyOutcome']),
    });
    const connection: Connection & { client: HaloClient; channel: HaloChannel } = {
      client,
      channel,
      ticket: channel,
      approvalNotice: {
        // The notice's text carries its marker already (a private action: technicians only).
        notify: (ref, noticeText) => channel.postNote(ref, { text: noticeText, visibility: 'internal', marker: '' }),
        findNoticeWithMarker: (ref, marker) => channel.findNote(ref, { text: '', visibility: 'internal', marker }),
      },
    };
    return connection;
  },
  webhooks: haloWebhooks,
  webhookRoutes: [
    {
      method: 'POST',
      path: '/:integrationId',
      who: "HaloPSA: Basic authentication with the integration's webhook secret; a session or token adds nothing",
      params: { integrationId: 'integration' },
      answer: 202,
    },
  ],
  poll: pollHalo,
  onConnect: connectHalo,
  doctor: doctorHalo,
};
