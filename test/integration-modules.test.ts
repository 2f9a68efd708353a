import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toolCatalog } from '../src/integrations/catalog.ts';
import { integrationModules } from '../src/integrations/index.ts';

/**
 * Every outside system is a folder the rest of the product only discovers (issue 8). The core,
 * store, engine, API and service name no vendor; production code never imports an emulator; each
 * module is complete.
 */
const ROOT = path.resolve(import.meta.dirname, '..');

/** Vendors and their systems, as code or prose would name them. */
const VENDOR = /connect\s?wise|halo\s?psa|autotask|hudu|it\s?glue|\bm365\b|microsoft|\bentra\b|\bgraph\b|\bslack\b|\bjira\b|twilio|\bdatto\b|kaseya/i;

/**
 * Words that look like vendors and are not: the directory's kind of group that collaboration suites
 * call a "Microsoft 365 group" is the world fixture's word `microsoft365` (a kind, not a vendor to
 * talk to). Frozen migrations may move data written under an old vendor column.
 */
const ALLOWED: { file: RegExp; text: RegExp }[] = [
  { file: /^src\/core\/directory\.ts$/, text: /'microsoft365'/ },
  { file: /^src\/store\/migrations\//, text: /'slack'/ },
];

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir))) {
    const relative = path.join(dir, entry);
    if (statSync(path.join(ROOT, relative)).isDirectory()) out.push(...filesUnder(relative));
    else if (relative.endsWith('.ts') && !relative.endsWith('.test.ts')) out.push(relative);
  }
  return out;
}

describe('the engine names no vendor', () => {
  const files = [...['src/core', 'src/store', 'src/engine', 'src/api'].flatMap(filesUnder), 'src/service.ts'];

  it('finds no vendor or system name in the core, store, engine, API or service', () => {
    const found: string[] = [];
    for (const file of files) {
      readFileSync(path.join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, index) => {
          const cleaned = ALLOWED.filter((a) => a.file.test(file)).reduce((text, a) => text.replace(new RegExp(a.text, 'g'), ''), line);
          if (VENDOR.test(cleaned)) found.push(`${file}:${index + 1}: ${line.trim()}`);
        });
    }
    console.log(`[modules] ${files.length} files of the core, store, engine, API and service searched for vendor names`);
    expect(found).toEqual([]);
  });

  it('imports no integration folder from the core, store, engine, API or service (only the module list and shared types)', () => {
    const imports: string[] = [];
    for (const file of files) {
      for (const match of readFileSync(path.join(ROOT, file), 'utf8').matchAll(/from '([^']+)'/g)) {
        const target = path.normalize(path.join(path.dirname(file), match[1]!));
        const folder = /^src\/integrations\/([^/]+)\//.exec(target)?.[1];
        if (folder) imports.push(`${file} imports ${target}`);
      }
    }
    expect(imports).toEqual([]);
  });

  it('never imports an emulator from production code', () => {
    const production = filesUnder('src').filter((file) => !/emulator|\/demo\.ts$|testing\.ts$|outbound-testing\.ts$|^src\/(demo|cli)\//.test(file));
    const offending: string[] = [];
    for (const file of production) {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      for (const match of text.matchAll(/from '([^']+)'/g)) {
        if (/emulator|\/demo\.ts$/.test(match[1]!)) offending.push(`${file} imports ${match[1]}`);
      }
    }
    expect(offending).toEqual([]);
  });
});

describe('the module list', () => {
  it('gives every module a kind, a label, a scope, schemas and what it provides; every tool is its own', () => {
    const kinds = integrationModules.map((m) => m.kind);
    expect(new Set(kinds).size).toBe(kinds.length);
    for (const module of integrationModules) {
      expect(module.kind).toMatch(/^[a-z0-9]+$/);
      expect(module.label.length).toBeGreaterThan(0);
      expect(['msp', 'client']).toContain(module.scope);
      expect(module.provides.length).toBeGreaterThan(0);
      for (const tool of module.tools) {
        expect(tool.name.startsWith(`${module.kind}.`), tool.name).toBe(true);
        expect(tool.integration).toBe(module.kind);
        if (tool.kind === 'write') expect(tool.ask({ user: 'a@b.example' })).not.toContain(tool.name);
        if (tool.secretResult) expect(typeof tool.prepareSecret, tool.name).toBe('function');
      }
      if (module.scope === 'msp') expect(module.clientLink, module.kind).toBeDefined();
      if (module.webhooks) expect(module.webhookRoutes?.length, module.kind).toBeGreaterThan(0);
    }
    expect(toolCatalog.map((t) => t.name)).toEqual(integrationModules.flatMap((m) => m.tools.map((t) => t.name)));
  });

  it('refuses settings and secrets a module cannot work with, by its schemas', () => {
    for (const module of integrationModules) {
      expect(module.settings.safeParse({}).success, module.kind).toBe(false);
      expect(module.secrets.safeParse({}).success, module.kind).toBe(false);
    }
  });
});
