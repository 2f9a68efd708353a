import { z } from 'zod';
import { DEVELOPMENT_LOOPBACK_SETTING, requiredSetting, settingUrl } from '../http.ts';
import type { Connection, IntegrationModule } from '../module.ts';
import { ConnectWiseChannel } from './channel.ts';
import { ConnectWiseClient } from './client.ts';
import { doctorConnectWise } from './doctor.ts';
import { connectConnectWise, connectWiseWebhooks, pollConnectWise } from './intake.ts';

/**
 * ConnectWise PSA (Manage): tickets are where requests come in (callbacks, and a poll for missed
 * ones), where the internal note and the approval notice go (internal analysis notes) and where the
 * employee's reply goes (a discussion note). Connected once per MSP; each client is linked by its
 * ConnectWise company identifier.
 */
const settings = z.object({
  siteUrl: z.string().min(1).describe('Site URL, e.g. https://na.myconnectwise.net'),
  codebase: z.string().default('v4_6_release/').describe('API codebase (from /login/companyinfo)'),
  companyId: z.string().min(1).describe('Company id used to sign in'),
  publicKey: z.string().min(1).describe("Public key of deskhand's API member"),
  apiMemberIdentifier: z.string().default('').describe("Identifier of deskhand's API member (its own changes never start a request)"),
});

const secrets = z.object({
  privateKey: z.string().min(1).describe("Private key of deskhand's API member"),
  clientId: z.string().min(1).describe('ConnectWise developer client id'),
  webhookSecret: z.string().min(16).describe('Secret part of the callback URL (generated)'),
});

/**
 * The stored setting in which an emulated integration names the emulator's second host name (its
 * key URLs and Link headers use it, as a real site's may use its region's other host). Like
 * `developmentLoopback`, only the demo world's seeding writes it, it is not among the settings an
 * admin edits, and it is read only for an integration marked emulated with the development setting;
 * the client accepts only loopback URLs in it (hosts.ts).
 */
export const EMULATOR_SITE_ALIASES_SETTING = 'emulatorSiteAliases';

function emulatorSiteAliases(settings: Record<string, unknown>): string[] {
  const aliases = settings[EMULATOR_SITE_ALIASES_SETTING];
  if (settings['emulated'] !== true || settings[DEVELOPMENT_LOOPBACK_SETTING] !== true || !Array.isArray(aliases)) return [];
  return aliases.filter((alias): alias is string => typeof alias === 'string');
}

export const connectwise: IntegrationModule = {
  kind: 'connectwise',
  label: 'ConnectWise PSA',
  scope: 'msp',
  provides: ['ticket', 'approvalNotice'],
  settings,
  secrets,
  clientLink: { label: 'ConnectWise company identifier', schema: z.string().min(1).max(100) },
  internalSettings: [EMULATOR_SITE_ALIASES_SETTING],
  tools: [],
  connect(input): Connection {
    const integration = { id: input.integrationId, name: input.name, kind: input.kind };
    const client = new ConnectWiseClient({
      siteUrl: requiredSetting(integration, settingUrl(integration, input.settings, 'siteUrl'), 'siteUrl'),
      codebase: typeof input.settings['codebase'] === 'string' ? input.settings['codebase'] : 'v4_6_release/',
      companyId: requiredSetting(integration, input.settings['companyId'], 'companyId'),
      publicKey: requiredSetting(integration, input.settings['publicKey'], 'publicKey'),
      privateKey: requiredSetting(integration, input.secrets['privateKey'], 'privateKey'),
      clientId: requiredSetting(integration, input.secrets['clientId'], 'clientId'),
      siteAliases: emulatorSiteAliases(input.settings),
    });
    const channel = new ConnectWiseChannel(client, typeof input.settings['apiMemberIdentifier'] === 'string' ? input.settings['apiMemberIdentifier'] : '');
    const connection: Connection & { client: ConnectWiseClient; channel: ConnectWiseChannel } = {
      client,
      channel,
      ticket: channel,
      approvalNotice: {
        // The notice's text carries its marker already (technicians only).
        notify: (ref, text) => channel.postNote(ref, { text, visibility: 'internal', marker: '' }),
        findNoticeWithMarker: (ref, marker) => channel.findNote(ref, { text: '', visibility: 'internal', marker }),
      },
    };
    return connection;
  },
  webhooks: connectWiseWebhooks,
  webhookRoutes: [
    {
      method: 'POST',
      path: '/:integrationId/:secret',
      who: "ConnectWise: the URL's secret and a signed body; a session or token adds nothing",
      params: { integrationId: 'integration', secret: 'webhook-secret' },
      // A signed callback about a ticket that starts nothing (an update): accepted, nothing created.
      answer: 202,
    },
  ],
  poll: pollConnectWise,
  onConnect: connectConnectWise,
  doctor: doctorConnectWise,
};
