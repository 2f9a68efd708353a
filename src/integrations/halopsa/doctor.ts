import { describeError, isDeskhandError } from '../../core/errors.ts';
import type { ConnectedIntegration, DoctorCheck, DoctorHost, DoctorReport, ToolDoctorReport } from '../module.ts';
import { type HaloClient, scopeCovers } from './client.ts';
import { haloOf } from './intake.ts';

/**
 * `deskhand doctor` for HaloPSA: signs in (the token endpoint says whether the client id, secret,
 * tenant and scopes are right), then checks each scope a tool needs: reads are tried (one record;
 * a 403 is the answer), `edit:tickets` is read from the scopes the token was granted (trying it
 * would write). Then whether Halo calls this integration's webhook. Reads only.
 *
 * Access in Halo is the application's scopes combined with the permissions of the agent it logs in
 * as: a scope granted to the application may still be refused for the agent (HTTP 403 on a read);
 * for `edit:tickets` only the scope can be checked without writing.
 */

interface Need {
  scope: string;
  why: string;
}

const TOOLS: readonly { tool: string; needs: readonly string[] }[] = [
  { tool: 'ticket.read', needs: ['read:tickets'] },
  { tool: 'ticket.note', needs: ['edit:tickets'] },
  { tool: 'ticket.status', needs: ['read:tickets', 'edit:tickets'] },
  { tool: 'boards.read', needs: ['read:tickets'] },
  { tool: 'companies', needs: ['read:customers'] },
  { tool: 'webhook', needs: ['admin', 'webhook'] },
];

const NEEDS: Record<string, Need> = {
  'read:tickets': { scope: 'read:tickets', why: 'read tickets, their actions, statuses and ticket types' },
  'edit:tickets': { scope: 'edit:tickets', why: 'add actions (notes and replies) and change a ticket status' },
  'read:customers': { scope: 'read:customers', why: "list Halo's clients (import and links)" },
  admin: { scope: 'admin', why: 'list and register the webhook (unverified: the scope Halo asks for /api/Webhook)' },
};

type Outcome = { known: boolean; check: DoctorCheck };

export async function doctorHalo(integration: ConnectedIntegration, host: DoctorHost): Promise<DoctorReport> {
  const { client } = haloOf(integration);
  const checks: DoctorCheck[] = [];
  const signIn = await signInCheck(client);
  checks.push(signIn.check);
  if (!signIn.check.ok) {
    const status = signIn.known ? 'missing' : 'error';
    return { ok: false, checks, tools: TOOLS.map((t) => ({ tool: t.tool, status, missing: [signIn.check] })) };
  }
  const granted = await client.grantedScope();
  const found = new Map<string, Outcome>();
  found.set('read:tickets', await readCheck(client, 'Tickets', NEEDS['read:tickets']!, granted));
  found.set('read:customers', await readCheck(client, 'Client', NEEDS['read:customers']!, granted));
  found.set('edit:tickets', grantedCheck(NEEDS['edit:tickets']!, granted));
  found.set('admin', await readCheck(client, 'Webhook', NEEDS['admin']!, granted));
  found.set('webhook', await webhookCheck(client, integration, found.get('admin')!));
  for (const outcome of found.values()) checks.push(outcome.check);

  const tools: ToolDoctorReport[] = TOOLS.map((tool) => {
    const failed = tool.needs.map((n) => found.get(n)!).filter((o) => !o.check.ok);
    const status = failed.length === 0 ? 'ok' : failed.some((o) => o.known) ? 'missing' : 'error';
    return { tool: tool.tool, status, missing: failed.map((o) => o.check) };
  });
  const ok = tools.every((t) => t.status === 'ok');
  if (!ok) host.logger.info({ integration: integration.name, missing: tools.filter((t) => t.status !== 'ok').map((t) => t.tool) }, 'HaloPSA doctor: some tools lack what they need');
  return { ok, checks, tools };
}

