import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../src/core/clock.ts';
import { startSandbox, type Sandbox } from '../../src/demo/sandbox.ts';
import { FINAL } from '../../src/demo/stories.ts';
import { mailMarker } from '../../src/integrations/m365/client.ts';
import { silentLogger } from '../../src/logger.ts';
import { KEY_FILE_NAME, KeyFile, type KeySource, Keyring, keyId, keyringFromEnvironment, readKeyFile, SecretBox } from '../../src/secrets.ts';
import { verifyAuditChain } from '../../src/store/audit.ts';
import type { ApprovalRow } from '../../src/store/schema.ts';
import { createTestDatabase } from '../support/db.ts';
import { waitFor } from '../support/processes.ts';

/**
 * Key rotation as an operator runs it: `deskhand secrets rotate` in a child process on the database
 * of a running deskhand (a sandbox with the emulators and the demo world), whose stored credentials
 * were written by the first version (no key ids), with a temporary password held for a technician,
 * a manager mail waiting in the outbox and its manager approval pending. The rotation is killed
 * (SIGKILL) right after it wrote the new key and again after three committed rows, and rerun; the
 * service keeps talking to the emulators throughout, the old manager link works, and the old key
 * leaves the key file once nothing needs it. Then the same with the key in DESKHAND_SECRET_KEY,
 * and `deskhand audit-verify` catching an audit row edited in the database.
 */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'deskhand.js');
const root = mkdtempSync(path.join(tmpdir(), 'deskhand-rotation-'));
chmodSync(root, 0o755);
const dataDir = path.join(root, 'data');
const keyFile = path.join(dataDir, KEY_FILE_NAME);
const TOM = 'tom.rivera@northwind-it.example';

let sb: Sandbox;
let databaseUrl: string;
/** The service's keys, as it would read them at start: the key file, or (after a "restart") a ring from the environment. */
let serviceKeys: KeySource;
let firstKey: Buffer;

