import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GraphClient } from './client.ts';
import type { GraphEmulator } from './emulator/index.ts';
import { generateTemporaryPassword, M365ToolRunner, RECONCILE_CLOCK_MARGIN_MS, type Reconciliation, type ToolResult } from './runner.ts';
import { emulatedGraphClient, snapshotGroupId, snapshotSkuId, snapshotUser, startDemoGraphEmulator } from './testing.ts';

/**
 * Reconciliation against the emulator: for every write tool, "not done" before it runs and "done"
 * after, by reading only; the timestamps of revocations and password resets are judged against the
 * recorded intent with the clock margin.
 */

let emulator: GraphEmulator;
let client: GraphClient;
let runner: M365ToolRunner;

const ALEX = 'alex.wilber@contoso.example';
const ALLAN = 'allan.deyoung@contoso.example'; // disabled in the fixture
const DIEGO = 'diego.siciliani@contoso.example'; // authenticator and phone besides the password
const LIDIA = 'lidia.holloway@contoso.example'; // member of SG-App-Zendesk
const MIRIAM = 'miriam.graham@contoso.example'; // holds VISIOCLIENT

function ids(args: { user?: string; group?: string; sku?: string }): Record<string, string> {
  const resolved: Record<string, string> = {};
  if (args.user) resolved['user'] = snapshotUser(emulator, 'contoso', args.user).id;
  if (args.group) resolved['group'] = snapshotGroupId(emulator, 'contoso', args.group);
  if (args.sku) resolved['sku'] = snapshotSkuId(emulator, 'contoso', args.sku);
  return resolved;
}

function reconcile(tool: string, args: Record<string, string>, intentAt: Date): Promise<Reconciliation> {
  return runner.reconcile(tool, args, ids(args), intentAt);
}

function doneResult(outcome: Reconciliation): ToolResult {
  if (!outcome.done) throw new Error('expected the effect to be found');
  return outcome.result;
}

/** Effects of the emulator since the last reset, as `op target-upn object-name` lines. */
function effects(): string[] {
  return emulator.effects('contoso').map((e) => `${e.op} ${e.targetName}${e.objectName ? ` ${e.objectName}` : ''}`);
}

