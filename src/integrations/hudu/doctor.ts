import { describeError, isDeskhandError } from '../../core/errors.ts';
import type { ConnectedIntegration, DoctorCheck, DoctorHost, DoctorReport } from '../module.ts';
import type { HuduClient } from './client.ts';
import { huduTools } from './tools.ts';

/**
 * `deskhand doctor` for Hudu: the key signs in (`/api_info`), the MSP's own company is visible to it,
 * and so is each linked client's company (a key scoped to some companies answers 404 for the others).
 * Reads only.
 */
export async function doctorHudu(integration: ConnectedIntegration, host: DoctorHost, client: HuduClient, mspCompanyId: number | null): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const signIn = await signInCheck(client);
  checks.push(signIn);
  if (!signIn.ok) return { ok: false, checks, tools: huduTools.map((t) => ({ tool: t.name, status: 'missing', missing: [signIn] })) };

  const companies: DoctorCheck[] = [];
  if (mspCompanyId === null) {
    checks.push({ name: "The MSP's own Hudu company (MSP-wide runbooks)", ok: true, detail: 'not set: only the linked clients\' companies are read' });
  } else {
    companies.push(await companyCheck(client, mspCompanyId, "The MSP's own Hudu company (MSP-wide runbooks)"));
  }
  for (const linked of await host.linkedClients()) {
    const id = /^\d{1,15}$/.test(linked.externalId) ? Number(linked.externalId) : null;
    companies.push(
      id === null
        ? { name: `${linked.clientName}'s Hudu company`, ok: false, detail: `the link "${linked.externalId.slice(0, 40)}" is not a Hudu company id`, fix: "Link the client by its Hudu company id (the number in the company's URL, or in GET /api/v1/companies)." }
        : await companyCheck(client, id, `${linked.clientName}'s Hudu company`),
    );
  }
  checks.push(...companies);
  const failed = companies.filter((c) => !c.ok);
  const status = failed.length === 0 ? 'ok' : 'missing';
  if (failed.length > 0) host.logger.info({ integration: integration.name, failed: failed.map((c) => c.name) }, 'Hudu doctor: some companies cannot be read');
  return { ok: failed.length === 0, checks, tools: huduTools.map((t) => ({ tool: t.name, status, missing: failed })) };
}

async function signInCheck(client: HuduClient): Promise<DoctorCheck> {
  const name = 'Hudu API key (x-api-key)';
  try {
    const info = await client.apiInfo();
    return { name, ok: true, detail: `signed in to ${new URL(client.baseUrl).host}${info.version ? ` (Hudu ${info.version})` : ''}` };
  } catch (error) {
    if (statusOf(error) === 401) {
      return { name, ok: false, detail: 'the API key was refused (HTTP 401)', fix: 'Create a key in Hudu under Admin › API (copy it at once: it is hidden after a few minutes) and configure it; a deleted key cannot be restored.' };
    }
    return { name, ok: false, detail: `could not reach Hudu: ${describeError(error)}`, fix: "Check the instance URL (https://<your-instance>) and that Hudu answers from this server (an API key may be limited to whitelisted IPs)." };
  }
}

async function companyCheck(client: HuduClient, id: number, name: string): Promise<DoctorCheck> {
  try {
    const company = await client.getCompany(id);
    if (company) return { name, ok: true, detail: `company ${id} (${company.name}) is readable` };
    return { name, ok: false, detail: `company ${id} is unknown, or outside the key's company scope (HTTP 404)`, fix: "Check the company id, and that the API key's company scope includes it (scopes are set when a key is created: make a new key if needed)." };
  } catch (error) {
    return { name, ok: false, detail: `could not check company ${id}: ${describeError(error)}` };
  }
}

function statusOf(error: unknown): number | undefined {
  const status = isDeskhandError(error) ? error.details?.['status'] : undefined;
  return typeof status === 'number' ? status : undefined;
}
