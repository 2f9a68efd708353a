import { describeError } from '../core/errors.ts';
import type { Logger } from '../logger.ts';
import type { Db } from '../store/db.ts';
import type { DoctorCheck, DoctorHost, ToolDoctorReport } from './module.ts';
import type { IntegrationRegistry } from './registry.ts';

/**
 * Every enabled integration whose module has a doctor, asked what its tools need and what is missing
 * (`deskhand doctor`, and later the dashboard's *Test connection*). Reads only: a doctor never changes
 * the outside system. One integration failing to answer is reported as such; the others still run.
 */

export interface DoctorIntegration {
  id: string;
  name: string;
  kind: string;
  /** The client owning a client-scoped integration. */
  client?: { id: string; name: string };
  /** False when its module has no doctor: listed, not checked. */
  checked: boolean;
  ok: boolean;
  checks: DoctorCheck[];
}

export interface DoctorToolLine extends Omit<ToolDoctorReport, 'client'> {
  integration: string;
  integrationId: string;
  kind: string;
  client?: string;
}

export interface DoctorOutput {
  ok: boolean;
  integrations: DoctorIntegration[];
  tools: DoctorToolLine[];
}

export async function runDoctor(input: { db: Db; registry: IntegrationRegistry; logger: Logger }): Promise<DoctorOutput> {
  return doctorOf(input, { enabledOnly: true });
}

/**
 * The doctor of one integration of an MSP (the dashboard's *Test connection*), enabled or not; null
 * when the MSP has no such integration.
 */
export async function runDoctorFor(input: { db: Db; registry: IntegrationRegistry; logger: Logger }, mspId: string, integrationId: string): Promise<DoctorOutput | null> {
  const output = await doctorOf(input, { mspId, integrationId });
  return output.integrations.length === 0 ? null : output;
}

async function doctorOf(
  input: { db: Db; registry: IntegrationRegistry; logger: Logger },
  only: { enabledOnly: true } | { mspId: string; integrationId: string },
): Promise<DoctorOutput> {
  const { db, registry, logger } = input;
  let query = db
    .selectFrom('integrations')
    .leftJoin('clients', 'clients.id', 'integrations.client_id')
    .selectAll('integrations')
    .select(['clients.name as client_name']);
  query = 'enabledOnly' in only ? query.where('integrations.enabled', '=', true) : query.where('integrations.id', '=', only.integrationId).where('integrations.msp_id', '=', only.mspId);
  const rows = await query.orderBy('integrations.name').execute();
  const integrations: DoctorIntegration[] = [];
  const tools: DoctorToolLine[] = [];
  for (const row of rows) {
    const owner = row.client_id ? { client: { id: row.client_id, name: row.client_name ?? row.client_id } } : {};
    const base = { id: row.id, name: row.name, kind: row.kind, ...owner };
    const module = registry.modules.find((m) => m.kind === row.kind);
    if (!module?.doctor) {
      integrations.push({ ...base, checked: false, ok: true, checks: [] });
      continue;
    }
    const host: DoctorHost = {
      logger,
      linkedClients: async () =>
        (
          await db
            .selectFrom('client_links')
            .innerJoin('clients', 'clients.id', 'client_links.client_id')
            .select(['client_links.client_id', 'clients.name', 'client_links.external_id'])
            .where('client_links.integration_id', '=', row.id)
            .orderBy('clients.name')
            .execute()
        ).map((link) => ({ clientId: link.client_id, clientName: link.name, externalId: link.external_id })),
    };
    let checked: DoctorIntegration;
    const own: DoctorToolLine[] = [];
    try {
      // An MSP-wide app used through per-client links (a multi-tenant app) may connect only for a
      // link: its doctor then gets the stored settings and secrets and connects to each linked client
      // itself. A PSA connects once for the MSP.
      const bare = { id: row.id, mspId: row.msp_id, name: row.name, kind: row.kind, settings: row.config as Record<string, unknown>, secrets: registry.secretsOf(row), connection: {} };
      let integration: typeof bare | ReturnType<IntegrationRegistry['connected']> = bare;
      try {
        integration = registry.connected(row);
      } catch {
        integration = bare;
      }
      const report = await module.doctor(integration, host);
      checked = { ...base, checked: true, ok: report.ok, checks: report.checks };
      for (const tool of report.tools) {
        const client = tool.client?.name ?? row.client_name ?? undefined;
        own.push({ integration: row.name, integrationId: row.id, kind: row.kind, tool: tool.tool, ...(client ? { client } : {}), status: tool.status, missing: tool.missing });
      }
    } catch (error) {
      logger.warn({ integration: row.id, error: describeError(error) }, 'doctor failed');
      checked = { ...base, checked: true, ok: false, checks: [{ name: 'doctor', ok: false, detail: `could not check: ${describeError(error)}`, fix: 'see the error; run deskhand doctor again once it is fixed' }] };
    }
    integrations.push(checked);
    tools.push(...own);
    // What the doctor found is the integration's health now (the dashboard shows it).
    const problem = doctorProblem(checked, own);
    if (problem) await registry.health.failed(row.id, problem, 'doctor');
    else await registry.health.succeeded(row.id, 'doctor');
  }
  return { ok: integrations.every((i) => i.ok) && tools.every((t) => t.status === 'ok'), integrations, tools };
}

/** What the doctor found wrong with one integration, in a line (its failed checks first, then its tools), or null. */
export function doctorProblem(integration: DoctorIntegration, tools: readonly DoctorToolLine[]): string | null {
  const failed = integration.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
  const lacking = tools
    .filter((t) => t.status !== 'ok')
    .map((t) => `${t.tool}${t.client ? ` (${t.client})` : ''} ${t.status === 'missing' ? 'lacks' : 'could not check'} ${t.missing.map((m) => m.name).join(', ') || 'what it needs'}`);
  if (integration.ok && lacking.length === 0) return null;
  const parts = [...failed, ...lacking];
  return `the doctor found: ${parts.length > 0 ? parts.join('; ') : 'a problem it did not name'}`;
}

/** The report as people read it: per integration, its checks, then per client and tool what is missing, with the fix. */
export function formatDoctor(output: DoctorOutput): string {
  const lines: string[] = [];
  for (const integration of output.integrations) {
    const owner = integration.client ? ` — ${integration.client.name}` : '';
    const verdict = !integration.checked ? 'not checked (its module has no doctor)' : integration.ok ? 'ok' : 'NOT OK';
    lines.push(`${integration.name} [${integration.kind}]${owner}: ${verdict}`);
    for (const check of integration.checks) {
      lines.push(`  ${check.ok ? 'ok     ' : 'MISSING'} ${check.name}: ${check.detail}`);
      if (!check.ok && check.fix) lines.push(`          fix: ${check.fix}`);
    }
    const own = output.tools.filter((t) => t.integrationId === integration.id);
    const clients = [...new Set(own.map((t) => t.client ?? ''))];
    for (const client of clients) {
      if (client) lines.push(`  ${client}:`);
      for (const tool of own.filter((t) => (t.client ?? '') === client)) {
        lines.push(`    ${tool.status === 'ok' ? 'ok     ' : tool.status === 'missing' ? 'MISSING' : 'ERROR  '} ${tool.tool}`);
        for (const missing of tool.missing) {
          lines.push(`            needs ${missing.name}: ${missing.detail}`);
          if (missing.fix) lines.push(`            fix: ${missing.fix}`);
        }
      }
    }
  }
  lines.push(output.ok ? 'Everything every tool needs is in place.' : 'Something a tool needs is missing: see MISSING and ERROR above.');
  return lines.join('\n');
}
