import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * Credentials at rest: AES-256-GCM under a keyring. The current key encrypts and signs manager
 * links; earlier keys only decrypt and verify, until `deskhand secrets rotate` has re-encrypted
 * everything under the current key and no manager link an earlier key signed can still be used.
 *
 * Keys come from `DESKHAND_SECRET_KEY` (the current key; earlier ones in
 * `DESKHAND_PREVIOUS_SECRET_KEY`), or from `<dataDir>/secret.key`, created with mode 0600 on first
 * start as one key, and rewritten as a keyring (JSON) by the first rotation.
 *
 * A ciphertext names its key: `v2.<keyId>.<iv>.<tag>.<data>` (base64url). Ciphertexts written
 * before key ids (`v1.<iv>.<tag>.<data>`) are opened with whichever key of the ring authenticates
 * them (GCM's tag tells), the oldest first: the only key there was when they were written.
 */

export const KEY_FILE_NAME = 'secret.key';

/**
 * How long an earlier key stays in the key file at least, after another became current: a process
 * reads the key file again at each use, but may hold a ciphertext it made just before, and write it
 * a little later (a step's temporary password is written again when the step ends).
 */
export const KEY_GRACE_MS = 10 * 60 * 1000;

/** A key's id: a fingerprint, so that one key has one id in the key file, in the environment and in every ciphertext. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('deskhand key id\0').update(key).digest('hex').slice(0, 12);
}

export interface RingKey {
  id: string;
  key: Buffer;
  /** When the key was added (null: written by an earlier version, or from the environment). */
  createdAt: Date | null;
  /** When another key became current; null for the current key and for keys from the environment. */
  retiredAt: Date | null;
}

/** The rotation the key file is in the middle of, or last finished. */
export interface Rotation {
  to: string;
  startedAt: Date;
  finishedAt: Date | null;
}

/** The current key first, then the earlier keys, newest first. Immutable. */
export class Keyring {
  readonly keys: readonly RingKey[];
  readonly rotation: Rotation | null;

  constructor(keys: readonly RingKey[], rotation: Rotation | null = null) {
    if (keys.length === 0) throw new Error('a keyring needs at least one key');
    const seen = new Set<string>();
    for (const entry of keys) {
      if (entry.key.length !== 32) throw new Error('the secret key must be 32 bytes');
      if (entry.id !== keyId(entry.key)) throw new Error(`key ${entry.id} does not match its id (its fingerprint is ${keyId(entry.key)})`);
      if (seen.has(entry.id)) throw new Error(`key ${entry.id} is in the keyring twice`);
      seen.add(entry.id);
    }
    if (rotation && !seen.has(rotation.to)) throw new Error(`the keyring records a rotation to key ${rotation.to}, which it does not hold`);
    this.keys = keys;
    this.rotation = rotation;
  }

  /** A ring of keys given as bytes: the first is current, the others earlier (duplicates dropped). */
  static of(current: Buffer, earlier: readonly Buffer[] = []): Keyring {
    const entries: RingKey[] = [];
    for (const key of [current, ...earlier]) {
      if (key.length !== 32) throw new Error('the secret key must be 32 bytes');
      const id = keyId(key);
      if (!entries.some((e) => e.id === id)) entries.push({ id, key, createdAt: null, retiredAt: null });
    }
    return new Keyring(entries);
  }

  get current(): RingKey {
    return this.keys[0]!;
  }

  get earlier(): RingKey[] {
    return this.keys.slice(1);
  }

  find(id: string): RingKey | undefined {
    return this.keys.find((k) => k.id === id);
  }

  /** `key` becomes current (added if new); the current key is retired at `at`; the rotation to it starts. */
  rotatedTo(key: Buffer, at: Date): Keyring {
    const id = keyId(key);
    if (id === this.current.id) throw new Error(`key ${id} is already the current key`);
    const others = this.keys.filter((k) => k.id !== id).map((k) => (k.id === this.current.id ? { ...k, retiredAt: at } : k));
    return new Keyring([{ id, key, createdAt: at, retiredAt: null }, ...others], { to: id, startedAt: at, finishedAt: null });
  }

