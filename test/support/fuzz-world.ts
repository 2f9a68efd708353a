import { startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { createLogger } from '../../src/logger.ts';
import { createTestDatabase } from './db.ts';

/**
 * The world the fuzzers attack: a sandbox on its own database with the demo world, one request
 * waiting for a technician's and a manager's approval (so that real request, approval and link ids
 * exist to aim at), API tokens for every role of the first MSP and an admin of another, and the
 * ids of both MSPs' clients and integrations.
 */
export interface FuzzWorld {
  sb: Sandbox;
  /** Error lines the service logged (an unhandled error's stack says where a 500 came from). */
  errors: string[];
  requestId: string;
  ticketId: number;
  technicianApprovalId: string;
  managerApprovalId: string;
  /** The path of the link in the manager's mail. */
  managerLink: string;
  own: { clientIds: string[]; integrationIds: string[]; connectWiseIntegrationId: string; tools: string[] };
  foreign: { clientIds: string[]; integrationIds: string[] };
  tokens: { admin: string; technician: string; billing: string; foreignAdmin: string };
  webhook: { url: string; path: string; secret: string };
}

export const ADMIN = 'ava.chen@northwind-it.example';
export const TECHNICIAN = 'tom.rivera@northwind-it.example';
export const BILLING = 'ben.okafor@northwind-it.example';
export const FOREIGN_ADMIN = 'kim.lee@tailspin-ms.example';

export async function startFuzzWorld(): Promise<FuzzWorld> {
  const errors: string[] = [];
  const logger = createLogger({
    level: 'error',
    destination: {
      write(line: string) {
        errors.push(line);
      },
    },
  });
  // The poll for missed webhooks writes its cursor on a timer of its own: off, so that every change
  // the digest sees comes from a fuzz case.
  const sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger, worker: { concurrency: 2, pollMs: 200, sweepMs: 250, intakePollMs: 0 } });
  const db = sb.service.ctx.db;
  try {
    const ticketId = await sb.openTicket('contoso', 'isaiah.langer@contoso.example', 'I forgot my password and cannot sign in.');
    const request = await sb.requestForTicket(ticketId).catch(async (error: Error) => {
      await sb.emulators.connectwise.deliveriesSettled();
      const attempts = sb.emulators.connectwise.deliveries().map((d) => `${d.action} ${d.state}: ${d.attempts.map((a) => a.status ?? a.error).join(', ')}`);
      throw new Error(`${error.message}; webhook deliveries: ${attempts.join('; ') || 'none'}; service log: ${errors.join('').slice(0, 1000)}`);
    });
    const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 60_000);
    if (waiting.state !== 'awaiting_approval') throw new Error(`the password reset request should wait for approval, not be ${waiting.state} (${waiting.last_error})`);
    await sb.waitForDelivered(request.id, 60_000);
    await sb.emulators.connectwise.deliveriesSettled();
    const approvals = await db.selectFrom('approvals').select(['id', 'kind']).where('request_id', '=', request.id).execute();
    const technician = approvals.find((a) => a.kind === 'technician');
    const manager = approvals.find((a) => a.kind === 'manager');
    if (!technician || !manager) throw new Error('the password reset request should wait for a technician and a manager');
    const link = sb.emulators.graph
      .mail()
      .flatMap((m) => m.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/g) ?? [])
      .find((l) => l.includes(manager.id));
    if (!link) throw new Error('no manager mail with a link');

    const clients = await db.selectFrom('clients').select(['id', 'msp_id']).execute();
    const integrations = await db.selectFrom('integrations').select(['id', 'msp_id', 'kind']).execute();
    const connectWise = integrations.find((i) => i.msp_id === 'northwind' && i.kind === 'connectwise');
    if (!connectWise) throw new Error('no ConnectWise integration for northwind');
    const connectWiseRow = await db.selectFrom('integrations').selectAll().where('id', '=', connectWise.id).executeTakeFirstOrThrow();
    const secret = sb.service.ctx.integrations.secretsOf(connectWiseRow)['webhookSecret'];
    if (!secret) throw new Error('the ConnectWise integration has no webhook secret');
    const tokens = {
      admin: await sb.tokenFor(ADMIN),
      technician: await sb.tokenFor(TECHNICIAN),
      billing: await sb.tokenFor(BILLING),
      foreignAdmin: await sb.tokenFor(FOREIGN_ADMIN),
    };
    const tools = new Set<string>();
    for (const integration of integrations.filter((i) => i.msp_id === 'northwind')) {
      const { body } = await sb.api<{ tools: { tool: string }[] }>('GET', `/api/integrations/${integration.id}/policies`, { token: tokens.admin });
      for (const tool of body.tools) tools.add(tool.tool);
    }
    const path = `/webhooks/connectwise/${connectWise.id}/${encodeURIComponent(secret)}`;
    return {
      sb,
      errors,
      requestId: request.id,
      ticketId,
      technicianApprovalId: technician.id,
      managerApprovalId: manager.id,
      managerLink: new URL(link).pathname,
      own: {
        clientIds: clients.filter((c) => c.msp_id === 'northwind').map((c) => c.id),
        integrationIds: integrations.filter((i) => i.msp_id === 'northwind').map((i) => i.id),
        connectWiseIntegrationId: connectWise.id,
        tools: [...tools],
      },
      foreign: {
        clientIds: clients.filter((c) => c.msp_id !== 'northwind').map((c) => c.id),
        integrationIds: integrations.filter((i) => i.msp_id !== 'northwind').map((i) => i.id),
      },
      tokens,
      webhook: { url: `${sb.service.url}${path}`, path, secret },
    };
  } catch (error) {
    await sb.close();
    throw error;
  }
}

/** The last unhandled error the service logged, shortened: what a failing case prints. */
export function lastError(world: FuzzWorld): string {
  const line = world.errors.at(-1);
  if (!line) return '(nothing logged)';
  try {
    const parsed = JSON.parse(line) as { msg?: string; err?: { message?: string; stack?: string } };
    return `${parsed.msg}: ${parsed.err?.stack ?? parsed.err?.message ?? ''}`.slice(0, 1500);
  } catch {
    return line.slice(0, 1500);
  }
}
