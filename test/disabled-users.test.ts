import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { silentLogger } from '../src/logger.ts';
import { createSession, issueApiToken } from '../src/store/users.ts';
import { DEMO_PASSWORD } from '../src/world/seed.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * A disabled user's sessions and API tokens end: disabling through `deskhand user disable` signs them
 * out everywhere, and enabling them again (`deskhand user enable`) does not bring an old session or
 * token back; they sign in afresh.
 */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'deskhand.js');
const PRIYA = 'priya.nair@northwind-it.example';
let sb: Sandbox;
let databaseUrl: string;
let dataDir: string;

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  sb = await startSandbox({ databaseUrl, logger: silentLogger });
  dataDir = mkdtempSync(path.join(tmpdir(), 'deskhand-disable-'));
  chmodSync(dataDir, 0o755);
}, 120_000);

afterAll(async () => {
  await sb?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function deskhand(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, DESKHAND_DATA_DIR: dataDir, DESKHAND_LOG_LEVEL: 'warn' };
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: repoRoot, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function signIn(email: string): Promise<{ status: number; cookie: string | null }> {
  const response = await fetch(`${sb.service.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: DEMO_PASSWORD }) });
  const setCookie = response.headers.get('set-cookie');
  return { status: response.status, cookie: setCookie ? setCookie.split(';')[0]! : null };
}

async function me(credentials: { cookie?: string; token?: string }): Promise<number> {
  const headers: Record<string, string> = {};
  if (credentials.cookie) headers['cookie'] = credentials.cookie;
  if (credentials.token) headers['authorization'] = `Bearer ${credentials.token}`;
  return (await fetch(`${sb.service.url}/api/me`, { headers })).status;
}

describe('disabling a user', () => {
  it('ends their sessions and API tokens; enabling them again revives neither', async () => {
    const { cookie } = await signIn(PRIYA);
    const token = await sb.tokenFor(PRIYA);
    expect(await me({ cookie: cookie! })).toBe(200);
    expect(await me({ token })).toBe(200);

    const disabled = await deskhand(['user', 'disable', '--email', 'Priya.Nair@northwind-it.example']);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(JSON.parse(disabled.stdout.trim().split('\n').pop()!)).toMatchObject({ email: PRIYA, disabled: true, sessionsEnded: 1, tokensRevoked: 1 });
    expect(await me({ cookie: cookie! })).toBe(401);
    expect(await me({ token })).toBe(401);
    expect((await signIn(PRIYA)).status).toBe(401);
    const user = await sb.service.ctx.db.selectFrom('users').select(['id', 'disabled']).where('email', '=', PRIYA).executeTakeFirstOrThrow();
    expect(user.disabled).toBe(true);
    expect(await sb.service.ctx.db.selectFrom('sessions').select('id_hash').where('user_id', '=', user.id).execute()).toEqual([]);
    const tokens = await sb.service.ctx.db.selectFrom('api_tokens').select('revoked_at').where('user_id', '=', user.id).execute();
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.every((t) => t.revoked_at !== null)).toBe(true);
    // Nothing creates a new session or token for a disabled user (a sign-in racing the disable included).
    await expect(createSession(sb.service.ctx.db, user.id, new Date())).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(issueApiToken(sb.service.ctx.db, { email: PRIYA, name: 'late', at: new Date() })).rejects.toMatchObject({ code: 'conflict' });
    expect(await sb.service.ctx.db.selectFrom('sessions').select('id_hash').where('user_id', '=', user.id).execute()).toEqual([]);

    const enabled = await deskhand(['user', 'enable', '--email', PRIYA]);
    expect(enabled.code, enabled.stderr).toBe(0);
    expect(JSON.parse(enabled.stdout.trim().split('\n').pop()!)).toMatchObject({ email: PRIYA, disabled: false });
    expect(await me({ cookie: cookie! })).toBe(401);
    expect(await me({ token })).toBe(401);
    const again = await signIn(PRIYA);
    expect(again.status).toBe(200);
    expect(await me({ cookie: again.cookie! })).toBe(200);

    const audit = await sb.service.ctx.db.selectFrom('audit_log').select(['event', 'actor']).where('msp_id', '=', 'northwind').where('event', 'in', ['user.disabled', 'user.enabled']).orderBy('seq').execute();
    expect(audit.map((a) => a.event)).toEqual(['user.disabled', 'user.enabled']);
  }, 120_000);

  it('answers an unknown email with a clear error and a non-zero exit', async () => {
    const result = await deskhand(['user', 'disable', '--email', 'nobody@northwind-it.example']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('no user with the email nobody@northwind-it.example');
  }, 60_000);
});