  /** The rotation to the current key is done: every stored secret is under it. */
  finishedRotation(at: Date): Keyring {
    if (!this.rotation || this.rotation.to !== this.current.id) return this;
    return new Keyring(this.keys, { ...this.rotation, finishedAt: at });
  }

  /** A rotation to the current key that started and did not finish (a crash, a kill): a rerun finishes it. */
  get unfinishedRotation(): Rotation | null {
    return this.rotation && this.rotation.finishedAt === null && this.rotation.to === this.current.id ? this.rotation : null;
  }

  without(ids: readonly string[]): Keyring {
    if (ids.includes(this.current.id)) throw new Error('the current key cannot be dropped');
    return new Keyring(
      this.keys.filter((k) => !ids.includes(k.id)),
      this.rotation,
    );
  }
}

/** Where a SecretBox gets its keyring each time it needs one (a key file is read again when it changed). */
export interface KeySource {
  keyring(): Keyring;
}

/** Keys as a service is given them: one key (tests, benchmarks), a fixed ring (the environment), or a key file. */
export type SecretKeys = Buffer | Keyring | KeySource;

interface ParsedBox {
  keyId: string | null;
  iv: Buffer;
  tag: Buffer;
  body: Buffer;
}

function parseBox(boxed: string): ParsedBox {
  const parts = boxed.split('.');
  const b64 = /^[A-Za-z0-9_-]*$/;
  if (parts[0] === 'v2' && parts.length === 5 && /^[0-9a-f]{12}$/.test(parts[1]!) && parts.slice(2).every((p) => b64.test(p))) {
    return { keyId: parts[1]!, iv: Buffer.from(parts[2]!, 'base64url'), tag: Buffer.from(parts[3]!, 'base64url'), body: Buffer.from(parts[4]!, 'base64url') };
  }
  if (parts[0] === 'v1' && parts.length === 4 && parts.slice(1).every((p) => b64.test(p))) {
    return { keyId: null, iv: Buffer.from(parts[1]!, 'base64url'), tag: Buffer.from(parts[2]!, 'base64url'), body: Buffer.from(parts[3]!, 'base64url') };
  }
  throw new Error('not a deskhand secret box');
}

/** The id of the key a ciphertext names, or null for one written before key ids (v1). Throws for anything else. */
export function boxKeyId(boxed: string): string | null {
  return parseBox(boxed).keyId;
}

function open(key: Buffer, box: ParsedBox): string {
  const decipher = createDecipheriv('aes-256-gcm', key, box.iv);
  decipher.setAuthTag(box.tag);
  return Buffer.concat([decipher.update(box.body), decipher.final()]).toString('utf8');
}

function linkSigningKey(key: Buffer): Buffer {
  return createHash('sha256').update(key).update('link-signing').digest();
}

export class SecretBox {
  private readonly source: KeySource;

  constructor(keys: SecretKeys) {
    if (Buffer.isBuffer(keys)) {
      const ring = Keyring.of(keys);
      this.source = { keyring: () => ring };
    } else if (keys instanceof Keyring) {
      this.source = { keyring: () => keys };
    } else {
      this.source = keys;
    }
  }

  /** The keyring as it is now (a key file changed by a rotation is read again). */
  get keyring(): Keyring {
    return this.source.keyring();
  }

  encrypt(plain: string): string {
    const { id, key } = this.keyring.current;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v2.${id}.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
  }

  decrypt(boxed: string): string {
    const box = parseBox(boxed);
    const ring = this.keyring;
    if (box.keyId === null) return open(this.legacyKey(ring, box), box);
    const entry = ring.find(box.keyId);
    if (!entry) {
      throw new Error(`this secret was encrypted with key ${box.keyId}, which is not in the keyring (it holds ${ring.keys.map((k) => k.id).join(', ')}): restore that key to the key file or to DESKHAND_PREVIOUS_SECRET_KEY`);
    }
    return open(entry.key, box);
  }

