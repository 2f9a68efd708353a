import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { roleTableMarkdown } from '../../src/api/access.ts';

/**
 * The README's role table lives between these two markers and is generated from
 * `src/api/access.ts`; `test/security/roles.test.ts` fails when they differ. To regenerate it:
 * `npx tsx test/support/security-readme.ts`.
 */
export const README_PATH = fileURLToPath(new URL('../../README.md', import.meta.url));
export const BEGIN = '<!-- role table: generated from src/api/access.ts by `npx tsx test/support/security-readme.ts`; test/security/roles.test.ts checks it -->';
export const END = '<!-- end of role table -->';

/** The table as the README holds it now, or null when the markers are missing. */
export function readmeRoleTable(readme = readFileSync(README_PATH, 'utf8')): string | null {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) return null;
  return readme.slice(start + BEGIN.length, end).trim();
}

function writeReadmeRoleTable(): void {
  const readme = readFileSync(README_PATH, 'utf8');
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no role table markers; add them under "## Who may do what":\n${BEGIN}\n${END}`);
  writeFileSync(README_PATH, `${readme.slice(0, start + BEGIN.length)}\n${roleTableMarkdown()}\n${readme.slice(end)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) writeReadmeRoleTable();
