import type pg from 'pg';
import { emulatorPortalCredentials } from '../src/integrations/connectwise/emulator/data.ts';
import type { Sandbox } from '../src/demo/sandbox.ts';
import type { World } from '../src/world/fixture.ts';
import type { Ask } from './asks.ts';
import type { Target } from './drive.ts';
import type { BenchEmulators } from './emulators.ts';
import { engineStatusQuery, RequestWatcher } from './watch.ts';

/**
 * The engine as the bench drives it: tickets go to its emulators (which call the sandbox service's
 * webhook), approvals go through its HTTP API with a technician's personal API token of the
 * request's MSP.
 */
export async function engineTarget(input: { sandbox: Sandbox; emulators: BenchEmulators; world: World; pool: pg.Pool }): Promise<Target> {
  const { sandbox, emulators, world, pool } = input;
  const integrations = await pool.query<{ id: string; msp_id: string }>("SELECT id::text, msp_id FROM integrations WHERE kind = 'connectwise'");
  const integrationOfMsp = new Map(integrations.rows.map((r) => [r.msp_id, r.id]));
  const tokenOfIntegration = new Map<string, string>();
  for (const msp of world.msps) {
    const integrationId = integrationOfMsp.get(msp.id);
    const technician = msp.users.find((u) => u.role === 'msp_technician');
    if (!integrationId || !technician) throw new Error(`the MSP ${msp.id} has no ConnectWise integration or no technician`);
    tokenOfIntegration.set(integrationId, await sandbox.tokenFor(technician.email));
  }
  const cwBase = `${emulators.connectwise.url}/${emulators.connectwise.codebase}apis/3.0`;
  const portalHeaders = new Map(
    world.msps.map((m) => {
      const c = emulatorPortalCredentials(m.id);
      return [m.id, { authorization: `Basic ${Buffer.from(`${c.companyId}+${c.publicKey}:${c.privateKey}`).toString('base64')}`, clientId: c.clientId }];
    }),
  );
  return {
    name: 'engine',
    watcher: new RequestWatcher(pool, engineStatusQuery),
    emulators,
    async open(ask: Ask) {
      const response = await fetch(`${cwBase}/service/tickets`, {
        method: 'POST',
        headers: { ...portalHeaders.get(ask.mspId)!, 'content-type': 'application/json' },
        body: JSON.stringify({
          summary: ask.text.length > 100 ? `${ask.text.slice(0, 97)}...` : ask.text,
          company: { identifier: ask.clientId },
          contactEmailAddress: ask.email,
          initialDescription: ask.text,
        }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await response.json()) as { id?: number };
      if (response.status !== 201 || !body.id) throw new Error(`the ConnectWise emulator answered ${response.status} when opening a ticket`);
      return `${integrationOfMsp.get(ask.mspId)}/${body.id}`;
    },
    async approve(key, status) {
      const integrationId = key.slice(0, key.indexOf('/'));
      const response = await fetch(`${sandbox.service.url}/api/approvals/${status.approvalId}/decision`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokenOfIntegration.get(integrationId)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve', planHash: status.planHash }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`the approval decision for ${key} answered ${response.status}: ${text.slice(0, 200)}`);
    },
  };
}
