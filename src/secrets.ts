import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Credentials at rest: AES-256-GCM with a key from `DESKHAND_SECRET_KEY` (32 bytes, base64 or hex),
 * or from `<dataDir>/secret.key`, created with mode 0600 on first start. The same key signs links.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the secret key must be 32 bytes');
    this.key = key;
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v1.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
  }

  decrypt(boxed: string): string {
    const [version, iv, tag, body] = boxed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('not a deskhand secret box');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  encryptJson(value: Record<string, string>): string {
    return this.encrypt(JSON.stringify(value));
  }

  decryptJson(boxed: string): Record<string, string> {
    return JSON.parse(this.decrypt(boxed)) as Record<string, string>;
  }

  /** A MAC for signed links, derived so that it never equals the encryption key's use. */
  sign(message: string): string {
    return createHmac('sha256', createHash('sha256').update(this.key).update('link-signing').digest())
      .update(message)
      .digest('base64url');
  }

  verify(message: string, signature: string): boolean {
    const expected = Buffer.from(this.sign(message));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

export function parseSecretKey(value: string): Buffer {
  const trimmed = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const decoded = Buffer.from(trimmed, 'base64');
  if (decoded.length === 32) return decoded;
  throw new Error('DESKHAND_SECRET_KEY must be 32 bytes, written as 64 hex characters or base64 (try: openssl rand -base64 32)');
}

/** The key from the environment, or the data folder's key file (created 0600 when missing). */
export async function loadSecretKey(env: NodeJS.ProcessEnv, dataDir: string): Promise<Buffer> {
  const fromEnv = env['DESKHAND_SECRET_KEY'];
  if (fromEnv) return parseSecretKey(fromEnv);
  const file = path.join(dataDir, 'secret.key');
  try {
    return parseKeyFile(file, await fs.readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // The data folder is closed to other users (its mode is set when a command opens it; this is the default).
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
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
  return parseKeyFile(file, await fs.readFile(file, 'utf8'));
}

function parseKeyFile(file: string, content: string): Buffer {
  try {
    return parseSecretKey(content);
  } catch {
    throw new Error(`${file} is not a valid key: it must hold 32 bytes as 64 hex characters or base64 (restore it from a backup; a new key cannot decrypt the stored credentials)`);
  }
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
