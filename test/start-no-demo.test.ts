import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/db.ts';
import { isAlive, processesIn, waitFor } from './support/processes.ts';
import { tokenOf, WebSession } from './support/web-session.ts';

/**
 * `deskhand start --no-demo` as a new MSP runs it (issue 11): the emulators run, nothing is seeded,
 * the banner says where the emulators are and prints the one-time setup link, which sets the MSP
 * up; a later plain `deskhand start` on that database loads no demo world beside it.
 */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'deskhand.js');
const root = mkdtempSync(path.join(tmpdir(), 'deskhand-no-demo-test-'));
chmodSync(root, 0o755);
const dataDir = path.join(root, 'data');

let env: NodeJS.ProcessEnv;
const running: { child: ChildProcess; stdout: string; stderr: string }[] = [];

beforeAll(async () => {
  env = { ...process.env, DESKHAND_DATA_DIR: dataDir, PORT: '0', DESKHAND_LOG_LEVEL: 'warn', DATABASE_URL: await createTestDatabase() };
  delete env['DESKHAND_SECRET_KEY'];
  delete env['DESKHAND_PUBLIC_URL'];
});

afterAll(async () => {
  for (const { child } of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await waitFor('the starts to stop', () => running.every(({ child }) => child.exitCode !== null || child.signalCode !== null), 15_000).catch(() => {});
  for (const { pid } of processesIn(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  rmSync(root, { recursive: true, force: true });
}, 60_000);

/** `deskhand start <args>` until its banner is out; its base URL (loopback) and what it printed. */
async function startDeskhand(args: string[]): Promise<{ base: string; out: { child: ChildProcess; stdout: string; stderr: string } }> {
  const child = spawn(process.execPath, [bin, 'start', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { child, stdout: '', stderr: '' };
  running.push(out);
  child.stdout?.on('data', (chunk: Buffer) => {
    out.stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out.stderr += chunk.toString('utf8');
  });
  await waitFor(
    '`deskhand start` to print its banner',
    () => {
      if (child.exitCode !== null) throw new Error(`deskhand start exited (${child.exitCode}): ${out.stderr}`);
      return /stop with Ctrl-C/.test(out.stdout);
    },
    90_000,
  );
  const printed = new URL(/deskhand is running: (\S+)/.exec(out.stdout)![1]!);
  return { base: `http://127.0.0.1:${printed.port}`, out };
}

async function stop(out: { child: ChildProcess }): Promise<void> {
  out.child.kill('SIGTERM');
  await waitFor('deskhand start to stop', () => out.child.exitCode !== null || out.child.signalCode !== null, 15_000);
}

describe('deskhand start --no-demo', () => {
  let link = '';

  it('runs the emulators, seeds nothing, and prints where the emulators are and the setup link', async () => {
    const { base, out } = await startDeskhand(['--no-demo']);
    expect(out.stdout).toMatch(/emulators \(no demo world loaded/);
    expect(out.stdout).toMatch(/ConnectWise emulator: http:\/\/127\.0\.0\.1:\d+/);
    expect(out.stdout).not.toContain('deskhand-demo');
    link = /(\S+\/setup#token=\S+)/.exec(out.stdout)?.[1] ?? '';
    expect(link).not.toBe('');
    const emulators = JSON.parse(readFileSync(path.join(dataDir, 'emulators.json'), 'utf8')) as { pid: number };
    expect(isAlive(emulators.pid)).toBe(true);
    const browser = new WebSession(base);
    expect((await browser.call('GET', '/api/setup')).body).toEqual({ needed: true, demo: null });
    const setup = await browser.call<{ user: { mspId: string } }>('POST', '/api/setup', {
      token: tokenOf(link),
      mspName: 'Contoso Partners',
      admin: { name: 'Cam Admin', email: 'cam@contoso-partners.example', password: 'cam has a long password' },
    });
    expect(setup.status).toBe(200);
    expect(setup.body.user.mspId).toBe('contoso-partners');
    await stop(out);
  }, 120_000);

  it('a later plain start loads no demo world into a database set up by hand, and prints no setup link', async () => {
    const { base, out } = await startDeskhand([]);
    expect(out.stdout).toContain('the demo world was not loaded: this database already has an MSP of its own');
    expect(out.stdout).not.toContain('/setup#token=');
    expect(out.stdout).not.toContain('deskhand-demo');
    expect((await new WebSession(base).call('GET', '/api/setup')).body).toEqual({ needed: false, demo: null });
    expect(await new WebSession(base).signIn('cam@contoso-partners.example', 'cam has a long password')).toBe(200);
    expect(await new WebSession(base).signIn('ava.chen@northwind-it.example', 'deskhand-demo')).toBe(401);
    await stop(out);
  }, 120_000);
});
