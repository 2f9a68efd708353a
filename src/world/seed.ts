import { sql } from 'kysely';
import { policyRefusal } from '../core/tool.ts';
import { findTool } from '../integrations/catalog.ts';
import { emulatorApiCredentials } from '../integrations/connectwise/emulator-data.ts';
import { DEVELOPMENT_LOOPBACK_SETTING } from '../integrations/http.ts';
import { emulatorAppCredentials } from '../integrations/m365/emulator-tenant.ts';
import type { Logger } from '../logger.ts';
import { randomToken, type SecretBox } from '../secrets.ts';
import { appendAudit } from '../store/audit.ts';
import { type Db, json } from '../store/db.ts';
import { hashPassword } from '../store/users.ts';
import type { World } from './fixture.ts';

/** The password every demo user signs in with (stated in the README). */
export const DEMO_PASSWORD = 'deskhand-demo';

export interface EmulatorEndpoints {
  /** ConnectWise site URL (e.g. http://127.0.0.1:PORT). */
  connectwise: string;
  /** Microsoft Graph base URL including /v1.0. */
  graph: string;
  /** Microsoft identity platform base URL (token endpoint host). */
  login: string;
}

/**
 * The settings that mark an integration as pointing at a built-in emulator: `emulated` (moved to the
 * emulators' current addresses on every start) and the development setting that lets its base URLs
 * be http:// on loopback, where the emulators listen (src/integrations/http.ts, baseUrlProblem). Only
 * this file writes them; no API does.
 */
const EMULATED = { emulated: true, [DEVELOPMENT_LOOPBACK_SETTING]: true } as const;

/**
 * Load the demo world into an empty database: MSPs, users (demo password), clients, their
 * integrations pointing at the built-in emulators (credentials encrypted), the fixture's tool
 * policies, and runbooks. Runs once; later starts only point the emulated integrations at the
 * emulators' current addresses.
 */
export async function seedDemoWorld(
  db: Db,
  input: { world: World; secrets: SecretBox; endpoints: EmulatorEndpoints; at: Date; logger: Logger },
): Promise<{ seeded: boolean }> {
  checkToolPolicies(input.world);
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  return db.transaction().execute(async (tx) => {
    // One loader at a time: several processes may start on the same database.
    await sql`select pg_advisory_xact_lock(4242001)`.execute(tx);
    const done = await tx.selectFrom('settings').select('value').where('key', '=', 'demo_world').executeTakeFirst();
    if (done) return { seeded: false };
    const { world, secrets, endpoints, at } = input;
    for (const msp of world.msps) {
      await tx.insertInto('msps').values({ id: msp.id, name: msp.name, default_operating_mode: msp.defaultOperatingMode, created_at: at }).execute();
      for (const user of msp.users) {
        await tx
          .insertInto('users')
          .values({
            id: crypto.randomUUID(),
            msp_id: msp.id,
            email: user.email.toLowerCase(),
            name: user.name,
            role: user.role as 'msp_admin' | 'msp_technician' | 'msp_billing',
            password_hash: passwordHash,
            slack_user_id: user.slackUserId ?? null,
            created_at: at,
          })
          .execute();
      }
      if (msp.psa === 'connectwise') {
        const credentials = emulatorApiCredentials(msp.id);
        await tx
          .insertInto('integrations')
          .values({
            id: crypto.randomUUID(),
            msp_id: msp.id,
            client_id: null,
            kind: 'connectwise',
            name: `ConnectWise Manage (${msp.name})`,
            config: json({
              siteUrl: endpoints.connectwise,
              codebase: 'v4_6_release/',
              companyId: credentials.companyId,
              publicKey: credentials.publicKey,
              apiMemberIdentifier: credentials.memberIdentifier,
              ...EMULATED,
            }),
            secrets_encrypted: secrets.encryptJson({ privateKey: credentials.privateKey, clientId: credentials.clientId, webhookSecret: randomToken(24) }),
            created_at: at,
            updated_at: at,
          })
          .execute();
      }
    }
    for (const client of world.clients) {
      const clientId = crypto.randomUUID();
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
          psa_company_identifier: client.id,
          created_at: at,
        })
        .execute();
      const app = emulatorAppCredentials(client.id);
      const integrationId = crypto.randomUUID();
      await tx
        .insertInto('integrations')
        .values({
          id: integrationId,
          msp_id: client.msp,
          client_id: clientId,
          kind: 'm365',
          name: `Microsoft 365 (${client.name})`,
          config: json({ tenantId: app.tenantId, clientId: app.clientId, graphBaseUrl: endpoints.graph, loginBaseUrl: endpoints.login, ...EMULATED }),
          secrets_encrypted: secrets.encryptJson({ clientSecret: app.clientSecret }),
          created_at: at,
          updated_at: at,
        })
        .execute();
      for (const [tool, policy] of Object.entries(client.toolPolicies ?? {})) {
        await tx
          .insertInto('tool_policies')
          .values({
            integration_id: integrationId,
            tool,
            policy: policy.policy,
            require_manager_approval: policy.requireManagerApproval === true,
            updated_at: at,
            updated_by: 'demo world',
          })
          .execute();
      }
      for (const runbook of client.runbooks) {
        await tx.insertInto('runbooks').values({ id: crypto.randomUUID(), client_id: clientId, title: runbook.title, body: runbook.body, source: 'demo world' }).execute();
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
 * A world's tool policies are held to the same rules as the policy API: each names a tool of the
 * client's Microsoft 365 integration, and none asks for a policy a tool cannot have (a tool whose
 * result is a secret for the approving technician is never `auto`). Refused before anything loads.
 */
function checkToolPolicies(world: World): void {
  const problems: string[] = [];
  for (const client of world.clients) {
    for (const [name, policy] of Object.entries(client.toolPolicies ?? {})) {
      const tool = findTool(name);
      if (!tool || tool.integration !== 'm365') {
        problems.push(`client ${client.id}: ${name} is not a tool of its Microsoft 365 integration`);
        continue;
      }
      const refusal = policyRefusal(tool, policy.policy);
      if (refusal) problems.push(`client ${client.id}: ${refusal}`);
    }
  }
  if (problems.length > 0) throw new Error(`the world's tool policies cannot be loaded: ${problems.join('; ')}`);
}

/**
 * Point the emulated integrations at the emulators' current addresses (they move between runs); a
 * world loaded before the development setting existed gets it here.
 */
export async function pointAtEmulators(db: Db, endpoints: EmulatorEndpoints, at: Date): Promise<void> {
  const rows = await db.selectFrom('integrations').select(['id', 'kind', 'config']).execute();
  for (const row of rows) {
    const config = row.config as Record<string, unknown>;
    if (config['emulated'] !== true) continue;
    const next =
      row.kind === 'connectwise'
        ? { ...config, siteUrl: endpoints.connectwise, ...EMULATED }
        : row.kind === 'm365'
          ? { ...config, graphBaseUrl: endpoints.graph, loginBaseUrl: endpoints.login, ...EMULATED }
          : config;
    if (JSON.stringify(next) === JSON.stringify(config)) continue;
    await db.updateTable('integrations').set({ config: json(next), updated_at: at }).where('id', '=', row.id).execute();
  }
}
