import { describeError, isDeskhandError } from '../../core/errors.ts';
import type { ConnectedIntegration, DoctorCheck, DoctorHost, DoctorReport } from '../module.ts';
import type { ItGlueClient } from './client.ts';
import { itGlueTools } from './tools.ts';

/**
 * `deskhand doctor` for IT Glue: the key is accepted and sees the MSP's own organization, each linked
 * client's organization, and the documents of each (the document read routes are newer than the
 * rest of the API: a 404 on them says this account does not offer them). Reads only.
 */
export async function doctorItGlue(integration: ConnectedIntegration, host: DoctorHost, client: ItGlueClient, mspOrganizationId: string | null): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const targets: { id: string; name: string }[] = [];
  if (mspOrganizationId !== null) targets.push({ id: mspOrganizationId, name: "The MSP's own IT Glue organization (MSP-wide runbooks)" });
  else checks.push({ name: "The MSP's own IT Glue organization (MSP-wide runbooks)", ok: true, detail: "not set: only the linked clients' organizations are read" });
  for (const linked of await host.linkedClients()) targets.push({ id: linked.externalId, name: `${linked.clientName}'s IT Glue organization` });

  let signedIn: DoctorCheck | null = null;
  const failed: DoctorCheck[] = [];
  for (const target of targets) {
    const check = await organizationCheck(client, target.id, target.name);
    if ('refused' in check) {
      signedIn = check.refused;
      break;
    }
    checks.push(check);
    if (!check.ok) failed.push(check);
  }
  if (signedIn) {
    checks.unshift(signedIn);
    return { ok: false, checks, tools: itGlueTools.map((t) => ({ tool: t.name, status: 'missing', missing: [signedIn!] })) };
  }
  checks.unshift({ name: 'IT Glue API key (x-api-key)', ok: true, detail: targets.length > 0 ? `accepted by ${new URL(client.baseUrl).host}` : 'not tried: no organization to read yet' });
  const status = failed.length === 0 ? 'ok' : 'missing';
  if (failed.length > 0) host.logger.info({ integration: integration.name, failed: failed.map((c) => c.name) }, 'IT Glue doctor: some organizations cannot be read');
  return { ok: failed.length === 0, checks, tools: itGlueTools.map((t) => ({ tool: t.name, status, missing: failed })) };
}

async function organizationCheck(client: ItGlueClient, id: string, name: string): Promise<DoctorCheck | { refused: DoctorCheck }> {
  if (!/^\d{1,20}$/.test(id)) return { name, ok: false, detail: `"${id.slice(0, 40)}" is not an IT Glue organization id`, fix: "Link by the organization's id (the number in its IT Glue URL)." };
  try {
    const organization = await client.getOrganization(id);
    if (!organization) return { name, ok: false, detail: `organization ${id} is unknown to this account (HTTP 404)`, fix: 'Check the organization id.' };
    const documents = await client.listDocuments(id);
    return { name, ok: true, detail: `organization ${id} (${organization.name}): ${documents.length} document(s) at its root` };
  } catch (error) {
    const status = isDeskhandError(error) ? error.details?.['status'] : undefined;
    if (status === 401 || status === 403) {
      return {
        refused: {
          name: 'IT Glue API key (x-api-key)',
          ok: false,
          detail: `the API key was refused (HTTP ${status})`,
          fix: 'Create a key under Account › Settings › API Keys (an Administrator; it is shown once) and check the region of the account (US, EU or AU). Keys unused for 90 days are revoked.',
        },
      };
    }
    if (status === 404) return { name, ok: false, detail: `the documents of organization ${id} cannot be listed (HTTP 404): this account may not offer the document read routes`, fix: 'See the IT Glue README (documents).' };
    return { name, ok: false, detail: `could not check organization ${id}: ${describeError(error)}`, fix: 'Check the region, and that IT Glue answers from this server.' };
  }
}