  /** The id of the ring's key that opens this ciphertext (for one written before key ids, the key that authenticates it). */
  keyIdOf(boxed: string): string {
    const box = parseBox(boxed);
    return box.keyId ?? keyId(this.legacyKey(this.keyring, box));
  }

  /** The same secret under the current key, or null when it already is. */
  reencrypt(boxed: string): string | null {
    const box = parseBox(boxed);
    if (box.keyId !== null && box.keyId === this.keyring.current.id) return null;
    return this.encrypt(this.decrypt(boxed));
  }

  private legacyKey(ring: Keyring, box: ParsedBox): Buffer {
    // Oldest first: a ciphertext without a key id was written with the only key there was then.
    for (const entry of [...ring.keys].reverse()) {
      try {
        open(entry.key, box);
        return entry.key;
      } catch {}
    }
    throw new Error(`this secret (written before key ids) opens with none of the keys in the keyring (${ring.keys.map((k) => k.id).join(', ')})`);
  }

  encryptJson(value: Record<string, string>): string {
    return this.encrypt(JSON.stringify(value));
  }

  decryptJson(boxed: string): Record<string, string> {
    return JSON.parse(this.decrypt(boxed)) as Record<string, string>;
  }

  /** A MAC for signed links with the current key, derived so that it never equals the encryption key's use. */
  sign(message: string): string {
    return createHmac('sha256', linkSigningKey(this.keyring.current.key)).update(message).digest('base64url');
  }

  /** True when any key of the ring signed it: links signed before a rotation work until their approval expires. */
  verify(message: string, signature: string): boolean {
    const given = Buffer.from(signature);
    let valid = false;
    for (const entry of this.keyring.keys) {
      const expected = Buffer.from(createHmac('sha256', linkSigningKey(entry.key)).update(message).digest('base64url'));
      // Every key is tried (no early return), so the time taken says nothing about which one matched.
      if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
    }
    return valid;
  }
}

export function parseSecretKey(value: string, name = 'DESKHAND_SECRET_KEY'): Buffer {
  const trimmed = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const decoded = Buffer.from(trimmed, 'base64');
  if (decoded.length === 32) return decoded;
  throw new Error(`${name} must be 32 bytes, written as 64 hex characters or base64 (try: openssl rand -base64 32)`);
}

/**
 * The ring from `DESKHAND_SECRET_KEY` (current) and `DESKHAND_PREVIOUS_SECRET_KEY` (earlier keys,
 * separated by commas or spaces), or null when `DESKHAND_SECRET_KEY` is not set.
 */
export function keyringFromEnvironment(env: NodeJS.ProcessEnv): Keyring | null {
  const current = env['DESKHAND_SECRET_KEY'];
  const previous = (env['DESKHAND_PREVIOUS_SECRET_KEY'] ?? '').split(/[\s,]+/).filter((v) => v.length > 0);
  if (!current) {
    if (previous.length > 0) throw new Error('DESKHAND_PREVIOUS_SECRET_KEY is set but DESKHAND_SECRET_KEY is not: set DESKHAND_SECRET_KEY to the current key');
    return null;
  }
  return Keyring.of(
    parseSecretKey(current),
    previous.map((v) => parseSecretKey(v, 'DESKHAND_PREVIOUS_SECRET_KEY')),
  );
}

/** The keys a process uses: from the environment when `DESKHAND_SECRET_KEY` is set, else the data folder's key file (created when missing). */
export async function loadSecretKeys(env: NodeJS.ProcessEnv, dataDir: string): Promise<Keyring | KeyFile> {
  const fromEnv = keyringFromEnvironment(env);
  if (fromEnv) return fromEnv;
  return KeyFile.open(path.join(dataDir, KEY_FILE_NAME));
}

