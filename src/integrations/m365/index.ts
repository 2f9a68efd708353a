import { z } from 'zod';
import { requiredSetting, settingUrl } from '../http.ts';
import type { Connection, ConnectionInput, IntegrationModule, ModuleTool } from '../module.ts';
import { GraphClient, mailMarker, markedSubject } from './client.ts';
import { m365Doctor } from './doctor.ts';
import { checkM365Step } from './exchange/check.ts';
import { ExchangeOnlineClient } from './exchange/client.ts';
import { ExchangeGroupMembership } from './exchange/membership.ts';
import { generateTemporaryPassword } from './password.ts';
import { M365DiagnosisReader } from './reader.ts';
import { M365ToolRunner } from './runner.ts';
import { m365Tools } from './tools.ts';

/**
 * Microsoft 365 / Entra ID through Microsoft Graph: the identity provider diagnosis reads (users,
 * managers, groups, licenses, sign-in methods), the mailbox manager approvals are mailed from, and
 * the write tools of the catalog (TOOLS.md).
 */
const settings = z.object({
  clientId: z.string().min(1).describe('Application (client) id of the Entra app: the MSP\'s multi-tenant app, or a client\'s own'),
  tenantId: z.string().min(1).optional().describe("A client's own app only: the client's tenant id (the MSP's app reaches each client through its link)"),
  graphBaseUrl: z.string().optional().describe('Microsoft Graph base URL (default https://graph.microsoft.com/v1.0)'),
  loginBaseUrl: z.string().optional().describe('Microsoft identity platform URL (default https://login.microsoftonline.com)'),
  exchangeOnline: z
    .object({
      enabled: z.boolean().describe('Change the members of distribution lists and mail-enabled security groups (shared-mailbox access) through Exchange Online, with the same app'),
      baseUrl: z.string().optional().describe('Exchange Online host (default https://outlook.office365.com; GCC High https://outlook.office365.us)'),
    })
    .optional()
    .describe("Exchange Online (each client tenant grants the app Exchange.ManageAsApp and an Exchange role; see the m365 README)"),
});

/** A client secret, or a certificate (its private key and thumbprint): exactly one. */
const secrets = z
  .object({
    clientSecret: z.string().min(1).optional().describe('Client secret of the app'),
    certificatePrivateKey: z.string().min(1).optional().describe("Private key (PEM) of the certificate registered on the app"),
    certificateThumbprint: z.string().min(1).optional().describe("The certificate's thumbprint (SHA-1 or SHA-256, hex)"),
  })
  .refine((s) => (s.clientSecret !== undefined) !== (s.certificatePrivateKey !== undefined && s.certificateThumbprint !== undefined), {
    message: 'give a client secret, or a certificate (private key and thumbprint): exactly one',
  }) as unknown as z.ZodType<Record<string, string>>;

/** How each step reads for employees and managers (`ask`) and in the reply once done (`done`). */
const WORDS: Record<string, { ask: (a: Record<string, string>) => string; done: (a: Record<string, string>) => string }> = {
  'm365.add_user_to_group': { ask: (a) => `add ${who(a)} to ${a['group']}`, done: (a) => `${who(a)} was added to ${a['group']}` },
  'm365.remove_user_from_group': { ask: (a) => `remove ${who(a)} from ${a['group']}`, done: (a) => `${who(a)} was removed from ${a['group']}` },
  'm365.reset_password': {
    ask: (a) => `reset the password of ${who(a)} (a technician hands over the temporary password by phone or in person)`,
    done: (a) => `the password of ${who(a)} was reset`,
  },
  'm365.revoke_sessions': { ask: (a) => `sign ${who(a)} out of every session`, done: (a) => `${who(a)} was signed out of every session` },
  'm365.reset_mfa': {
    ask: (a) => `remove the registered sign-in methods of ${who(a)} so they can be registered again`,
    done: (a) => `the sign-in methods of ${who(a)} were removed, so they can be registered again`,
  },
  'm365.assign_license': { ask: (a) => `assign the ${a['sku']} license to ${who(a)}`, done: (a) => `the ${a['sku']} license was assigned to ${who(a)}` },
  'm365.remove_license': { ask: (a) => `remove the ${a['sku']} license from ${who(a)}`, done: (a) => `the ${a['sku']} license was removed from ${who(a)}` },
  'm365.disable_account': { ask: (a) => `block sign-in for ${who(a)}`, done: (a) => `sign-in was blocked for ${who(a)}` },
  'm365.enable_account': { ask: (a) => `allow sign-in for ${who(a)} again`, done: (a) => `sign-in was allowed again for ${who(a)}` },
};

