import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { toolCatalog } from '../src/integrations/catalog.ts';
import { silentLogger } from '../src/logger.ts';
import { json } from '../src/store/db.ts';
import { createTestDatabase } from './support/db.ts';
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
      // An MSP-wide system that reaches each client's own data (its PSA company, tenant, documentation) needs the client's link; a planner does not.
      if (module.scope === 'msp' && module.provides.some((p) => p !== 'planner')) expect(module.clientLink, module.kind).toBeDefined();
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

describe('connected the way MSPs connect them', () => {
  let sb: Sandbox;
  const ADMIN = 'ava.chen@northwind-it.example';

  beforeAll(async () => {
    sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
  }, 120_000);

  afterAll(async () => {
    await sb?.close();
  });

  async function clientId(slug: string): Promise<string> {
    return (await sb.service.ctx.db.selectFrom('clients').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;
  }

  it("reaches a client's tenant through the MSP's one multi-tenant app and the client's tenant link", async () => {
    const adatum = await clientId('adatum');
    const identity = await sb.service.ctx.integrations.identityForClient(adatum);
    const row = await sb.service.ctx.db.selectFrom('integrations').selectAll().where('id', '=', identity!.integrationId).executeTakeFirstOrThrow();
    expect([row.msp_id, row.client_id, row.kind]).toEqual(['tailspin', null, 'm365']);
    const link = await sb.service.ctx.db.selectFrom('client_links').select('external_id').where('client_id', '=', adatum).where('integration_id', '=', row.id).executeTakeFirstOrThrow();
    expect(link.external_id).toBe(sb.emulators.graph.tenant('adatum').tenantId);
    // The app's credentials are stored once, for the MSP: no tenant in them.
    expect((row.config as Record<string, unknown>)['tenantId']).toBeUndefined();
    const { reader } = identity!.reader(async () => [], () => {});
    const dan = await reader.getUser('dan.brown@adatum.example');
    expect(dan?.displayName).toBeTruthy();
    const group = (await reader.findGroups('')).find((g) => g.displayName === 'App-Slack')!;
    await identity!.run('m365.add_user_to_group', { user: 'dan.brown@adatum.example', group: 'App-Slack' }, { user: dan!.id, group: group.id });
    expect(sb.emulators.graph.tenant('adatum').users.find((u) => u.userPrincipalName === 'dan.brown@adatum.example')?.groups).toContain('App-Slack');
  });

  it("uses a client's own app over its MSP's when the client connects one", async () => {
    const adatum = await clientId('adatum');
    const { emulatorAppCredentials } = await import('../src/integrations/m365/emulator/credentials.ts');
    const own = emulatorAppCredentials('adatum');
    const id = crypto.randomUUID();
    const at = new Date();
    await sb.service.ctx.db
      .insertInto('integrations')
      .values({
        id,
        msp_id: 'tailspin',
        client_id: adatum,
        kind: 'm365',
        name: "Adatum's own app",
        config: json({ tenantId: own.tenantId, clientId: own.clientId, graphBaseUrl: sb.emulators.endpoints.graph, loginBaseUrl: sb.emulators.endpoints.login, developmentLoopback: true }),
        secrets_encrypted: sb.service.ctx.secrets.encryptJson({ clientSecret: own.clientSecret }),
        created_at: at,
        updated_at: at,
      })
      .execute();
    sb.service.ctx.integrations.invalidate();
    try {
      const identity = await sb.service.ctx.integrations.identityForClient(adatum);
      expect(identity?.integrationId).toBe(id);
      const { reader } = identity!.reader(async () => [], () => {});
      expect((await reader.getUser('erin.green@adatum.example'))?.userPrincipalName).toBe('erin.green@adatum.example');
    } finally {
      await sb.service.ctx.db.deleteFrom('integrations').where('id', '=', id).execute();
      sb.service.ctx.integrations.invalidate();
    }
  });

  it("lets a client override one tool's policy, shows where each policy comes from, and honours it", async () => {
    const contoso = await clientId('contoso');
    const admin = await sb.tokenFor(ADMIN);
    const before = await sb.api<{ tools: { tool: string; policy: string; source: string }[] }>('GET', `/api/clients/${contoso}/policies`, { token: admin });
    expect(before.status).toBe(200);
    const of = (body: typeof before.body, tool: string) => body.tools.find((t) => t.tool === tool);
    expect(of(before.body, 'm365.revoke_sessions')).toMatchObject({ policy: 'auto', source: 'integration' });
    expect(of(before.body, 'm365.add_user_to_group')).toMatchObject({ policy: 'approval_needed', source: 'default' });

    const set = await sb.api('PUT', `/api/clients/${contoso}/policies/m365.add_user_to_group`, { token: admin, body: { policy: 'disabled' } });
    expect(set.status).toBe(200);
    const after = await sb.api<{ tools: { tool: string; policy: string; source: string }[] }>('GET', `/api/clients/${contoso}/policies`, { token: admin });
    expect(of(after.body, 'm365.add_user_to_group')).toMatchObject({ policy: 'disabled', source: 'client' });
    try {
      const ticket = await sb.openTicket('contoso', 'grady.archie@contoso.example', 'Could you give me Zendesk access?');
      const request = await sb.requestForTicket(ticket);
      const final = await sb.waitForRequest(request.id, FINAL);
      expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
      // The internal note lives on the ticket the request came from.
      expect([final.note_integration_id, final.note_ref]).toEqual([final.source_integration_id, final.external_ref]);
      expect(sb.emulators.graph.tenant('contoso').users.find((u) => u.userPrincipalName === 'grady.archie@contoso.example')?.groups).not.toContain('SG-App-Zendesk');
    } finally {
      const inherited = await sb.api<{ policy: string; source: string }>('PUT', `/api/clients/${contoso}/policies/m365.add_user_to_group`, { token: admin, body: { policy: 'inherit' } });
      expect(inherited.body).toMatchObject({ policy: 'approval_needed', source: 'default' });
    }
    // Another tool's client override is refused for a secret-result tool set to auto, as on the integration.
    const refused = await sb.api<{ error: { message: string } }>('PUT', `/api/clients/${contoso}/policies/m365.reset_password`, { token: admin, body: { policy: 'auto' } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/cannot be auto/);
  });
});
