import { TICKET_PHASES } from '../core/ticket-status.ts';
import { sql } from 'kysely';
import { policyRefusal } from '../core/tool.ts';
import { findTool } from '../integrations/catalog.ts';
import { moduleOf } from '../integrations/index.ts';
import type { DemoIntegration } from '../integrations/module.ts';
import type { Logger } from '../logger.ts';
import type { SecretBox } from '../secrets.ts';
import { appendAudit } from '../store/audit.ts';
import { type Db, json } from '../store/db.ts';
import { hashPassword } from '../store/users.ts';
import type { World } from './fixture.ts';

/** The password every demo user signs in with (stated in the README). */
export const DEMO_PASSWORD = 'deskhand-demo';

/**
 * Load the demo world into an empty database: MSPs, users (demo password), clients, the runbooks of
 * clients whose MSP has no emulated documentation platform (the others' are in its emulator),
 * and the integrations the emulated systems describe for it (pointing at the built-in emulators,
 * credentials encrypted, clients linked, the world's tool policies). Runs once, and never into a database
 * that already has an MSP of its own; later starts only
 * point the emulated integrations at the emulators' current addresses (`pointAtEmulators`).
 */
export async function seedDemoWorld(
  db: Db,
  input: { world: World; secrets: SecretBox; integrations: readonly DemoIntegration[]; at: Date; logger: Logger },
): Promise<{ seeded: boolean }> {
  checkToolPolicies(input.integrations);
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  return db.transaction().execute(async (tx) => {
    // One loader at a time: several processes may start on the same database.
    await sql`select pg_advisory_xact_lock(4242001)`.execute(tx);
    const done = await tx.selectFrom('settings').select('value').where('key', '=', 'demo_world').executeTakeFirst();
    if (done) return { seeded: false };
    // Only into an empty database: an MSP set up by hand (the first-run setup link) is never joined by the demo's.
    if (await tx.selectFrom('msps').select('id').limit(1).executeTakeFirst()) {
      input.logger.info('not loading the demo world: this database already has an MSP of its own');
      return { seeded: false };
    }
    const { world, secrets, at } = input;
    const clientIds = new Map<string, string>();
    const documentedMsps = new Set(input.integrations.filter((i) => moduleOf(i.kind)?.provides.includes('knowledge')).map((i) => i.msp));
    for (const msp of world.msps) {
      await tx.insertInto('msps').values({ id: msp.id, name: msp.name, default_operating_mode: msp.defaultOperatingMode, created_at: at }).execute();
      for (const user of msp.users) {
        const userId = crypto.randomUUID();
        await tx
          .insertInto('users')
          .values({
            id: userId,
            msp_id: msp.id,
            email: user.email.toLowerCase(),
            name: user.name,
            role: user.role as 'msp_admin' | 'msp_technician' | 'msp_billing',
            password_hash: passwordHash,
            created_at: at,
          })
          .execute();
        for (const [system, externalId] of userIdentities(user)) {
          await tx.insertInto('user_identities').values({ msp_id: msp.id, user_id: userId, system, external_id: externalId }).execute();
        }
      }
    }
    for (const client of world.clients) {
      const clientId = crypto.randomUUID();
      clientIds.set(client.id, clientId);
      await tx
        .insertInto('clients')
        .values({
          id: clientId,
          msp_id: client.msp,
          slug: client.id,
          name: client.name,
          domain: client.domain,
          operating_mode: client.operatingMode,
          sender_mailbox: client.senderMailbox,
          created_at: at,
        })
        .execute();
      // A client whose MSP documents in an emulated documentation platform reads its runbooks there, not here.
      if (documentedMsps.has(client.msp)) continue;
      for (const runbook of client.runbooks) {
        await tx.insertInto('runbooks').values({ id: crypto.randomUUID(), client_id: clientId, title: runbook.title, body: runbook.body, source: 'demo world' }).execute();
      }
    }
    for (const integration of input.integrations) {
      const integrationId = crypto.randomUUID();
      const ownClient = integration.client ? clientIds.get(integration.client) : undefined;
      await tx
        .insertInto('integrations')
        .values({
          id: integrationId,
          msp_id: integration.msp,
          client_id: ownClient ?? null,
          kind: integration.kind,
          name: integration.name,
          config: json(integration.settings),
          secrets_encrypted: secrets.encryptJson(integration.secrets),
          created_at: at,
          updated_at: at,
        })
        .execute();
      for (const link of integration.links ?? []) {
        const linked = clientIds.get(link.client);
        if (!linked) continue;
        await tx.insertInto('client_links').values({ msp_id: integration.msp, client_id: linked, integration_id: integrationId, external_id: link.externalId, created_at: at }).execute();
      }
      for (const policy of integration.policies ?? []) {
        await tx
          .insertInto('tool_policies')
          .values({
            integration_id: integrationId,
            client_id: policy.client ? (clientIds.get(policy.client) ?? null) : null,
            tool: policy.tool,
            policy: policy.policy,
            require_manager_approval: policy.requireManagerApproval,
            updated_at: at,
            updated_by: 'demo world',
          })
          .execute();
      }
      for (const entry of integration.ticketStatuses ?? []) {
        for (const phase of TICKET_PHASES) {
          const status = entry[phase];
          if (!status) continue;
          await tx
            .insertInto('ticket_statuses')
            .values({ msp_id: integration.msp, integration_id: integrationId, board: entry.board, phase, status, updated_at: at, updated_by: 'demo world' })
            .execute();
        }
      }
    }
    await tx.insertInto('settings').values({ key: 'demo_world', value: json({ loadedAt: at.toISOString() }) }).execute();
    for (const msp of world.msps) {
      await appendAudit(tx, { mspId: msp.id, actor: 'system', event: 'demo_world.loaded', data: { clients: msp.clients }, at });
    }
    input.logger.info({ msps: world.msps.length, clients: world.clients.length }, 'demo world loaded');
    return { seeded: true };
  });
}