/** The current key (see loadSecretKeys). */
export async function loadSecretKey(env: NodeJS.ProcessEnv, dataDir: string): Promise<Buffer> {
  const keys = await loadSecretKeys(env, dataDir);
  return (keys instanceof Keyring ? keys : keys.keyring()).current.key;
}

/**
 * The data folder's key file as a KeySource: read again whenever it changed on disk (it is only
 * ever replaced whole, by a rename), so that a running service learns a rotation's new key at its
 * next use and never encrypts under a key the rotation already retired.
 */
export class KeyFile implements KeySource {
  private ring: Keyring;
  private mark: string;

  private constructor(
    readonly file: string,
    ring: Keyring,
    mark: string,
  ) {
    this.ring = ring;
    this.mark = mark;
  }

  /** Open the key file, creating it (one new key, mode 0600) when it does not exist. */
  static async open(file: string): Promise<KeyFile> {
    await createKeyFileIfMissing(file);
    const mark = statMark(file);
    return new KeyFile(file, readKeyFile(file), mark ?? '');
  }

  keyring(): Keyring {
    const mark = statMark(this.file);
    if (mark !== null && mark !== this.mark) {
      try {
        this.ring = readKeyFile(this.file);
        this.mark = mark;
      } catch {
        // Keep the last good ring: a damaged or vanished file is refused by the next command that opens it.
      }
    }
    return this.ring;
  }
}

function statMark(file: string): string | null {
  try {
    const stat = statSync(file);
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
  } catch {
    return null;
  }
}

