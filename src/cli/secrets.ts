import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import { readConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import {
  earlierKeyVerdicts,
  type EarlierKeyVerdict,
  KEY_FILE_NAME,
  KEY_GRACE_MS,
  Keyring,
  keyId,
  keyringFromEnvironment,
  parseSecretKey,
  readKeyFile,
  SecretBox,
  writeKeyFile,
} from '../secrets.ts';
import { type Db, migrate, openDb } from '../store/db.ts';
import { auditRotation, ciphertextsByKey, ENCRYPTED_PLACES, pendingManagerApprovals, reencryptBatch } from '../store/secrets-at-rest.ts';
import { openStore } from './store.ts';

/**
 * `deskhand secrets rotate | status | prune`: key rotation for the credentials deskhand stores.
 *
 * With the key file (no `DESKHAND_SECRET_KEY`), `rotate` writes a new key into the keyring as the
 * current key first (one atomic, flushed rename: running processes read it again at their next
 * use, so from then on nothing new is encrypted under the old key), then re-encrypts every stored
 * ciphertext not under it, a batch per transaction, and marks the rotation finished. A crash at any
 * instant leaves the key file whole (old or new) and every ciphertext under a key it holds; a rerun
 * finds the unfinished rotation in the key file and re-encrypts what is left (each ciphertext names
 * its key, so what is left is exactly what a committed batch did not reach).
 *
 * With `DESKHAND_SECRET_KEY`, deskhand cannot write the key: `--new-key-env NAME` names a variable
 * holding the new key; after re-encrypting, the operator sets `DESKHAND_SECRET_KEY` to it and keeps
 * the old key in `DESKHAND_PREVIOUS_SECRET_KEY`.
 */

/** Decides when a key rotation is stopped by a test: after N committed rows (0: right after the new key is written). */
const TEST_STOP_AFTER = 'DESKHAND_TEST_ROTATION_STOP_AFTER';
/** Tests shorten the grace period of earlier keys (KEY_GRACE_MS) instead of waiting ten minutes. */
const TEST_GRACE = 'DESKHAND_TEST_KEY_GRACE_MS';
/** Passes over the stored ciphertexts before giving up on a writer that keeps using an earlier key. */
const MAX_PASSES = 3;

type Counts = Record<(typeof ENCRYPTED_PLACES)[number]['table'], number>;

interface Opened {
  db: Db;
  /** The key file, or null when the keys come from the environment. */
  file: string | null;
  envRing: Keyring | null;
}

/** Open the database; commands that change keys hold a session-level advisory lock, so that two never interleave. */
async function withDatabase<T>(options: { lock: boolean }, work: (opened: Opened) => Promise<T>): Promise<T> {
  const config = readConfig();
  const logger = createLogger({ level: config.logLevel });
  const envRing = keyringFromEnvironment(process.env);
  const store = await openStore(config, logger);
  const handle = openDb({ url: store.url, maxConnections: 2, applicationName: 'deskhand secrets' });
  try {
    await migrate(handle.db);
    const opened = (db: Db) => ({ db, file: envRing ? null : path.join(config.dataDir, KEY_FILE_NAME), envRing });
    if (!options.lock) return await work(opened(handle.db));
    return await handle.db.connection().execute(async (db) => {
      const locked = await sql<{ locked: boolean }>`SELECT pg_try_advisory_lock(hashtext('deskhand secrets'), 0) AS locked`.execute(db);
      if (!locked.rows[0]?.locked) throw new Error('another `deskhand secrets` command is running on this database: wait for it to finish');
      try {
        return await work(opened(db));
      } finally {
        await sql`SELECT pg_advisory_unlock(hashtext('deskhand secrets'), 0)`.execute(db).catch(() => {});
      }
    });
  } finally {
    await handle.close();
    await store.close();
  }
}

function graceMs(): number {
  const value = process.env[TEST_GRACE];
  return value === undefined ? KEY_GRACE_MS : Math.max(0, Number(value) || 0);
}

/** The test hook: stop (without exiting: a test kills the process) once `done` rows are committed. */
async function testStop(done: number): Promise<void> {
  const limit = process.env[TEST_STOP_AFTER];
  if (limit === undefined || done < Number(limit)) return;
  process.stderr.write(`deskhand secrets rotate: stopped after ${done} rows (${TEST_STOP_AFTER}); waiting to be killed\n`);
  setInterval(() => {}, 60_000);
  await new Promise(() => {});
}

function readNewKey(name: string): Buffer {
  // The value is not repeated: someone may have passed the key itself.
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error('--new-key-env takes the name of an environment variable holding the new key, such as DESKHAND_NEW_SECRET_KEY, not the key itself');
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: put the new key in it (generate one with: openssl rand -base64 32)`);
  return parseSecretKey(value, name);
}

async function keyUse(db: Db, ring: Keyring) {
  const now = new Date();
  return { ciphertexts: await ciphertextsByKey(db, new SecretBox(ring)), pendingManagerApprovals: await pendingManagerApprovals(db, now), now };
}

/** Re-encrypt everything not under the ring's current key; true when a last pass found nothing left. */
async function reencryptAll(db: Db, ring: Keyring, batchSize: number, log: (line: string) => void): Promise<{ counts: Counts; clean: boolean }> {
  const box = new SecretBox(ring);
  const counts: Counts = { integrations: 0, step_executions: 0, outbox: 0 };
  let done = 0;
  for (let pass = 1; pass <= MAX_PASSES; pass++) {
    let changed = 0;
    for (const place of ENCRYPTED_PLACES) {
      let after: string | null = null;
      for (;;) {
        const batch = await reencryptBatch(db, place, box, after, batchSize);
        counts[place.table] += batch.rows;
        changed += batch.rows;
        done += batch.rows;
        if (batch.rows > 0) {
          log(`re-encrypted ${batch.rows} row${batch.rows === 1 ? '' : 's'} of ${place.table} (${place.what}); ${done} in all`);
          await testStop(done);
        }
        if (batch.rows < batchSize) break;
        after = batch.last;
      }
    }
    if (changed === 0) return { counts, clean: true };
  }
  return { counts, clean: false };
}

function describeCounts(counts: Counts): string {
  return ENCRYPTED_PLACES.map((p) => `${counts[p.table]} ${p.what}`).join(', ');
}

function describeVerdict(v: EarlierKeyVerdict): string {
  return v.droppable ? `${v.id}: no longer needed` : `${v.id}: kept, ${v.reasons.join('; ')}`;
}

export async function rotate(options: { newKeyEnv?: string; batchSize: string; json?: boolean }): Promise<void> {
  const batchSize = Number(options.batchSize);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new Error('--batch-size must be a whole number from 1 to 10000');
  const newKey = options.newKeyEnv ? readNewKey(options.newKeyEnv) : null;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const fromEnvironment = keyringFromEnvironment(process.env);
  if (fromEnvironment && Keyring.of(newKey ?? fromEnvironment.current.key, fromEnvironment.keys.map((k) => k.key)).earlier.length === 0) {
    // Nothing to re-encrypt from, and no new key to re-encrypt to.
    throw new Error(
      'DESKHAND_SECRET_KEY is set, so deskhand cannot make the new key itself: put a new key in another variable and name it, e.g. ' +
        'DESKHAND_NEW_SECRET_KEY="$(openssl rand -base64 32)" deskhand secrets rotate --new-key-env DESKHAND_NEW_SECRET_KEY',
    );
  }

  const result = await withDatabase({ lock: true }, async ({ db, file, envRing }) => {
    let ring: Keyring;
    let resumed = false;
    if (envRing) {
      ring = newKey ? Keyring.of(newKey, envRing.keys.map((k) => k.key)) : envRing;
    } else {
      const onDisk = readKeyFile(file!);
      if (onDisk.unfinishedRotation) {
        if (newKey && keyId(newKey) !== onDisk.current.id) {
          throw new Error(`the rotation to key ${onDisk.current.id} did not finish: run deskhand secrets rotate without --new-key-env to finish it first`);
        }
        ring = onDisk;
        resumed = true;
        log(`finishing the rotation to key ${ring.current.id} started at ${onDisk.unfinishedRotation.startedAt.toISOString()}`);
      } else {
        // The new key is on disk, current, before anything is encrypted under it.
        ring = onDisk.rotatedTo(newKey ?? randomBytes(32), new Date());
        await writeKeyFile(file!, ring);
        log(`key ${ring.current.id} is now the current key in ${file}; re-encrypting what is stored under earlier keys`);
      }
      await testStop(0);
    }

    const { counts, clean } = await reencryptAll(db, ring, batchSize, log);
    if (!clean) {
      throw new Error(
        `stored secrets keep appearing under an earlier key after ${MAX_PASSES} passes: a deskhand process that does not know key ${ring.current.id} is still writing them. ` +
          'Restart every deskhand process (with the new key), then run deskhand secrets rotate again to finish.',
      );
    }
    await auditRotation(db, { keyId: ring.current.id, actor: 'cli:secrets rotate', at: new Date() });

    let dropped: string[] = [];
    let verdicts: EarlierKeyVerdict[];
    if (file) {
      const use = await keyUse(db, ring);
      verdicts = earlierKeyVerdicts(ring, use, use.now, graceMs());
      dropped = verdicts.filter((v) => v.droppable).map((v) => v.id);
      await writeKeyFile(file, ring.finishedRotation(new Date()).without(dropped));
      verdicts = verdicts.filter((v) => !v.droppable);
    } else {
      const use = await keyUse(db, ring);
      verdicts = earlierKeyVerdicts(ring, use, use.now, graceMs());
    }
    const lastLink = await lastManagerLinkExpiry(db);
    return { source: file ? 'file' : 'environment', keyId: ring.current.id, resumed, reencrypted: counts, dropped, kept: verdicts, lastLink, newKeyEnv: options.newKeyEnv ?? null };
  });

  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({
        ok: true,
        source: result.source,
        keyId: result.keyId,
        resumed: result.resumed,
        reencrypted: result.reencrypted,
        droppedKeys: result.dropped,
        earlierKeys: result.kept.map((v) => ({ id: v.id, reasons: v.reasons, keepUntil: v.keepUntil?.toISOString() ?? null })),
        pendingManagerLinksUntil: result.lastLink?.toISOString() ?? null,
      })}\n`,
    );
    return;
  }
  const lines = [`every stored secret is now under key ${result.keyId}${result.resumed ? ' (an interrupted rotation, finished)' : ''}: re-encrypted ${describeCounts(result.reencrypted)}`];
  for (const id of result.dropped) lines.push(`dropped the earlier key ${id} from the key file: nothing needed it any more`);
  if (result.source === 'file') {
    for (const v of result.kept) lines.push(`earlier key ${describeVerdict(v)}`);
    if (result.kept.length > 0) lines.push('the next rotation, or deskhand secrets prune, drops an earlier key once nothing needs it');
  } else {
    lines.push(...environmentAdvice(result.newKeyEnv, result.lastLink));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** What the operator does next when the keys live in the environment. */
function environmentAdvice(newKeyEnv: string | null, lastLink: Date | null): string[] {
  return [
    ...(newKeyEnv
      ? [
          `now set DESKHAND_SECRET_KEY to the new key (the value of ${newKeyEnv}) and DESKHAND_PREVIOUS_SECRET_KEY to the old key (the value DESKHAND_SECRET_KEY has now), and restart every deskhand process:`,
          '  until then, processes that only know the old key cannot read the re-encrypted credentials',
        ]
      : []),
    'keep DESKHAND_PREVIOUS_SECRET_KEY until 24 hours after every deskhand process runs with the new DESKHAND_SECRET_KEY: manager links the old key signed work until their approval expires, 24 hours after it was created',
    lastLink ? `  the manager approvals pending now expire by ${lastLink.toISOString()}` : '  no manager approval is pending now',
    '  deskhand secrets status tells whether any stored secret still needs it',
  ];
}

async function lastManagerLinkExpiry(db: Db): Promise<Date | null> {
  const pending = await pendingManagerApprovals(db, new Date());
  return pending.length === 0 ? null : new Date(Math.max(...pending.map((p) => p.expiresAt.getTime())));
}

export async function status(options: { json?: boolean }): Promise<void> {
  const result = await withDatabase({ lock: false }, async ({ db, file, envRing }) => {
    const ring = envRing ?? readKeyFile(file!);
    const use = await keyUse(db, ring);
    const verdicts = earlierKeyVerdicts(ring, use, use.now, graceMs());
    return { ring, use, verdicts, file, lastLink: await lastManagerLinkExpiry(db) };
  });
  const { ring, use, verdicts, file, lastLink } = result;
  const unknown = [...use.ciphertexts.entries()].filter(([id]) => !ring.find(id));
  const rotation = ring.unfinishedRotation;
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({
        ok: unknown.length === 0 && !rotation,
        source: file ? 'file' : 'environment',
        currentKey: ring.current.id,
        unfinishedRotation: rotation ? { to: rotation.to, startedAt: rotation.startedAt.toISOString() } : null,
        ciphertexts: Object.fromEntries(use.ciphertexts),
        earlierKeys: verdicts.map((v) => ({ id: v.id, droppable: v.droppable, reasons: v.reasons, keepUntil: v.keepUntil?.toISOString() ?? null })),
        pendingManagerLinksUntil: lastLink?.toISOString() ?? null,
      })}\n`,
    );
    return;
  }
  const lines = [
    `keys from ${file ? `the key file ${file}` : 'DESKHAND_SECRET_KEY and DESKHAND_PREVIOUS_SECRET_KEY'}; current key ${ring.current.id}`,
    `stored secrets by key: ${use.ciphertexts.size === 0 ? 'none' : [...use.ciphertexts.entries()].map(([id, n]) => `${id}: ${n}`).join(', ')}`,
    ...(rotation ? [`the rotation to ${rotation.to} started at ${rotation.startedAt.toISOString()} did not finish: run deskhand secrets rotate to finish it`] : []),
    ...unknown.map(([id, n]) => `WARNING: ${n} stored secret${n === 1 ? ' is' : 's are'} under key ${id}, which is not in the keyring: restore that key`),
    ...verdicts.map((v) => `earlier key ${describeVerdict(v)}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function prune(options: { json?: boolean }): Promise<void> {
  const result = await withDatabase({ lock: true }, async ({ db, file, envRing }) => {
    const ring = envRing ?? readKeyFile(file!);
    const use = await keyUse(db, ring);
    const verdicts = earlierKeyVerdicts(ring, use, use.now, graceMs());
    const dropped = file ? verdicts.filter((v) => v.droppable).map((v) => v.id) : [];
    if (file && dropped.length > 0) await writeKeyFile(file, ring.without(dropped));
    return { file, dropped, kept: verdicts.filter((v) => !dropped.includes(v.id)), lastLink: await lastManagerLinkExpiry(db) };
  });
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({
        ok: true,
        source: result.file ? 'file' : 'environment',
        droppedKeys: result.dropped,
        earlierKeys: result.kept.map((v) => ({ id: v.id, reasons: v.reasons, keepUntil: v.keepUntil?.toISOString() ?? null })),
      })}\n`,
    );
    return;
  }
  const lines = [
    ...result.dropped.map((id) => `dropped the earlier key ${id} from the key file: nothing needed it any more`),
    ...result.kept.map((v) => `earlier key ${describeVerdict(v)}`),
    ...(result.file ? [] : ['keys from the environment are dropped by removing them from DESKHAND_PREVIOUS_SECRET_KEY (deskhand changes nothing here)', ...environmentAdvice(null, result.lastLink)]),
  ];
  if (lines.length === 0) lines.push('no earlier keys: nothing to drop');
  process.stdout.write(`${lines.join('\n')}\n`);
}