beforeAll(async () => {
  emulator = await startDemoGraphEmulator();
  client = emulatedGraphClient(emulator, 'contoso');
  runner = new M365ToolRunner(client);
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

const writes: { tool: string; args: Record<string, string> }[] = [
  { tool: 'm365.add_user_to_group', args: { user: ALEX, group: 'SG-App-Zendesk' } },
  { tool: 'm365.remove_user_from_group', args: { user: LIDIA, group: 'SG-App-Zendesk' } },
  { tool: 'm365.assign_license', args: { user: ALEX, sku: 'POWER_BI_PRO' } },
  { tool: 'm365.remove_license', args: { user: MIRIAM, sku: 'VISIOCLIENT' } },
  { tool: 'm365.disable_account', args: { user: ALEX } },
  { tool: 'm365.enable_account', args: { user: ALLAN } },
  { tool: 'm365.revoke_sessions', args: { user: ALEX } },
  { tool: 'm365.reset_password', args: { user: ALEX } },
  { tool: 'm365.reset_mfa', args: { user: DIEGO } },
];

describe('reconcile', () => {
  it.each(writes)('$tool: not done before it runs, done after, without a write or a secret', async ({ tool, args }) => {
    const intentAt = new Date();
    expect(await reconcile(tool, args, intentAt)).toEqual({ done: false });
    expect(emulator.effects()).toEqual([]);

    await runner.run(tool, args, ids(args));
    const effectsAfterRun = emulator.effects().length;
    expect(effectsAfterRun).toBeGreaterThan(0);

    emulator.clearRequests();
    const result = doneResult(await reconcile(tool, args, intentAt));
    expect(result.secret).toBeUndefined();
    expect(result.data).toMatchObject({ userId: ids(args)['user'], reconciled: true });
    expect(result.summary).toContain(args['user']);
    // Reads only: no new effect, and nothing but GETs went to Graph.
    expect(emulator.effects()).toHaveLength(effectsAfterRun);
    const graphCalls = emulator.requests().filter((r) => r.path.startsWith('/v1.0/'));
    expect(graphCalls.length).toBeGreaterThan(0);
    expect(graphCalls.every((r) => r.method === 'GET')).toBe(true);
  });

  it('covers every write tool of the catalog', () => {
    const writeTools = runner.toolNames.filter((name) => !/\.(get|find|list)_/.test(name));
    expect(writes.map((w) => w.tool).sort()).toEqual(writeTools.sort());
  });

  it('reads membership, licenses and account state as they are, whoever changed them', async () => {
    const intentAt = new Date();
    // Lidia is a member from the fixture: adding her is already done; removing her is not.
    expect((await reconcile('m365.add_user_to_group', { user: LIDIA, group: 'SG-App-Zendesk' }, intentAt)).done).toBe(true);
    expect((await reconcile('m365.remove_user_from_group', { user: ALEX, group: 'SG-App-Zendesk' }, intentAt)).done).toBe(true);
    expect((await reconcile('m365.assign_license', { user: MIRIAM, sku: 'VISIOCLIENT' }, intentAt)).done).toBe(true);
    expect((await reconcile('m365.disable_account', { user: ALLAN }, intentAt)).done).toBe(true);
    expect((await reconcile('m365.enable_account', { user: ALEX }, intentAt)).done).toBe(true);
  });

  it('counts a revocation or reset only from the intent on, less the clock margin', async () => {
    await runner.run('m365.revoke_sessions', { user: ALEX }, ids({ user: ALEX }));
    await runner.run('m365.reset_password', { user: ALEX }, ids({ user: ALEX }));
    const state = await client.getUserState(ids({ user: ALEX })['user']!);
    const revokedAt = Date.parse(state!.signInSessionsValidFromDateTime!);
    const changedAt = Date.parse(state!.lastPasswordChangeDateTime!);

    // Graph's time (whole seconds) a little before the recorded intent still counts...
    const justAfter = new Date(revokedAt + RECONCILE_CLOCK_MARGIN_MS - 1_000);
    expect((await reconcile('m365.revoke_sessions', { user: ALEX }, justAfter)).done).toBe(true);
    expect((await reconcile('m365.reset_password', { user: ALEX }, new Date(changedAt + RECONCILE_CLOCK_MARGIN_MS - 1_000))).done).toBe(true);
    // ...a change from well before the intent was someone else's, earlier: not this step's.
    const later = new Date(revokedAt + RECONCILE_CLOCK_MARGIN_MS + 1_000);
    expect(await reconcile('m365.revoke_sessions', { user: ALEX }, later)).toEqual({ done: false });
    expect(await reconcile('m365.reset_password', { user: ALEX }, new Date(changedAt + RECONCILE_CLOCK_MARGIN_MS + 1_000))).toEqual({ done: false });
  });

  it('is not done for an MFA reset cut short, and is never done for read tools', async () => {
    const diego = ids({ user: DIEGO })['user']!;
    const [, authenticator] = await client.listAuthMethods(diego);
    await client.deleteAuthMethod(diego, authenticator!);
    expect(await reconcile('m365.reset_mfa', { user: DIEGO }, new Date())).toEqual({ done: false });
    expect(await reconcile('m365.get_user', { user: ALEX }, new Date())).toEqual({ done: false });
  });

  it('refuses what run refuses: unknown tools, invalid arguments, missing ids', async () => {
    await expect(runner.reconcile('m365.format_disk', {}, {}, new Date())).rejects.toMatchObject({ code: 'bad_request' });
    await expect(runner.reconcile('m365.disable_account', { user: 'Alex' }, {}, new Date())).rejects.toMatchObject({ code: 'invalid_plan' });
    await expect(runner.reconcile('m365.disable_account', { user: ALEX }, {}, new Date())).rejects.toMatchObject({ code: 'invalid_plan' });
  });
});

describe('m365.reset_password with a prepared password', () => {
  it('sets the password the engine prepared and returns it as the secret, so a retry sets the same one', async () => {
    const prepared = generateTemporaryPassword();
    const result = await runner.run('m365.reset_password', { user: ALEX }, ids({ user: ALEX }), { temporaryPassword: prepared });
    expect(result.secret).toBe(prepared);
    expect(JSON.stringify({ summary: result.summary, data: result.data })).not.toContain(prepared);
    expect(snapshotUser(emulator, 'contoso', ALEX).passwordResets).toBe(1);
    // The emulator checked it (a weak one is refused) and kept it nowhere, not even in the effects log.
    await expect(runner.run('m365.reset_password', { user: ALEX }, ids({ user: ALEX }), { temporaryPassword: 'password' })).rejects.toMatchObject({
      details: { status: 400 },
    });
    expect(JSON.stringify([emulator.effects(), emulator.requests(), emulator.tenant('contoso')])).not.toContain(prepared);
    expect(effects()).toEqual([`password_reset ${ALEX}`]);
  });

  it('generates one when none is prepared', async () => {
    const result = await runner.run('m365.reset_password', { user: ALEX }, ids({ user: ALEX }));
    expect(result.secret).toHaveLength(16);
  });
});
