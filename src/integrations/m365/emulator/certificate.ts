import { createHash, generateKeyPair, type KeyObject, randomBytes, sign } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * A self-signed X.509 certificate for an emulated app registration, made with node:crypto and the
 * few DER encodings a certificate needs (node can read certificates, not write them). It is a real
 * certificate: `new X509Certificate(der)` parses it, its signature verifies with its own key, and its
 * thumbprints are the SHA-1 and SHA-256 of its DER, as Entra computes them. So the emulator checks a
 * client assertion the way Entra does: find the registered certificate by the assertion's `x5t` (or
 * `x5t#S256`) and verify the signature with that certificate's public key.
 *
 * An X.509 v1 certificate (RFC 5280 4.1): serial, sha256WithRSAEncryption, issuer = subject = one
 * common name, a validity, the RSA public key. No extensions: Entra reads none of them for an app's
 * credential.
 */

export interface SelfSignedCertificate {
  privateKey: KeyObject;
  publicKey: KeyObject;
  privateKeyPem: string;
  der: Buffer;
  certificatePem: string;
  /** SHA-1 of the DER, upper-case hex (the admin center's Thumbprint). */
  thumbprint: string;
  /** SHA-256 of the DER, upper-case hex. */
  thumbprintSha256: string;
  notBefore: Date;
  notAfter: Date;
}

const generateRsaKeyPair = promisify(generateKeyPair);

// ---------------------------------------------------------------------------------------------
// DER (X.690), just the types a certificate uses
// ---------------------------------------------------------------------------------------------

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const sequence = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts));
const NULL = Buffer.from([0x05, 0x00]);

/** A non-negative INTEGER from big-endian bytes: minimal, with a 0 byte when the high bit is set. */
function integer(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const value = bytes.subarray(start);
  return tlv(0x02, value[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
}

function objectIdentifier(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * first! + second!];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) base128.unshift(0x80 | (value & 0x7f));
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5), always in whole seconds, UTC. */
function time(at: Date): Buffer {
  const digits = at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return at.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${digits}Z`));
}

function bitString(bytes: Buffer): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([0]), bytes]));
}

function commonName(name: string): Buffer {
  return sequence(set(sequence(objectIdentifier('2.5.4.3'), tlv(0x0c, Buffer.from(name, 'utf8')))));
}

const SHA256_WITH_RSA = sequence(objectIdentifier('1.2.840.113549.1.1.11'), NULL);

// ---------------------------------------------------------------------------------------------
// The certificate
// ---------------------------------------------------------------------------------------------

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * A new RSA key pair (2048 bits, generated off the event loop) and a self-signed certificate for it,
 * valid from an hour ago for `validDays`.
 */
export async function createSelfSignedCertificate(subject: string, options: { validDays?: number; now?: Date } = {}): Promise<SelfSignedCertificate> {
  const { privateKey, publicKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
  const now = options.now ?? new Date();
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 3600_000);
  const notAfter = new Date(notBefore.getTime() + (options.validDays ?? 365) * 86_400_000);
  const name = commonName(subject);
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const tbs = sequence(
    integer(serial),
    SHA256_WITH_RSA,
    name,
    sequence(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const der = sequence(tbs, SHA256_WITH_RSA, bitString(sign('sha256', tbs, privateKey)));
  return {
    privateKey,
    publicKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    der,
    certificatePem: pem('CERTIFICATE', der),
    thumbprint: createHash('sha1').update(der).digest('hex').toUpperCase(),
    thumbprintSha256: createHash('sha256').update(der).digest('hex').toUpperCase(),
    notBefore,
    notAfter,
  };
}
