import { randomInt } from 'node:crypto';

/**
 * Temporary passwords a technician reads out over the phone: no characters that look or sound alike
 * (0/O/o, 1/l/I, quotes, backslash, space), every character class so that Entra's complexity rule is
 * met, and drawn with `crypto.randomInt` (uniform, no modulo bias).
 */
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnpqrstuvwxyz';
const DIGITS = '23456789';
const SYMBOLS = '!#$%*+-=?@';
const ALL = UPPER + LOWER + DIGITS + SYMBOLS;

export const TEMPORARY_PASSWORD_LENGTH = 16;

function pick(alphabet: string): string {
  return alphabet[randomInt(alphabet.length)]!;
}

/** Fisher–Yates with a cryptographic source, so the guaranteed classes sit at random positions. */
function shuffle(chars: string[]): string[] {
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars;
}

export function generateTemporaryPassword(length: number = TEMPORARY_PASSWORD_LENGTH): string {
  if (!Number.isInteger(length) || length < TEMPORARY_PASSWORD_LENGTH || length > 256) {
    throw new RangeError(`a temporary password has ${TEMPORARY_PASSWORD_LENGTH} to 256 characters`);
  }
  const chars = [pick(UPPER), pick(LOWER), pick(DIGITS), pick(SYMBOLS)];
  while (chars.length < length) chars.push(pick(ALL));
  return shuffle(chars).join('');
}

export const temporaryPasswordAlphabet = { upper: UPPER, lower: LOWER, digits: DIGITS, symbols: SYMBOLS } as const;
