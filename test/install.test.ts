import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Issue 6, defect 14: `npm install` warned EBADENGINE (cookie@2.0.2, pulled in by light-my-request,
 * wants Node 22; deskhand promises Node >= 20.19). npm warns when an installed package's `engines.node`
 * does not accept the running Node: every package the lock installs must accept the oldest Node that
 * package.json promises, and the Node running the tests.
 */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

interface Lock {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
}

type Version = [number, number, number];

function parseVersion(text: string): Version {
  const [major = 0, minor = 0, patch = 0] = text.replace(/^v/, '').split('.').map((part) => Number.parseInt(part, 10) || 0);
  return [major, minor, patch];
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** One comparator of a semver range, for the forms package.json `engines` use (>=, >, <, <=, ^, ~, x-ranges). */
function accepts(version: Version, comparator: string): boolean {
  const match = /^(>=|<=|>|<|=|\^|~)?v?(\d+|x|\*)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?$/.exec(comparator);
  if (!match) throw new Error(`cannot read the range part "${comparator}"`);
  const [, operator = '', ...parts] = match;
  const given = parts.filter((part): part is string => part !== undefined && part !== 'x' && part !== '*').map(Number);
  const bound: Version = [given[0] ?? 0, given[1] ?? 0, given[2] ?? 0];
  const order = compare(version, bound);
  switch (operator) {
    case '>=':
      return order >= 0;
    case '>':
      return order > 0;
    case '<=':
      return order <= 0;
    case '<':
      return order < 0;
    case '^': {
      const level = bound[0] > 0 || given.length === 1 ? 0 : bound[1] > 0 || given.length === 2 ? 1 : 2;
      return order >= 0 && version.slice(0, level + 1).every((part, i) => part === bound[i]);
    }
    case '~':
      return order >= 0 && version[0] === bound[0] && (given.length < 2 || version[1] === bound[1]);
    default:
      // "20", "20.x", "=20.1.2": every part given must match.
      return given.every((part, i) => version[i] === part);
  }
}

function satisfies(versionText: string, range: string): boolean {
  const version = parseVersion(versionText);
  return range.split('||').some((set) => {
    const comparators = set.trim().replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1').split(/\s+/).filter(Boolean);
    return comparators.every((comparator) => accepts(version, comparator));
  });
}

describe('the installed packages and the Node versions deskhand promises', () => {
  const pkg = JSON.parse(readFileSync(`${repoRoot}package.json`, 'utf8')) as { engines: { node: string } };
  const lock = JSON.parse(readFileSync(`${repoRoot}package-lock.json`, 'utf8')) as Lock;
  const oldest = /\d+(\.\d+){0,2}/.exec(pkg.engines.node)![0];

  it('reads ranges the way npm does (for the forms the lock holds)', () => {
    expect(satisfies('20.19.0', '>=20.19')).toBe(true);
    expect(satisfies('20.19.0', '>=22')).toBe(false);
    expect(satisfies('20.19.0', '^20.19.0 || >=22.12.0')).toBe(true);
    expect(satisfies('20.18.9', '^20.19.0 || >=22.12.0')).toBe(false);
    expect(satisfies('21.0.0', '^20.19.0 || >=22.12.0')).toBe(false);
    expect(satisfies('20.19.0', '>= 10.x')).toBe(true);
    expect(satisfies('20.19.0', '20 || >=22')).toBe(true);
    expect(satisfies('20.19.0', '^10 || ^12 || >=14')).toBe(true);
    expect(satisfies('20.19.0', '^8.16.0 || ^10.6.0 || >=11.0.0')).toBe(true);
    expect(satisfies('20.19.0', '^20.0.0 || ^22.0.0 || >=24.0.0')).toBe(true);
    expect(satisfies('23.1.0', '^20.0.0 || ^22.0.0 || >=24.0.0')).toBe(false);
  });

  it(`every package the lock installs accepts Node ${oldest} and the Node running now (${process.version}): no EBADENGINE`, () => {
    const refused: string[] = [];
    for (const [where, entry] of Object.entries(lock.packages)) {
      const range = entry.engines && !Array.isArray(entry.engines) ? entry.engines.node : undefined;
      if (!where || !range) continue;
      for (const node of [oldest, process.version]) {
        if (!satisfies(node, range)) refused.push(`${where}@${entry.version} wants node ${range}, not ${node}`);
      }
    }
    expect(refused).toEqual([]);
  });
});