function who(args: Record<string, string>): string {
  return args['user'] ?? 'the user';
}

const tools: ModuleTool[] = m365Tools.map((tool) => ({
  ...tool,
  ask: WORDS[tool.name]?.ask ?? ((args) => `${tool.name} for ${who(args)}`),
  done: WORDS[tool.name]?.done ?? ((args) => `${tool.name} ran for ${who(args)}`),
  ...(tool.secretResult ? { prepareSecret: () => generateTemporaryPassword() } : {}),
}));

export const m365: IntegrationModule = {
  kind: 'm365',
  label: 'Microsoft 365',
  // One multi-tenant Entra app per MSP, each client reached through its tenant after its admin
  // consented; a client may still connect its own app (per-client credentials), which wins.
  scope: 'msp',
  clientOverride: true,
  clientLink: { label: 'Entra tenant id', schema: z.string().min(1).max(100) },
  provides: ['identity', 'tools'],
  settings,
  secrets,
  tools,
  connect(input): Connection {
    const integration = { id: input.integrationId, name: input.name, kind: input.kind };
    const graph = graphClientFor(input);
    const exchange = exchangeClient(integration, input, credentialOf(input));
    const runner = new M365ToolRunner(graph, new ExchangeGroupMembership(graph, exchange));
    return {
      identity: {
        reader: (runbooks, onCall, options) => {
          const reader = new M365DiagnosisReader(graph, runbooks, onCall, options);
          return { reader, resolving: reader.forResolving() };
        },
        readTools: { user: 'm365.get_user', manager: 'm365.get_manager', groups: 'm365.list_user_groups', licenses: 'm365.list_user_licenses' },
        sendMail: async (from, mail) => {
          // Graph's sendMail answers 202 with no message id: a marker in the subject finds it in Sent Items.
          await graph.sendMail(from, { ...mail, marker: mailMarker(mail.marker) });
        },
        mailAlreadySent: async (from, subject, marker) => (await graph.findSentMail(from, markedSubject(subject, mailMarker(marker)))).length > 0,
      },
      tools: {
        run: (tool, args, resolved, prepared) => runner.run(tool, args, resolved, prepared),
        reconcile: (tool, args, resolved, intentAt) => runner.reconcile(tool, args, resolved, intentAt),
        check: (tool, args, resolved) => checkM365Step(graph, exchange !== null, tool, args, resolved),
      },
    };
  },
  doctor: (integration, host) => m365Doctor(integration, host, { tools: tools.map((t) => t.name), graphClient: graphClientFor }),
  adminConsentUrl: (settings, target) => adminConsentUrl(settings, target),
};

/**
 * The Microsoft identity platform's admin consent endpoint (v2.0):
 * `<login>/{tenant}/v2.0/adminconsent?client_id=&scope=&redirect_uri=&state=`. `scope` asks for the
 * app's application permissions as registered (`<Graph>/.default`); `tenant` is the client's tenant
 * id, or `organizations` (any work or school tenant) before the client is linked. The client's
 * administrator signs in there, and Entra sends them back to `redirect_uri` with `admin_consent`
 * and `tenant` (the URI must be registered on the app as a Web redirect URI).
 */
