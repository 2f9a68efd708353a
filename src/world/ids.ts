import { createHash } from 'node:crypto';

/**
 * Identifiers the emulators hand out, derived from the fixture so that they are stable across runs
 * (DESIGN: "Emulators derive every id deterministically from the fixture").
 */
export function deterministicUuid(...parts: string[]): string {
  const hex = createHash('sha256').update(`deskhand:${parts.join('/')}`).digest('hex');
  // Shape it as an RFC 4122 version-5-style UUID so it looks and parses like Graph's ids.
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** A positive integer id (ConnectWise-style) in [base, base + span), stable for the given parts. */
export function deterministicInt(base: number, span: number, ...parts: string[]): number {
  const hex = createHash('sha256').update(`deskhand:${parts.join('/')}`).digest('hex');
  return base + (Number.parseInt(hex.slice(0, 12), 16) % span);
}

export function tenantIdOf(clientId: string): string {
  return deterministicUuid('m365', 'tenant', clientId);
}