async function createKeyFileIfMissing(file: string): Promise<void> {
  try {
    await fs.access(file);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // The data folder is closed to other users (its mode is set when a command opens it; this is the default).
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // Another process may be creating the key at the same moment: write the whole key to a file of our
  // own, then link it into place. link() fails when the key exists, and no reader sees a half-written key.
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await fs.writeFile(tmp, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await fs.link(tmp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

const keyFileSchema = z.strictObject({
  deskhand: z.literal('keyring'),
  version: z.literal(2),
  keys: z
    .array(
      z.strictObject({
        id: z.string(),
        key: z.string(),
        created: z.iso.datetime().nullable(),
        retired: z.iso.datetime().nullable(),
      }),
    )
    .min(1),
  rotation: z.strictObject({ to: z.string(), started: z.iso.datetime(), finished: z.iso.datetime().nullable() }).nullable(),
});

/**
 * The key file: one key (64 hex characters or base64, as the first version wrote it), or a keyring
 * as JSON (the current key first). Refused with a message that says what to do, never replaced.
 */
export function parseKeyFile(file: string, content: string): Keyring {
  const damaged = (why: string) =>
    new Error(`${file} is not a valid key: ${why} (restore it from a backup; a new key cannot decrypt the stored credentials)`);
  if (!content.trimStart().startsWith('{')) {
    try {
      return Keyring.of(parseSecretKey(content));
    } catch {
      throw damaged('it must hold 32 bytes as 64 hex characters or base64, or a deskhand keyring');
    }
  }
  let parsed: z.infer<typeof keyFileSchema>;
  try {
    parsed = keyFileSchema.parse(JSON.parse(content));
  } catch {
    throw damaged('it is not a deskhand keyring');
  }
  try {
    return new Keyring(
      parsed.keys.map((k) => ({
        id: k.id,
        key: parseSecretKey(k.key, `key ${k.id}`),
        createdAt: k.created ? new Date(k.created) : null,
        retiredAt: k.retired ? new Date(k.retired) : null,
      })),
      parsed.rotation ? { to: parsed.rotation.to, startedAt: new Date(parsed.rotation.started), finishedAt: parsed.rotation.finished ? new Date(parsed.rotation.finished) : null } : null,
    );
  } catch (error) {
    throw damaged((error as Error).message);
  }
}

export function readKeyFile(file: string): Keyring {
  return parseKeyFile(file, readFileSync(file, 'utf8'));
}

export function formatKeyFile(ring: Keyring): string {
  const document: z.infer<typeof keyFileSchema> = {
    deskhand: 'keyring',
    version: 2,
    keys: ring.keys.map((k) => ({ id: k.id, key: k.key.toString('base64'), created: k.createdAt?.toISOString() ?? null, retired: k.retiredAt?.toISOString() ?? null })),
    rotation: ring.rotation
      ? { to: ring.rotation.to, started: ring.rotation.startedAt.toISOString(), finished: ring.rotation.finishedAt?.toISOString() ?? null }
      : null,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Replace the key file in one step: the new ring is written and flushed to a file of its own
 * (mode 0600), renamed over the old one, and the folder flushed, so that after a crash at any
 * instant the key file is either the old ring or the new one, whole, and on disk before anything
 * is encrypted under a key it adds.
 */
export async function writeKeyFile(file: string, ring: Keyring): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(formatKeyFile(ring), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
  const folder = await fs.open(path.dirname(file), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

/** What still needs an earlier key: stored ciphertexts under it, and manager approvals whose links it may have signed. */
export interface KeyUse {
  /** Stored ciphertexts by the id of the key they are under. */
  ciphertexts: ReadonlyMap<string, number>;
  /** Manager approvals still pending and not expired. */
  pendingManagerApprovals: readonly { createdAt: Date; expiresAt: Date }[];
}

export interface EarlierKeyVerdict {
  id: string;
  /** Nothing needs it: it may leave the keyring. */
  droppable: boolean;
  /** Why it is still needed (empty when droppable). */
  reasons: string[];
  ciphertexts: number;
  /** The earliest moment it may become droppable as far as time is concerned (null: unknown, for keys from the environment). */
  keepUntil: Date | null;
}

/**
 * The rule for dropping an earlier key. It stays while any stored secret is encrypted under it
 * (`deskhand secrets rotate` re-encrypts them), for at least `graceMs` after it stopped being
 * current, and while a manager approval created before then (+ `graceMs`) is still pending and
 * unexpired: its link was signed with this key and works until the approval expires, 24 hours
 * after its creation. So an earlier key is gone at the latest 24 hours (+ `graceMs`) after the
 * rotation, earlier when no such approval waits. A key from the environment has no retirement
 * time: when it stopped signing links is the operator's restart, which deskhand does not know.
 */
export function earlierKeyVerdicts(ring: Keyring, use: KeyUse, now: Date, graceMs = KEY_GRACE_MS): EarlierKeyVerdict[] {
  return ring.earlier.map((entry) => {
    const reasons: string[] = [];
    const ciphertexts = use.ciphertexts.get(entry.id) ?? 0;
    if (ciphertexts > 0) reasons.push(`${ciphertexts} stored secret${ciphertexts === 1 ? ' is' : 's are'} encrypted under it (deskhand secrets rotate re-encrypts them)`);
    let keepUntil: Date | null = null;
    if (entry.retiredAt === null) {
      reasons.push('when it stopped signing manager links is not known: keep it until 24 hours after every deskhand process runs with the new key');
    } else {
      const signedUntil = entry.retiredAt.getTime() + graceMs;
      keepUntil = new Date(signedUntil);
      if (now.getTime() < signedUntil) {
        reasons.push(`it stopped being current at ${entry.retiredAt.toISOString()}; it stays at least until ${keepUntil.toISOString()}`);
      }
      const signed = use.pendingManagerApprovals.filter((a) => a.createdAt.getTime() <= signedUntil && a.expiresAt.getTime() > now.getTime());
      if (signed.length > 0) {
        const last = new Date(Math.max(...signed.map((a) => a.expiresAt.getTime())));
        if (last > keepUntil) keepUntil = last;
        reasons.push(`${signed.length} pending manager approval${signed.length === 1 ? ' was' : 's were'} created while it signed links; the last expires at ${last.toISOString()}`);
      }
    }
    return { id: entry.id, droppable: reasons.length === 0, reasons, ciphertexts, keepUntil };
  });
}

export function sha256Base64url(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