async function signInCheck(client: HaloClient): Promise<Outcome> {
  const name = `HaloPSA sign-in (client credentials, scopes "${client.scope}")`;
  try {
    await client.accessToken();
    return { known: true, check: { name, ok: true, detail: `signed in to ${new URL(client.baseUrl).host}` } };
  } catch (error) {
    const message = describeError(error);
    const status = statusOf(error);
    if (/invalid_client/.test(message) || status === 401) {
      return { known: true, check: { name, ok: false, detail: 'the client id or secret was refused', fix: "Check the application's client id and secret (Configuration › Integrations › Halo API › View Applications; a secret is shown once: make a new one if it is lost)." } };
    }
    if (/invalid_scope/.test(message)) {
      return { known: true, check: { name, ok: false, detail: 'a requested scope is not granted to the application', fix: `Grant the application the scopes ${client.scope} (the application's Permissions tab), or set the integration's scopes to those it has.` } };
    }
    if (/tenant/i.test(message)) {
      return { known: true, check: { name, ok: false, detail: 'the tenant was not recognised', fix: 'Set the tenant name shown under Configuration › Integrations › Halo API › API Details (hosted Halo only; leave it empty when self-hosted).' } };
    }
    return { known: false, check: { name, ok: false, detail: `could not sign in: ${message}`, fix: 'Check the instance URL and the authorisation server URL, and that Halo answers from this server.' } };
  }
}

async function readCheck(client: HaloClient, path: 'Tickets' | 'Client' | 'Webhook', need: Need, granted: string): Promise<Outcome> {
  const name = `HaloPSA scope ${need.scope}`;
  if (!scopeCovers(granted, need.scope)) return { known: true, check: { name, ok: false, detail: `not among the scopes the token has (${granted})`, fix: fixFor(need) } };
  try {
    await client.probe(path);
    return { known: true, check: { name, ok: true, detail: `can ${need.why} (GET /api/${path})` } };
  } catch (error) {
    if (statusOf(error) === 403) return { known: true, check: { name, ok: false, detail: `refused (GET /api/${path}: HTTP 403): deskhand cannot ${need.why}`, fix: fixFor(need) } };
    return { known: false, check: { name, ok: false, detail: `could not check (GET /api/${path}): ${describeError(error)}` } };
  }
}

function grantedCheck(need: Need, granted: string): Outcome {
  const name = `HaloPSA scope ${need.scope}`;
  if (scopeCovers(granted, need.scope)) return { known: true, check: { name, ok: true, detail: `granted to the token (checked without writing): ${need.why}` } };
  return { known: true, check: { name, ok: false, detail: `not among the scopes the token has (${granted}): deskhand cannot ${need.why}`, fix: fixFor(need) } };
}

async function webhookCheck(client: HaloClient, integration: ConnectedIntegration, admin: Outcome): Promise<Outcome> {
  const name = 'HaloPSA webhook "New Ticket Logged" to this integration';
  const manual = `In Halo, Configuration › Integrations › Webhooks › New: URL <deskhand>/webhooks/halopsa/${integration.id}, method POST, Basic authentication with user deskhand and the integration's webhook secret as password, event "New Ticket Logged". Until then the poll takes tickets in.`;
  if (!admin.check.ok) return { known: false, check: { name, ok: false, detail: 'could not be checked: the webhooks cannot be listed', fix: manual } };
  try {
    const ours = (await client.listWebhooks()).filter((w) => typeof w.url === 'string' && w.url.includes(`/webhooks/halopsa/${integration.id}`));
    if (ours.length > 0) return { known: true, check: { name, ok: true, detail: `registered (${ours.length})` } };
    return { known: true, check: { name, ok: false, detail: 'no webhook of Halo calls this integration', fix: manual } };
  } catch (error) {
    return { known: false, check: { name, ok: false, detail: `could not list the webhooks: ${describeError(error)}`, fix: manual } };
  }
}

function fixFor(need: Need): string {
  return `Grant the application the scope ${need.scope} (Configuration › Integrations › Halo API › the application › Permissions), add it to the integration's scopes, and make sure the agent the application logs in as may ${need.why}.`;
}

function statusOf(error: unknown): number | undefined {
  const status = isDeskhandError(error) ? error.details?.['status'] : undefined;
  return typeof status === 'number' ? status : undefined;
}