/**
 * A world's tool policies are held to the same rules as the policy API: each names a tool of its
 * integration, and none asks for a policy a tool cannot have (a tool whose result is a secret for
 * the approving technician is never `auto`). Refused before anything loads.
 */
function checkToolPolicies(integrations: readonly DemoIntegration[]): void {
  const problems: string[] = [];
  for (const integration of integrations) {
    for (const policy of integration.policies ?? []) {
      const client = policy.client ?? integration.client;
      const where = `${integration.name}${client ? ` (client ${client})` : ''}`;
      const tool = findTool(policy.tool);
      if (!tool || tool.integration !== integration.kind) {
        problems.push(`${where}: ${policy.tool} is not a tool of this integration`);
        continue;
      }
      const refusal = policyRefusal(tool, policy.policy);
      if (refusal) problems.push(`${where}: ${refusal}`);
    }
  }
  if (problems.length > 0) throw new Error(`the world's tool policies cannot be loaded: ${problems.join('; ')}`);
}

/**
 * Point the emulated integrations at the emulators' current addresses (they move between runs); a
 * world loaded before the development setting existed gets it here.
 */
export async function pointAtEmulators(db: Db, pointAt: (kind: string, settings: Record<string, unknown>) => Record<string, unknown>, at: Date): Promise<void> {
  const rows = await db.selectFrom('integrations').select(['id', 'kind', 'config']).execute();
  for (const row of rows) {
    const config = row.config as Record<string, unknown>;
    if (config['emulated'] !== true) continue;
    const next = pointAt(row.kind, config);
    if (JSON.stringify(next) === JSON.stringify(config)) continue;
    await db.updateTable('integrations').set({ config: json(next), updated_at: at }).where('id', '=', row.id).execute();
  }
}

/** A world user's identities in other systems: its `<system>UserId` fields (the fixture's words). */
function userIdentities(user: Record<string, unknown>): [system: string, externalId: string][] {
  return Object.entries(user)
    .filter((entry): entry is [string, string] => entry[0].endsWith('UserId') && typeof entry[1] === 'string' && entry[1] !== '')
    .map(([field, value]) => [field.slice(0, -'UserId'.length), value]);
}