/** A ciphertext exactly as the first version wrote it (no key id). */
function v1Encrypt(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `v1.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
}

function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, DESKHAND_DATA_DIR: dataDir, DESKHAND_LOG_LEVEL: 'warn', ...extra };
  if (!extra['DESKHAND_SECRET_KEY']) delete env['DESKHAND_SECRET_KEY'];
  if (!extra['DESKHAND_PREVIOUS_SECRET_KEY']) delete env['DESKHAND_PREVIOUS_SECRET_KEY'];
  return env;
}

function deskhand(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; json: Record<string, unknown> | null }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: repoRoot, env: cliEnv(extra), timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      const last = stdout.trim().split('\n').at(-1) ?? '';
      let json: Record<string, unknown> | null = null;
      try {
        json = JSON.parse(last) as Record<string, unknown>;
      } catch {}
      resolve({ code, stdout, stderr, json });
    });
  });
}

/** Start `deskhand secrets rotate` with the test hook, wait until it stops after `rows` committed rows, and SIGKILL it. */
async function rotateAndKill(rows: number): Promise<string> {
  const child: ChildProcess = spawn(process.execPath, [bin, 'secrets', 'rotate', '--batch-size', '1'], {
    cwd: repoRoot,
    env: cliEnv({ DESKHAND_TEST_ROTATION_STOP_AFTER: String(rows) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  try {
    await waitFor(
      `the rotation to stop after ${rows} rows`,
      () => {
        if (child.exitCode !== null) throw new Error(`the rotation exited (${child.exitCode}) before it was killed: ${stderr}`);
        return stderr.includes(`stopped after ${rows} rows`);
      },
      90_000,
    );
  } finally {
    child.kill('SIGKILL');
  }
  await waitFor('the killed rotation to be gone', () => child.signalCode !== null || child.exitCode !== null, 10_000);
  expect(child.signalCode).toBe('SIGKILL');
  return stderr;
}

interface StoredBox {
  place: string;
  id: string;
  box: string;
}

/** Every ciphertext in the database's known places, read with plain SQL (not through the code under test). */
async function storedBoxes(): Promise<StoredBox[]> {
  const db = sb.service.ctx.db;
  const rows = await sql<StoredBox>`
    SELECT 'integrations' AS place, id::text AS id, secrets_encrypted AS box FROM integrations WHERE secrets_encrypted IS NOT NULL
    UNION ALL SELECT 'step_executions', id::text, secret_encrypted FROM step_executions WHERE secret_encrypted IS NOT NULL
    UNION ALL SELECT 'outbox', id::text, payload ->> 'textBox' FROM outbox WHERE payload ->> 'textBox' IS NOT NULL`.execute(db);
  return rows.rows;
}

const keyOfBox = (box: string) => (box.startsWith('v2.') ? box.split('.')[1]! : 'v1');

function countByKey(boxes: StoredBox[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const b of boxes) counts[keyOfBox(b.box)] = (counts[keyOfBox(b.box)] ?? 0) + 1;
  return counts;
}

/**
 * Ciphertexts anywhere else in the database (any text or jsonb column of any table): a place the
 * rotation does not know would keep secrets under a key that is about to be dropped.
 */
async function boxesOutsideKnownPlaces(): Promise<string[]> {
  const db = sb.service.ctx.db;
  const columns = await sql<{ table_name: string; column_name: string }>`
    SELECT c.table_name, c.column_name FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
    WHERE c.table_schema = current_schema() AND c.data_type IN ('text', 'jsonb', 'json', 'character varying')`.execute(db);
  const pattern = 'v[12]\\.([0-9a-f]{12}\\.)?[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]{22}\\.';
  const found: string[] = [];
  for (const { table_name: table, column_name: column } of columns.rows) {
    const place = `${table}.${column}`;
    if (place === 'integrations.secrets_encrypted' || place === 'step_executions.secret_encrypted') continue;
    // The outbox payload's textBox is a known place; the rest of the payload is not.
    const value = place === 'outbox.payload' ? sql`(payload - 'textBox')::text` : sql`${sql.ref(column)}::text`;
    const hit = await sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql.table(table)} WHERE ${value} ~ ${pattern}`.execute(db);
    if (Number(hit.rows[0]?.n) > 0) found.push(place);
  }
  return found;
}

async function approvalsOf(requestId: string): Promise<{ technician: ApprovalRow; manager: ApprovalRow }> {
  const approvals = await sb.service.ctx.db.selectFrom('approvals').selectAll().where('request_id', '=', requestId).execute();
  return { technician: approvals.find((a) => a.kind === 'technician')!, manager: approvals.find((a) => a.kind === 'manager')! };
}

async function technicianApproves(approval: ApprovalRow): Promise<number> {
  const decided = await sb.api('POST', `/api/approvals/${approval.id}/decision`, { token: await sb.tokenFor(TOM), body: { decision: 'approve', planHash: approval.plan_hash } });
  return decided.status;
}

/** The path of the link in the manager mail of a request, once the mail reached the Graph emulator. */
function managerLink(requestId: string): string | null {
  const marker = `[ref ${mailMarker(`${requestId}:manager-mail`)}]`;
  const mail = sb.emulators.graph.mail().find((m) => m.subject.includes(marker));
  const link = mail?.content.match(/https?:\/\/\S+\/approvals\/manager\/\S+/)?.[0];
  return link ? new URL(link).pathname : null;
}

