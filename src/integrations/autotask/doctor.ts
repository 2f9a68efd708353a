import { describeError, isDeskhandError } from '../../core/errors.ts';
import type { ConnectedIntegration, DoctorCheck, DoctorHost, DoctorReport, ToolDoctorReport } from '../module.ts';
import { ALL_USERS_PUBLISH_LABEL, INTERNAL_PUBLISH_LABEL } from './channel.ts';
import type { AutotaskClient } from './client.ts';
import { autotaskOf } from './intake.ts';

/**
 * `deskhand doctor` for Autotask: finds the zone, signs in, then tries one read of every entity each
 * part of the module needs (a restricted security level answers 403, or hides records; the doctor
 * reports what it can see), checks that the note publish types deskhand relies on exist, and that
 * the API user's Resource is found (its notes are recognised by it). Reads only.
 */
const SECURITY_FIX = 'Give the API user the "API User (API-only)" security level (Admin › Resources › the API user › Security), or a copy that can read and write this entity.';

const READS: readonly { name: string; entity: string; what: string }[] = [
  { name: 'Tickets', entity: 'Tickets', what: 'read tickets' },
  { name: 'TicketNotes', entity: 'TicketNotes', what: 'read ticket notes' },
  { name: 'Companies', entity: 'Companies', what: 'read companies' },
  { name: 'Contacts', entity: 'Contacts', what: 'read contacts' },
  { name: 'Resources', entity: 'Resources', what: 'read resources' },
  { name: 'TicketWebhooks', entity: 'TicketWebhooks', what: 'list webhooks ("Can create WebHooks")' },
];

const TOOL_NEEDS: readonly { tool: string; needs: string[] }[] = [
  { tool: 'ticket.read', needs: ['sign-in', 'Tickets', 'Contacts'] },
  { tool: 'ticket.note', needs: ['sign-in', 'TicketNotes', 'publish types', 'own resource'] },
  { tool: 'ticket.status', needs: ['sign-in', 'Tickets', 'ticket picklists'] },
  { tool: 'companies.read', needs: ['sign-in', 'Companies'] },
  { tool: 'webhooks', needs: ['sign-in', 'TicketWebhooks', 'own resource'] },
];

export async function doctorAutotask(integration: ConnectedIntegration, host: DoctorHost): Promise<DoctorReport> {
  const { client } = autotaskOf(integration);
  const found = new Map<string, { known: boolean; check: DoctorCheck }>();

  const signIn = await signInCheck(client);
  found.set('sign-in', signIn);
  if (signIn.check.ok) {
    for (const read of READS) found.set(read.name, await readCheck(client, read.entity, read.what));
    found.set('publish types', await publishCheck(client));
    found.set('ticket picklists', await picklistCheck(client));
    found.set('own resource', await ownResourceCheck(client));
  }
  const checks = [...found.values()].map((o) => o.check);
  const tools: ToolDoctorReport[] = TOOL_NEEDS.map((t) => {
    const outcomes = t.needs.map((n) => found.get(n) ?? found.get('sign-in')!);
    const failed = [...new Set(outcomes.filter((o) => !o.check.ok))];
    const status = failed.length === 0 ? 'ok' : failed.some((o) => o.known) ? 'missing' : 'error';
    return { tool: t.tool, status, missing: failed.map((o) => o.check) };
  });
  const ok = tools.every((t) => t.status === 'ok');
  if (!ok) host.logger.info({ integration: integration.name, missing: tools.filter((t) => t.status !== 'ok').map((t) => t.tool) }, 'Autotask doctor: some parts lack what they need');
  return { ok, checks, tools };
}