export function adminConsentUrl(settings: Record<string, unknown>, target: { tenant: string | null; redirectUri: string }): string {
  const login = (typeof settings['loginBaseUrl'] === 'string' && settings['loginBaseUrl'] ? settings['loginBaseUrl'] : 'https://login.microsoftonline.com').replace(/\/+$/, '');
  const graph = typeof settings['graphBaseUrl'] === 'string' && settings['graphBaseUrl'] ? new URL(settings['graphBaseUrl']).origin : 'https://graph.microsoft.com';
  const url = new URL(`${login}/${encodeURIComponent(target.tenant ?? 'organizations')}/v2.0/adminconsent`);
  url.searchParams.set('client_id', String(settings['clientId'] ?? ''));
  url.searchParams.set('scope', `${graph}/.default`);
  url.searchParams.set('redirect_uri', target.redirectUri);
  if (target.tenant) url.searchParams.set('state', target.tenant);
  return url.toString();
}

/** The app's credential: a certificate (the documented path for Exchange Online) or a client secret. */
function credentialOf(input: Pick<ConnectionInput, 'integrationId' | 'name' | 'kind' | 'secrets'>): { clientSecret: string } | { certificate: { privateKeyPem: string; thumbprint: string } } {
  const integration = { id: input.integrationId, name: input.name, kind: input.kind };
  return input.secrets['certificatePrivateKey']
    ? { certificate: { privateKeyPem: input.secrets['certificatePrivateKey'], thumbprint: requiredSetting(integration, input.secrets['certificateThumbprint'], 'certificateThumbprint') } }
    : { clientSecret: requiredSetting(integration, input.secrets['clientSecret'], 'clientSecret') };
}

/** A Graph client for the integration's tenant: the client's link (an MSP's app) or its own app's tenant. */
export function graphClientFor(input: Pick<ConnectionInput, 'integrationId' | 'name' | 'kind' | 'settings' | 'secrets' | 'clientLink'>): GraphClient {
  const integration = { id: input.integrationId, name: input.name, kind: input.kind };
  const graphBaseUrl = settingUrl(integration, input.settings, 'graphBaseUrl');
  const loginBaseUrl = settingUrl(integration, input.settings, 'loginBaseUrl');
  return new GraphClient({
    tenantId: requiredSetting(integration, input.clientLink ?? input.settings['tenantId'], 'tenantId'),
    clientId: requiredSetting(integration, input.settings['clientId'], 'clientId'),
    ...credentialOf(input),
    ...(graphBaseUrl ? { graphBaseUrl } : {}),
    ...(loginBaseUrl ? { loginBaseUrl } : {}),
  });
}

/**
 * Exchange Online, when the settings switch it on: the same app, tenant and credential as Graph's
 * (a second client of the same app registration and tenant link), null otherwise.
 */
function exchangeClient(
  integration: { id: string; name: string; kind: string },
  input: Pick<ConnectionInput, 'settings' | 'clientLink'>,
  credential: { clientSecret: string } | { certificate: { privateKeyPem: string; thumbprint: string } },
): ExchangeOnlineClient | null {
  const setting = input.settings['exchangeOnline'] as { enabled?: unknown; baseUrl?: unknown } | undefined;
  if (setting?.enabled !== true) return null;
  const baseUrl = settingUrl(integration, { 'exchangeOnline.baseUrl': setting.baseUrl, developmentLoopback: input.settings['developmentLoopback'] }, 'exchangeOnline.baseUrl');
  const loginBaseUrl = settingUrl(integration, input.settings, 'loginBaseUrl');
  return new ExchangeOnlineClient({
    tenantId: requiredSetting(integration, input.clientLink ?? input.settings['tenantId'], 'tenantId'),
    clientId: requiredSetting(integration, input.settings['clientId'], 'clientId'),
    ...credential,
    ...(baseUrl ? { baseUrl } : {}),
    ...(loginBaseUrl ? { loginBaseUrl } : {}),
  });
}