async function managerDecides(linkPath: string): Promise<number> {
  const response = await fetch(`${sb.service.url}${linkPath}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' });
  await response.text();
  return response.status;
}

/** A password reset: needs a technician and the manager (Contoso's policy); returns the request once it waits. */
async function passwordResetWaiting(upn: string): Promise<string> {
  const ticket = await sb.openTicket('contoso', upn, "My password slipped my mind and I'm locked out today.");
  const request = await sb.requestForTicket(ticket);
  const waiting = await sb.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 30_000);
  expect(waiting.state, `${upn}: ${waiting.last_error}`).toBe('awaiting_approval');
  return request.id;
}

/** A request that runs at once (revoke_sessions is auto at Contoso): the PSA webhook, Graph and the reply all need decrypted credentials. */
async function autoRequestReplies(upn: string): Promise<void> {
  const ticket = await sb.openTicket('contoso', upn, 'I stayed signed in on a shared computer, please sign me out everywhere.');
  const request = await sb.requestForTicket(ticket);
  const final = await sb.waitForRequest(request.id, FINAL, 30_000);
  expect(`${final.state}/${final.outcome}`, final.last_error ?? '').toBe('replied/executed');
  await sb.waitForDelivered(request.id, 30_000);
}

let r1 = '';
let r2 = '';
let totalBoxes = 0;
let newKeyId = '';

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  // The key file as the first version created it: one key, one line, mode 0600.
  const file = await KeyFile.open(keyFile);
  firstKey = file.keyring().current.key;
  serviceKeys = file;
  sb = await startSandbox({
    databaseUrl,
    logger: silentLogger,
    secretKey: { keyring: () => serviceKeys.keyring() },
    worker: { concurrency: 2, pollMs: 200, sweepMs: HOUR_MS },
  });
}, 120_000);

afterAll(async () => {
  await sb?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('before the rotation', () => {
  it('has credentials written by the first version, a temporary password held and a manager mail waiting with its approval', async () => {
    const db = sb.service.ctx.db;
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(firstKey.toString('base64'));
    // The credentials as the first version stored them: no key id.
    const box = new SecretBox(firstKey);
    for (const row of await db.selectFrom('integrations').select(['id', 'secrets_encrypted']).where('secrets_encrypted', 'is not', null).execute()) {
      await db.updateTable('integrations').set({ secrets_encrypted: v1Encrypt(firstKey, box.decrypt(row.secrets_encrypted!)) }).where('id', '=', row.id).execute();
    }

    // R1: a password reset approved by both; its temporary password waits for the technician.
    r1 = await passwordResetWaiting('joni.sherman@contoso.example');
    await sb.waitForDelivered(r1, 30_000);
    const first = await approvalsOf(r1);
    expect(await technicianApproves(first.technician)).toBe(200);
    expect(await managerDecides(managerLink(r1)!)).toBe(200);
    const done = await sb.waitForRequest(r1, FINAL, 30_000);
    expect(`${done.state}/${done.outcome}`, done.last_error ?? '').toBe('replied/executed');

    // R2: the manager's mail fails once with Retry-After of an hour, so it waits in the outbox (encrypted).
    sb.emulators.graph.injectFault({ status: 503, pathContains: '/sendMail', retryAfterSeconds: 3600 });
    r2 = await passwordResetWaiting('debra.berger@contoso.example');
    await waitFor('the manager mail to fail once and wait', async () => {
      const mail = await db.selectFrom('outbox').select(['status', 'attempts']).where('request_id', '=', r2).where('kind', '=', 'identity.mail').executeTakeFirst();
      return mail?.status === 'pending' && mail.attempts >= 1;
    });
    expect((await approvalsOf(r2)).manager.status).toBe('pending');

    const boxes = await storedBoxes();
    totalBoxes = boxes.length;
    const counts = countByKey(boxes);
    const integrations = await db.selectFrom('integrations').select('id').where('secrets_encrypted', 'is not', null).execute();
    expect(integrations.length).toBeGreaterThanOrEqual(4);
    expect(counts['v1']).toBe(integrations.length);
    expect(counts[keyId(firstKey)]).toBe(2);
    expect(boxes.filter((b) => b.place === 'step_executions')).toHaveLength(1);
    expect(boxes.filter((b) => b.place === 'outbox')).toHaveLength(1);
    expect(await boxesOutsideKnownPlaces()).toEqual([]);
  }, 180_000);
});

describe('deskhand secrets rotate, killed half-way and rerun', () => {
  it('killed right after writing the new key: the key file holds both keys, the new one current, and nothing is lost', async () => {
    await rotateAndKill(0);
    const ring = readKeyFile(keyFile);
    expect(ring.keys).toHaveLength(2);
    newKeyId = ring.current.id;
    expect(newKeyId).not.toBe(keyId(firstKey));
    expect(ring.earlier[0]!.id).toBe(keyId(firstKey));
    expect(ring.unfinishedRotation?.to).toBe(newKeyId);
    // Every stored secret still opens with the keys the service reads.
    for (const b of await storedBoxes()) expect(() => sb.service.ctx.secrets.decrypt(b.box), `${b.place} ${b.id}`).not.toThrow();
  }, 120_000);

  it('rerun and killed after three committed rows: it finishes the same rotation (no third key), three rows are under the new key, all still open', async () => {
    const stderr = await rotateAndKill(3);
    expect(stderr).toContain(`finishing the rotation to key ${newKeyId}`);
    const ring = readKeyFile(keyFile);
    expect(ring.keys.map((k) => k.id)).toEqual([newKeyId, keyId(firstKey)]);
    expect(ring.unfinishedRotation?.to).toBe(newKeyId);
    const boxes = await storedBoxes();
    expect(boxes).toHaveLength(totalBoxes);
    expect(countByKey(boxes)[newKeyId]).toBe(3);
    for (const b of boxes) expect(() => sb.service.ctx.secrets.decrypt(b.box), `${b.place} ${b.id}`).not.toThrow();
  }, 120_000);

  it('rerun to the end: every stored secret is under the new key, the rotation is finished, and the old key is kept for its manager link', async () => {
    const result = await deskhand(['secrets', 'rotate', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const reencrypted = result.json?.['reencrypted'] as Record<string, number>;
    expect(result.json).toMatchObject({ ok: true, source: 'file', keyId: newKeyId, resumed: true, droppedKeys: [] });
    expect(reencrypted['integrations']! + reencrypted['step_executions']! + reencrypted['outbox']!).toBe(totalBoxes - 3);
    const boxes = await storedBoxes();
    expect(countByKey(boxes)).toEqual({ [newKeyId]: totalBoxes });
    expect(await boxesOutsideKnownPlaces()).toEqual([]);
    const ring = readKeyFile(keyFile);
    expect(ring.unfinishedRotation).toBeNull();
    expect(ring.rotation?.finishedAt).toBeInstanceOf(Date);
    expect(ring.keys.map((k) => k.id)).toEqual([newKeyId, keyId(firstKey)]);
    // Kept: it stopped being current only now (and a pending manager approval's link was signed with it).
    expect(result.json?.['earlierKeys']).toEqual([expect.objectContaining({ id: keyId(firstKey) })]);
    // The key itself is in no output.
    for (const k of ring.keys) expect(result.stdout + result.stderr).not.toContain(k.key.toString('base64'));
  }, 120_000);

  it('prune keeps the old key while the manager approval whose link it signed is pending, even with no grace period', async () => {
    const pruned = await deskhand(['secrets', 'prune', '--json'], { DESKHAND_TEST_KEY_GRACE_MS: '0' });
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.json?.['droppedKeys']).toEqual([]);
    const kept = ((pruned.json?.['earlierKeys'] ?? []) as { id: string; reasons: string[] }[])[0]!;
    expect(kept.id).toBe(keyId(firstKey));
    expect(kept.reasons.join()).toMatch(/1 pending manager approval was created while it signed links/);
    expect(readKeyFile(keyFile).keys).toHaveLength(2);
  }, 60_000);
});

describe('the service after the rotation', () => {
  it('talks to the emulators with the re-encrypted credentials: a new ticket comes in through the webhook and is carried out', async () => {
    await autoRequestReplies('megan.bowen@contoso.example');
  }, 120_000);

  it('delivers the waiting manager mail (re-encrypted); its link, signed with the old key, still works; the reset runs', async () => {
    sb.clock.advance(HOUR_MS + 60_000);
    await waitFor('the manager mail to be delivered', () => managerLink(r2) !== null, 30_000);
    const link = managerLink(r2)!;
    const page = await fetch(`${sb.service.url}${link}`);
    expect(page.status).toBe(200);
    await page.text();
    const { technician } = await approvalsOf(r2);
    expect(await technicianApproves(technician)).toBe(200);
    expect(await managerDecides(link)).toBe(200);
    const done = await sb.waitForRequest(r2, FINAL, 30_000);
    expect(`${done.state}/${done.outcome}`, done.last_error ?? '').toBe('replied/executed');
    // The new temporary password is under the new key: new ciphertexts carry the new key id.
    const step = await sb.service.ctx.db.selectFrom('step_executions').select('secret_encrypted').where('request_id', '=', r2).where('secret_encrypted', 'is not', null).executeTakeFirstOrThrow();
    expect(step.secret_encrypted!.startsWith(`v2.${newKeyId}.`)).toBe(true);
  }, 120_000);

  it('shows the temporary password held since before the rotation to the technician who approved', async () => {
    const step = await sb.service.ctx.db.selectFrom('step_executions').select('step_index').where('request_id', '=', r1).where('secret_encrypted', 'is not', null).executeTakeFirstOrThrow();
    const reveal = await sb.api<{ temporaryPassword?: string }>('POST', `/api/requests/${r1}/steps/${step.step_index}/temporary-password`, { token: await sb.tokenFor(TOM) });
    expect(reveal.status).toBe(200);
    expect(reveal.body.temporaryPassword?.length).toBeGreaterThanOrEqual(12);
  }, 60_000);

  it('drops the old key once its link is used; the service goes on without it, and the old link no longer verifies', async () => {
    const pruned = await deskhand(['secrets', 'prune', '--json'], { DESKHAND_TEST_KEY_GRACE_MS: '0' });
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.json).toMatchObject({ droppedKeys: [keyId(firstKey)], earlierKeys: [] });
    expect(readKeyFile(keyFile).keys.map((k) => k.id)).toEqual([newKeyId]);
    expect(readFileSync(keyFile, 'utf8')).not.toContain(firstKey.toString('base64'));
    await autoRequestReplies('alex.wilber@contoso.example');
    // Signed with a key no longer in the ring: not a valid link at all (before, it answered 409: already used).
    const stale = await fetch(`${sb.service.url}${managerLink(r2)!}`);
    expect(stale.status).toBe(404);
    await stale.text();
  }, 120_000);
});

describe('deskhand secrets rotate with DESKHAND_SECRET_KEY', () => {
  it('takes the new key from --new-key-env, re-encrypts, and tells the operator to keep the old key in DESKHAND_PREVIOUS_SECRET_KEY', async () => {
    const current = readKeyFile(keyFile).current.key;
    const next = randomBytes(32);
    const env = { DESKHAND_SECRET_KEY: current.toString('hex'), DESKHAND_NEW_SECRET_KEY: next.toString('base64') };

    const [refused, rotated] = await Promise.all([
      // Without a new key there is nothing to rotate to (and deskhand may not write one): refused before the database is opened.
      deskhand(['secrets', 'rotate'], { DESKHAND_SECRET_KEY: current.toString('hex') }),
      deskhand(['secrets', 'rotate', '--new-key-env', 'DESKHAND_NEW_SECRET_KEY'], env),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--new-key-env DESKHAND_NEW_SECRET_KEY');
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain(`every stored secret is now under key ${keyId(next)}`);
    expect(rotated.stdout).toMatch(/set DESKHAND_SECRET_KEY to the new key .* DESKHAND_PREVIOUS_SECRET_KEY to the old key/);
    expect(rotated.stdout).toMatch(/keep DESKHAND_PREVIOUS_SECRET_KEY until 24 hours after/);
    for (const secret of [current.toString('hex'), current.toString('base64'), next.toString('hex'), next.toString('base64')]) {
      expect(rotated.stdout + rotated.stderr).not.toContain(secret);
    }
    // deskhand wrote no key: the key file is as it was.
    expect(readKeyFile(keyFile).current.id).toBe(keyId(current));
    expect(countByKey(await storedBoxes())).toEqual({ [keyId(next)]: (await storedBoxes()).length });

    // The operator restarts deskhand as told: the new key current, the old one previous.
    serviceKeys = { keyring: () => keyringFromEnvironment({ DESKHAND_SECRET_KEY: next.toString('base64'), DESKHAND_PREVIOUS_SECRET_KEY: current.toString('hex') })! };
    await autoRequestReplies('lidia.holloway@contoso.example');
    const status = await deskhand(['secrets', 'status', '--json'], { DESKHAND_SECRET_KEY: next.toString('base64'), DESKHAND_PREVIOUS_SECRET_KEY: current.toString('hex') });
    expect(status.code, status.stderr).toBe(0);
    expect(status.json).toMatchObject({ ok: true, source: 'environment', currentKey: keyId(next) });
    expect(status.json?.['ciphertexts']).toEqual({ [keyId(next)]: (await storedBoxes()).length });
    const previous = ((status.json?.['earlierKeys'] ?? []) as { id: string; droppable: boolean; reasons: string[] }[])[0]!;
    expect(previous).toMatchObject({ id: keyId(current), droppable: false });
    expect(previous.reasons.join()).toMatch(/24 hours after every deskhand process runs with the new key/);

    // Once DESKHAND_PREVIOUS_SECRET_KEY is removed, everything stored still opens.
    const alone = new SecretBox(Keyring.of(next));
    for (const b of await storedBoxes()) expect(() => alone.decrypt(b.box), `${b.place} ${b.id}`).not.toThrow();
  }, 180_000);
});

describe('deskhand audit-verify', () => {
  it('passes on the chains the rotation wrote to, then exits non-zero naming the row edited in the database', async () => {
    const db = sb.service.ctx.db;
    for (const msp of ['northwind', 'tailspin', 'woodgrove']) expect((await verifyAuditChain(db, msp)).ok, msp).toBe(true);
    const rotated = await db.selectFrom('audit_log').select(['msp_id', 'data']).where('event', '=', 'secrets.reencrypted').execute();
    expect([...new Set(rotated.map((r) => r.msp_id))].sort()).toEqual(['northwind', 'tailspin', 'woodgrove']);
    expect(rotated.map((r) => r.data)).toContainEqual({ keyId: newKeyId });

    // An attacker with the database's owner rights: the append-only trigger is switched off for one edit.
    const target = await db.selectFrom('audit_log').select(['seq']).where('msp_id', '=', 'northwind').where('request_id', '=', r1).where('event', '=', 'approval.approved').orderBy('seq').executeTakeFirstOrThrow();
    await db.transaction().execute(async (tx) => {
      await sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`.execute(tx);
      await sql`UPDATE audit_log SET actor = 'user:someone-else@northwind-it.example' WHERE msp_id = 'northwind' AND seq = ${target.seq}`.execute(tx);
      await sql`ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update`.execute(tx);
    });

    const told = await deskhand(['audit-verify']);
    expect(told.code).toBe(1);
    expect(told.stdout).toContain(`northwind: BROKEN at ${target.seq}: row content does not match its hash`);
    // Only that chain: the other MSPs' logs still verify.
    expect(told.stdout).toMatch(/^tailspin: ok/m);
    expect(told.stdout).toMatch(/^woodgrove: ok/m);
  }, 120_000);
});
