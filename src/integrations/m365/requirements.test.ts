import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allNeeds, OTHER_REQUIREMENTS, TOOL_REQUIREMENTS } from './requirements.ts';
import { m365Tools } from './tools.ts';

/** The README's set-up list says everything the requirements table says (and nothing is left out of the table). */
const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
const setup = readme.slice(readme.indexOf('## Set-up list'), readme.indexOf('## Roles and hybrid tenants'));

describe('the requirements table', () => {
  it('covers every tool of the catalog', () => {
    expect(TOOL_REQUIREMENTS.map((r) => r.tool).sort()).toEqual(m365Tools.map((t) => t.name).sort());
  });

  it.each(TOOL_REQUIREMENTS.map((r) => [r.tool, r] as const))('is in the README for %s: every permission and role, required and optional', (tool, requirement) => {
    const row = setup.split('\n').find((line) => line.startsWith(`| \`${tool}\` |`));
    expect(row, `no row for ${tool} in the README's set-up list`).toBeDefined();
    const [, needs = '', optional = ''] = row!.split('|').slice(1);
    for (const need of requirement.needs) {
      const cell = need.level === 'required' ? needs : optional;
      expect(cell, `${tool}: ${need.name} (${need.level})`).toContain(need.kind === 'role' ? `role ${need.name}` : need.name);
    }
  });

  it('lists every permission and role, with why, in the README (the tools, the approval mail, the doctor)', () => {
    for (const need of allNeeds()) {
      const row = setup.split('\n').find((line) => line.startsWith(need.kind === 'permission' ? `| \`${need.name}\` |` : `| ${need.name}`));
      expect(row, `${need.kind} ${need.name} has no row of its own in the README's set-up list`).toBeDefined();
    }
    expect(OTHER_REQUIREMENTS.length).toBeGreaterThan(0);
  });
});
