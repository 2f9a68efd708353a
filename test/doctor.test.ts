import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { type DoctorOutput, runDoctor } from '../src/integrations/doctor.ts';
import { requiredGrants } from '../src/integrations/m365/requirements.ts';
import { m365Tools } from '../src/integrations/m365/tools.ts';
import { silentLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * `deskhand doctor` against the demo world: every Microsoft 365 tool of every tenant is green; an
 * emulated tenant whose app lost a role or a permission shows the tools that would fail, with the
 * fix. Run in-process and as the command a user types (`--json`: one object, non-zero exit when not ok).
 */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'deskhand.js');
const secretKey = randomBytes(32);
let sb: Sandbox;
let databaseUrl = '';
let dataDir = '';

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  dataDir = mkdtempSync(path.join(tmpdir(), 'deskhand-doctor-'));
  sb = await startSandbox({ databaseUrl, logger: silentLogger, secretKey });
}, 120_000);

afterAll(async () => {
  await sb?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

afterEach(() => {
  sb.emulators.graph.reset();
});

const doctor = () => runDoctor({ db: sb.service.ctx.db, registry: sb.service.ctx.integrations, logger: silentLogger });
const m365Lines = (output: DoctorOutput) => output.tools.filter((t) => t.kind === 'm365');
const line = (output: DoctorOutput, client: string, tool: string) => m365Lines(output).find((t) => t.client === client && t.tool === tool);

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, DESKHAND_SECRET_KEY: secretKey.toString('hex'), DESKHAND_DATA_DIR: dataDir, DESKHAND_LOG_LEVEL: 'warn' };
  delete env['DESKHAND_PREVIOUS_SECRET_KEY'];
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: repoRoot, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('deskhand doctor', () => {
  it('reports every Microsoft 365 tool of every client tenant green against the emulators', async () => {
    const output = await doctor();
    const clients = new Set(m365Lines(output).map((t) => t.client));
    // Contoso, Fabrikam and Litware through apps of their own; Adatum through Tailspin's multi-tenant app.
    expect(clients).toEqual(new Set(['Contoso Ltd', 'Fabrikam Inc', 'Adatum Corporation', 'Litware Inc']));
    expect(m365Lines(output)).toHaveLength(4 * m365Tools.length);
    expect(m365Lines(output).filter((t) => t.status !== 'ok')).toEqual([]);
    const m365 = output.integrations.filter((i) => i.kind === 'm365');
    expect(m365.every((i) => i.checked && i.ok)).toBe(true);
    expect(m365.flatMap((i) => i.checks).filter((c) => !c.ok)).toEqual([]);
    const contoso = m365.find((i) => i.client?.name === 'Contoso Ltd')!;
    expect(contoso.checks.find((c) => c.name.startsWith('Entra roles'))?.detail).toBe('User Administrator');
    // Every integration of the demo world has a doctor, and every one of them is green (the PSAs too).
    expect(output.integrations.filter((i) => !i.checked || !i.ok).map((i) => i.name)).toEqual([]);
    expect(output.tools.filter((t) => t.kind !== 'm365').length).toBeGreaterThan(0);
    expect(output.ok).toBe(true);
    expect(contoso.checks.find((c) => c.name.startsWith('Entra role Privileged Authentication Administrator (optional)'))?.detail).toContain('not granted');
  });

  it('shows m365.reset_password missing, with the fix, in a tenant whose app lost User Administrator', async () => {
    sb.emulators.graph.setGrants('contoso', { roles: [] });
    const output = await doctor();
    expect(output.ok).toBe(false);
    const reset = line(output, 'Contoso Ltd', 'm365.reset_password');
    expect(reset).toMatchObject({ status: 'missing', missing: [expect.objectContaining({ name: 'Entra role User Administrator', ok: false })] });
    expect(reset?.missing[0]?.fix).toContain("assign the Entra role User Administrator to the app's service principal");
    expect(m365Lines(output).filter((t) => t.status !== 'ok').map((t) => `${t.client} ${t.tool}`)).toEqual(['Contoso Ltd m365.reset_password']);
  });

  it('shows the membership tools missing in a tenant whose app holds no Exchange role, and only there', async () => {
    sb.emulators.graph.exchange.setAccess('litware', { role: null });
    const output = await doctor();
    expect(output.ok).toBe(false);
    const missing = m365Lines(output).filter((t) => t.status !== 'ok');
    expect(missing.map((t) => `${t.client} ${t.tool}`).sort()).toEqual(['Litware Inc m365.add_user_to_group', 'Litware Inc m365.remove_user_from_group']);
    expect(missing[0]?.missing.some((c) => /Exchange/.test(c.name) && /Exchange Administrator/.test(c.fix ?? ''))).toBe(true);
  });

  it('names each missing Graph permission with its admin consent link, per tool and tenant', async () => {
    sb.emulators.graph.setGrants('adatum', { permissions: requiredGrants().permissions.filter((p) => p !== 'GroupMember.ReadWrite.All') });
    const output = await doctor();
    const missing = m365Lines(output).filter((t) => t.status !== 'ok');
    expect(missing.map((t) => `${t.client} ${t.tool}`).sort()).toEqual(['Adatum Corporation m365.add_user_to_group', 'Adatum Corporation m365.remove_user_from_group']);
    expect(missing[0]?.missing[0]?.fix).toMatch(/GroupMember\.ReadWrite\.All .*admin consent: https:\/\/login\.microsoftonline\.com\/[0-9a-f-]+\/adminconsent\?client_id=/);
  });

  it('says what it could not check when the app may not read its own service principal', async () => {
    sb.emulators.graph.setGrants('fabrikam', { permissions: requiredGrants().permissions.filter((p) => p !== 'Application.Read.All') });
    const output = await doctor();
    const fabrikam = m365Lines(output).filter((t) => t.client === 'Fabrikam Inc');
    expect(fabrikam.every((t) => t.status === 'error')).toBe(true);
    expect(fabrikam[0]?.missing[0]).toMatchObject({ name: 'Graph application permission Application.Read.All', ok: false });
  });

  it('prints one JSON object with --json, and exits non-zero when something is missing', async () => {
    const green = await cli(['doctor', '--json']);
    expect(green.code, green.stderr).toBe(0);
    const output = JSON.parse(green.stdout.trim().split('\n').pop()!) as DoctorOutput;
    expect(output.ok).toBe(true);
    expect(output.tools).toContainEqual(expect.objectContaining({ kind: 'm365', tool: 'm365.reset_password', client: 'Contoso Ltd', status: 'ok', missing: [] }));

    sb.emulators.graph.setGrants('contoso', { roles: [] });
    const red = await cli(['doctor']);
    expect(red.code).toBe(1);
    expect(red.stdout).toMatch(/MISSING m365\.reset_password\n\s+needs Entra role User Administrator/);
    expect(red.stdout).toContain('fix: assign the Entra role User Administrator');
  }, 120_000);
});