async function signInCheck(client: AutotaskClient): Promise<{ known: boolean; check: DoctorCheck }> {
  const name = 'Autotask zone and API sign-in (user name, secret, tracking identifier)';
  try {
    const zone = await client.getZone();
    await client.query('Tickets', [{ op: 'gt', field: 'id', value: 0 }], { maxRecords: 1, limit: 1, includeFields: ['id'] });
    return { known: true, check: { name, ok: true, detail: `signed in to zone ${zone.zoneName ?? new URL(zone.url).host}` } };
  } catch (error) {
    const status = statusOf(error);
    if (status === 403) return { known: true, check: { name, ok: true, detail: 'signed in (tickets refused: see below)' } };
    if (status === 401 || status === 500 && /user|secret|integration/i.test(describeError(error))) {
      return {
        known: true,
        check: {
          name,
          ok: false,
          detail: 'Autotask refused the credentials (HTTP 401)',
          fix: 'Check the API user name, its secret and the API tracking identifier (Admin › Resources › the API-only user › Security › API Tracking Identifier).',
        },
      };
    }
    return { known: false, check: { name, ok: false, detail: `could not reach Autotask: ${describeError(error)}`, fix: 'Check the user name (the zone is found from it) and that Autotask answers from this server.' } };
  }
}

async function readCheck(client: AutotaskClient, entity: string, what: string): Promise<{ known: boolean; check: DoctorCheck }> {
  try {
    await client.query(entity, [{ op: 'gt', field: 'id', value: -1 }], { maxRecords: 1, limit: 1, includeFields: ['id'] });
    return { known: true, check: { name: entity, ok: true, detail: `can ${what} (POST ${entity}/query)` } };
  } catch (error) {
    const status = statusOf(error);
    if (status === 401 || status === 403) return { known: true, check: { name: entity, ok: false, detail: `cannot ${what}: HTTP ${status}`, fix: SECURITY_FIX } };
    return { known: false, check: { name: entity, ok: false, detail: `could not check: ${describeError(error)}` } };
  }
}

async function publishCheck(client: AutotaskClient): Promise<{ known: boolean; check: DoctorCheck }> {
  const name = 'TicketNotes publish types "Internal Only" and "All Autotask Users"';
  try {
    const labels = (await client.picklist('TicketNotes', 'publish')).map((v) => v.label.trim());
    const ok = labels.some((l) => INTERNAL_PUBLISH_LABEL.test(l)) && labels.some((l) => ALL_USERS_PUBLISH_LABEL.test(l));
    return {
      known: true,
      check: ok
        ? { name, ok, detail: `found (${labels.join(', ')})` }
        : { name, ok, detail: `the publish types are ${labels.join(', ') || 'none'}`, fix: 'Keep the system publish types "Internal Only" and "All Autotask Users" active: deskhand never guesses who may read a note.' },
    };
  } catch (error) {
    return { known: false, check: { name, ok: false, detail: `could not read the picklist: ${describeError(error)}` } };
  }
}

async function picklistCheck(client: AutotaskClient): Promise<{ known: boolean; check: DoctorCheck }> {
  const name = 'Ticket queues and statuses (Tickets/entityInformation/fields)';
  try {
    const [queues, statuses] = await Promise.all([client.picklist('Tickets', 'queueID'), client.picklist('Tickets', 'status')]);
    return { known: true, check: { name, ok: statuses.length > 0, detail: `${queues.length} queues, ${statuses.length} statuses` } };
  } catch (error) {
    return { known: false, check: { name, ok: false, detail: `could not read: ${describeError(error)}` } };
  }
}

async function ownResourceCheck(client: AutotaskClient): Promise<{ known: boolean; check: DoctorCheck }> {
  const name = "The API user's Resource (its notes never start a request)";
  try {
    const id = await client.ownResourceId();
    return { known: true, check: { name, ok: true, detail: `Resource ${id}` } };
  } catch (error) {
    return { known: isDeskhandError(error) && error.code === 'config', check: { name, ok: false, detail: describeError(error), fix: SECURITY_FIX } };
  }
}

function statusOf(error: unknown): number | undefined {
  const status = isDeskhandError(error) ? error.details?.['status'] : undefined;
  return typeof status === 'number' ? status : undefined;
}
