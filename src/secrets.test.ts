import { createCipheriv, randomBytes } from 'node:crypto';
import { promises as fs, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  boxKeyId,
  earlierKeyVerdicts,
  formatKeyFile,
  KEY_FILE_NAME,
  KeyFile,
  Keyring,
  keyId,
  keyringFromEnvironment,
  loadSecretKeys,
  parseKeyFile,
  readKeyFile,
  SecretBox,
  writeKeyFile,
} from './secrets.ts';

/** A ciphertext as the first version wrote it (no key id): what databases written before key rotation hold. */
function v1Encrypt(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `v1.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
}

const A = Buffer.alloc(32, 1);
const B = Buffer.alloc(32, 2);
const C = Buffer.alloc(32, 3);
const T0 = new Date('2030-01-01T00:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'deskhand-keyring-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('key ids', () => {
  it('are a 12-hex fingerprint of the key: the same key, the same id, wherever it comes from', () => {
    expect(keyId(A)).toMatch(/^[0-9a-f]{12}$/);
    expect(keyId(Buffer.from(A))).toBe(keyId(A));
    expect(keyId(A)).not.toBe(keyId(B));
    expect(keyringFromEnvironment({ DESKHAND_SECRET_KEY: A.toString('hex') })!.current.id).toBe(keyId(A));
    expect(keyringFromEnvironment({ DESKHAND_SECRET_KEY: A.toString('base64') })!.current.id).toBe(keyId(A));
  });
});

describe('ciphertext format', () => {
  it('records the id of the key that encrypted it: v2.<keyId>.<iv>.<tag>.<data>', () => {
    const boxed = new SecretBox(A).encrypt('client secret');
    const parts = boxed.split('.');
    expect(parts).toHaveLength(5);
    expect(parts[0]).toBe('v2');
    expect(parts[1]).toBe(keyId(A));
    expect(boxKeyId(boxed)).toBe(keyId(A));
    expect(boxed).not.toContain('client secret');
  });

  it('encrypts under the current key of a ring and decrypts under any key of it', () => {
    const old = new SecretBox(A).encrypt('made before the rotation');
    const ring = Keyring.of(B, [A]);
    const box = new SecretBox(ring);
    const fresh = box.encrypt('made after');
    expect(boxKeyId(fresh)).toBe(keyId(B));
    expect(box.decrypt(old)).toBe('made before the rotation');
    expect(box.decrypt(fresh)).toBe('made after');
    // The old key alone cannot read what the new one wrote, and says which key it would need.
    expect(() => new SecretBox(A).decrypt(fresh)).toThrow(new RegExp(`encrypted with key ${keyId(B)}, which is not in the keyring`));
  });

  it('reads ciphertexts written before key ids (v1) with whichever key of the ring authenticates them', () => {
    const legacy = v1Encrypt(A, 'from the previous version');
    expect(boxKeyId(legacy)).toBeNull();
    expect(new SecretBox(A).decrypt(legacy)).toBe('from the previous version');
    // After a rotation the legacy key is an earlier key, not the first one: still found.
    const box = new SecretBox(Keyring.of(C, [B, A]));
    expect(box.decrypt(legacy)).toBe('from the previous version');
    expect(box.keyIdOf(legacy)).toBe(keyId(A));
    // A ring without the key refuses it (GCM's tag fails for every key) instead of returning garbage.
    expect(() => new SecretBox(Keyring.of(C, [B])).decrypt(legacy)).toThrow(/written before key ids.*opens with none of the keys/);
  });

  it('re-encrypts under the current key only what is not already under it', () => {
    const box = new SecretBox(Keyring.of(B, [A]));
    const underA = new SecretBox(A).encrypt('x');
    const again = box.reencrypt(underA);
    expect(again).not.toBeNull();
    expect(boxKeyId(again!)).toBe(keyId(B));
    expect(box.decrypt(again!)).toBe('x');
    expect(box.reencrypt(again!)).toBeNull();
    const legacy = box.reencrypt(v1Encrypt(A, 'y'));
    expect(boxKeyId(legacy!)).toBe(keyId(B));
    expect(box.decrypt(legacy!)).toBe('y');
  });

  it('refuses a tampered part, a swapped key id and a malformed box, never returning garbage', () => {
    const box = new SecretBox(Keyring.of(B, [A]));
    const boxed = box.encrypt('client secret');
    const [version, id, iv, tag, body] = boxed.split('.') as [string, string, string, string, string];
    const flip = (part: string) => {
      const bytes = Buffer.from(part, 'base64url');
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      return bytes.toString('base64url');
    };
    expect(() => box.decrypt([version, id, iv, tag, flip(body)].join('.'))).toThrow();
    expect(() => box.decrypt([version, id, iv, flip(tag), body].join('.'))).toThrow();
    expect(() => box.decrypt([version, id, flip(iv), tag, body].join('.'))).toThrow();
    // Naming another key of the ring does not make it open under that key.
    expect(() => box.decrypt([version, keyId(A), iv, tag, body].join('.'))).toThrow();
    for (const wrong of ['plain text', `v2.${iv}.${tag}.${body}`, `v3.${id}.${iv}.${tag}.${body}`, `v2.XYZ.${iv}.${tag}.${body}`, `v1.${id}.${iv}.${tag}.${body}`]) {
      expect(() => box.decrypt(wrong), wrong).toThrow(/not a deskhand secret box/);
    }
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow(/32 bytes/);
    expect(() => Keyring.of(A, [Buffer.alloc(31)])).toThrow(/32 bytes/);
  });
});

describe('manager link signatures across a rotation', () => {
  it('signs with the current key and verifies against every key of the ring', () => {
    const before = new SecretBox(A);
    const signedBefore = before.sign('approval.secret');
    const after = new SecretBox(Keyring.of(B, [A]));
    const signedAfter = after.sign('approval.secret');
    expect(signedAfter).not.toBe(signedBefore);
    expect(after.verify('approval.secret', signedBefore)).toBe(true);
    expect(after.verify('approval.secret', signedAfter)).toBe(true);
    expect(after.verify('approval.other', signedBefore)).toBe(false);
    expect(after.verify('approval.secret', `${signedBefore.slice(0, -2)}AA`)).toBe(signedBefore.endsWith('AA'));
    // Once the old key is dropped, its links stop working; the new key's keep working.
    const dropped = new SecretBox(Keyring.of(B));
    expect(dropped.verify('approval.secret', signedBefore)).toBe(false);
    expect(dropped.verify('approval.secret', signedAfter)).toBe(true);
    // Links signed by the first version (a single key) are the same MACs: links mailed before an upgrade keep working.
    expect(new SecretBox(A).sign('m')).toBe(new SecretBox(Keyring.of(A)).sign('m'));
  });
});

describe('keyring from the environment', () => {
  it('takes DESKHAND_SECRET_KEY as current and DESKHAND_PREVIOUS_SECRET_KEY (commas or spaces) as earlier keys', () => {
    const ring = keyringFromEnvironment({ DESKHAND_SECRET_KEY: C.toString('base64'), DESKHAND_PREVIOUS_SECRET_KEY: `${B.toString('hex')}, ${A.toString('base64')}` })!;
    expect(ring.keys.map((k) => k.id)).toEqual([keyId(C), keyId(B), keyId(A)]);
    expect(ring.earlier.every((k) => k.retiredAt === null)).toBe(true);
    // The current key repeated as previous counts once.
    expect(keyringFromEnvironment({ DESKHAND_SECRET_KEY: C.toString('hex'), DESKHAND_PREVIOUS_SECRET_KEY: C.toString('base64') })!.keys).toHaveLength(1);
    expect(keyringFromEnvironment({})).toBeNull();
  });

  it('refuses a malformed previous key, naming the variable, and a previous key without a current one', () => {
    expect(() => keyringFromEnvironment({ DESKHAND_SECRET_KEY: C.toString('hex'), DESKHAND_PREVIOUS_SECRET_KEY: 'short' })).toThrow(/DESKHAND_PREVIOUS_SECRET_KEY must be 32 bytes/);
    expect(() => keyringFromEnvironment({ DESKHAND_PREVIOUS_SECRET_KEY: A.toString('hex') })).toThrow(/DESKHAND_SECRET_KEY is not/);
  });

  it('is what loadSecretKeys returns when DESKHAND_SECRET_KEY is set, and then no key file is written', async () => {
    const dir = freshDir();
    const keys = await loadSecretKeys({ DESKHAND_SECRET_KEY: B.toString('hex'), DESKHAND_PREVIOUS_SECRET_KEY: A.toString('hex') }, dir);
    expect(keys).toBeInstanceOf(Keyring);
    expect((keys as Keyring).keys.map((k) => k.id)).toEqual([keyId(B), keyId(A)]);
    await expect(fs.stat(path.join(dir, KEY_FILE_NAME))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('key file', () => {
  it('reads the one-key file of the first version as a ring of that key', async () => {
    const dir = freshDir();
    const file = path.join(dir, KEY_FILE_NAME);
    await fs.writeFile(file, `${A.toString('base64')}\n`, { mode: 0o600 });
    const ring = readKeyFile(file);
    expect(ring.keys.map((k) => k.id)).toEqual([keyId(A)]);
    expect(ring.rotation).toBeNull();
  });

  it('writes a keyring that reads back the same, mode 0600, replacing the old file whole', async () => {
    const dir = freshDir();
    const file = path.join(dir, KEY_FILE_NAME);
    await fs.writeFile(file, `${A.toString('base64')}\n`, { mode: 0o600 });
    const rotated = readKeyFile(file).rotatedTo(B, T0);
    await writeKeyFile(file, rotated);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await fs.readdir(dir)).toEqual([KEY_FILE_NAME]);
    const back = readKeyFile(file);
    expect(back.keys.map((k) => ({ id: k.id, key: k.key.toString('hex'), createdAt: k.createdAt, retiredAt: k.retiredAt }))).toEqual([
      { id: keyId(B), key: B.toString('hex'), createdAt: T0, retiredAt: null },
      { id: keyId(A), key: A.toString('hex'), createdAt: null, retiredAt: T0 },
    ]);
    expect(back.unfinishedRotation).toEqual({ to: keyId(B), startedAt: T0, finishedAt: null });
    const finished = back.finishedRotation(new Date(T0.getTime() + MINUTE));
    expect(finished.unfinishedRotation).toBeNull();
    expect(parseKeyFile(file, formatKeyFile(finished)).rotation).toEqual({ to: keyId(B), startedAt: T0, finishedAt: new Date(T0.getTime() + MINUTE) });
  });

  it('refuses a keyring whose key does not match its id, names no current key, or is not JSON it knows, instead of replacing it', () => {
    const good = JSON.parse(formatKeyFile(Keyring.of(B, [A]).rotatedTo(C, T0))) as { keys: { id: string; key: string }[]; rotation: { to: string } };
    const swapped = structuredClone(good);
    swapped.keys[0]!.key = A.toString('base64');
    expect(() => parseKeyFile('/x/secret.key', JSON.stringify(swapped))).toThrow(/\/x\/secret\.key is not a valid key: key .* does not match its id.*restore it from a backup/);
    const noKeys = { ...good, keys: [] };
    expect(() => parseKeyFile('/x/secret.key', JSON.stringify(noKeys))).toThrow(/not a deskhand keyring/);
    const strayRotation = { ...good, rotation: { ...good.rotation, to: 'ffffffffffff' } };
    expect(() => parseKeyFile('/x/secret.key', JSON.stringify(strayRotation))).toThrow(/rotation to key ffffffffffff, which it does not hold/);
    expect(() => parseKeyFile('/x/secret.key', '{ "deskhand": "keyring", ')).toThrow(/not a deskhand keyring/);
    expect(() => parseKeyFile('/x/secret.key', 'not a key')).toThrow(/secret\.key is not a valid key.*32 bytes/);
  });

  it('is read again by a running process when a rotation replaces it, so new secrets go under the new key at once', async () => {
    const dir = freshDir();
    const source = await KeyFile.open(path.join(dir, KEY_FILE_NAME));
    const box = new SecretBox(source);
    const first = source.keyring().current;
    const before = box.encrypt('before');
    const next = randomBytes(32);
    await writeKeyFile(source.file, source.keyring().rotatedTo(next, new Date()));
    const after = box.encrypt('after');
    expect(boxKeyId(before)).toBe(first.id);
    expect(boxKeyId(after)).toBe(keyId(next));
    expect(box.decrypt(before)).toBe('before');
    expect(box.decrypt(after)).toBe('after');
    expect(box.verify('m', new SecretBox(first.key).sign('m'))).toBe(true);
  });

  it('keeps the last good ring when the file is damaged meanwhile (the next command refuses it)', async () => {
    const dir = freshDir();
    const source = await KeyFile.open(path.join(dir, KEY_FILE_NAME));
    const id = source.keyring().current.id;
    await fs.writeFile(source.file, 'garbage\n');
    expect(source.keyring().current.id).toBe(id);
    await expect(KeyFile.open(source.file)).rejects.toThrow(/is not a valid key/);
  });
});

describe('keyring changes', () => {
  it('a rotation adds the new key as current, retires the old one at that instant and records the rotation', () => {
    const ring = Keyring.of(A).rotatedTo(B, T0);
    expect(ring.current.id).toBe(keyId(B));
    expect(ring.earlier.map((k) => [k.id, k.retiredAt])).toEqual([[keyId(A), T0]]);
    expect(ring.unfinishedRotation?.to).toBe(keyId(B));
    expect(() => ring.rotatedTo(B, T0)).toThrow(/already the current key/);
    expect(() => ring.without([keyId(B)])).toThrow(/current key cannot be dropped/);
    expect(ring.without([keyId(A)]).keys.map((k) => k.id)).toEqual([keyId(B)]);
  });
});

describe('when an earlier key may be dropped', () => {
  const ring = Keyring.of(A).rotatedTo(B, T0).finishedRotation(T0);
  const none = { ciphertexts: new Map<string, number>(), pendingManagerApprovals: [] };
  const verdict = (use: Parameters<typeof earlierKeyVerdicts>[1], now: Date, grace = 10 * MINUTE) => earlierKeyVerdicts(ring, use, now, grace)[0]!;

  it('not while a stored secret is under it', () => {
    const v = verdict({ ...none, ciphertexts: new Map([[keyId(A), 2]]) }, new Date(T0.getTime() + 48 * HOUR));
    expect(v).toMatchObject({ id: keyId(A), droppable: false, ciphertexts: 2 });
    expect(v.reasons.join()).toMatch(/2 stored secrets are encrypted under it/);
  });

  it('not within the grace period after it stopped being current, then yes when nothing else needs it', () => {
    expect(verdict(none, new Date(T0.getTime() + 9 * MINUTE)).droppable).toBe(false);
    expect(verdict(none, new Date(T0.getTime() + 9 * MINUTE)).reasons.join()).toMatch(/stays at least until 2030-01-01T00:10:00.000Z/);
    expect(verdict(none, new Date(T0.getTime() + 10 * MINUTE))).toMatchObject({ droppable: true, reasons: [] });
  });

  it('not while a manager approval created before its retirement (+ grace) is pending and unexpired: its link was signed with it', () => {
    const signedWithA = { createdAt: new Date(T0.getTime() - HOUR), expiresAt: new Date(T0.getTime() + 23 * HOUR) };
    const signedWithB = { createdAt: new Date(T0.getTime() + HOUR), expiresAt: new Date(T0.getTime() + 25 * HOUR) };
    const at2h = new Date(T0.getTime() + 2 * HOUR);
    const held = verdict({ ...none, pendingManagerApprovals: [signedWithA, signedWithB] }, at2h);
    expect(held.droppable).toBe(false);
    expect(held.reasons.join()).toMatch(/1 pending manager approval was created while it signed links; the last expires at 2030-01-01T23:00:00.000Z/);
    expect(held.keepUntil).toEqual(signedWithA.expiresAt);
    // An approval made after the rotation (+ grace) carries a link of the new key: it holds nothing back.
    expect(verdict({ ...none, pendingManagerApprovals: [signedWithB] }, at2h).droppable).toBe(true);
    // Once that approval expires (24 h after its creation), the key goes.
    expect(verdict({ ...none, pendingManagerApprovals: [] }, new Date(T0.getTime() + 23 * HOUR)).droppable).toBe(true);
    // With a grace of 0 (the tests'), an approval created after the retirement is the new key's.
    expect(earlierKeyVerdicts(ring, { ...none, pendingManagerApprovals: [{ createdAt: new Date(T0.getTime() + 1), expiresAt: new Date(T0.getTime() + HOUR) }] }, new Date(T0.getTime() + MINUTE), 0)[0]!.droppable).toBe(true);
  });

  it('a key from the environment has no known retirement: never said to be droppable, with the rule to apply', () => {
    const env = Keyring.of(B, [A]);
    const [v] = earlierKeyVerdicts(env, none, new Date(T0.getTime() + 100 * HOUR));
    expect(v).toMatchObject({ droppable: false, keepUntil: null });
    expect(v!.reasons.join()).toMatch(/24 hours after every deskhand process runs with the new key/);
  });
});
