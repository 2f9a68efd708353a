import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import { ItGlueClient, PAGE_SIZE } from './client.ts';
import { emulatorItGlueApiKey, type ItGlueEmulator, itGlueOrganizationId, startItGlueEmulator } from './emulator/index.ts';
import { silentLogger } from '../../logger.ts';
import { itglue } from './index.ts';
import { ItGlueKnowledge } from './knowledge.ts';

/** The IT Glue client and knowledge capability against the IT Glue emulator, over real HTTP. */
let emulator: ItGlueEmulator;
const KEY = emulatorItGlueApiKey('woodgrove');
const LITWARE = itGlueOrganizationId('woodgrove', 'litware');
const WOODGROVE = itGlueOrganizationId('woodgrove', 'woodgrove');
const ADATUM = itGlueOrganizationId('tailspin', 'adatum');

function client(apiKey = KEY, options: ConstructorParameters<typeof ItGlueClient>[1] = {}): ItGlueClient {
  return new ItGlueClient({ baseUrl: emulator.url, apiKey, name: 'Woodgrove KB' }, { maxInlineWaitMs: 2_000, ...options });
}

async function caught(promise: Promise<unknown>): Promise<DeskhandError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeskhandError);
  return error as DeskhandError;
}

beforeAll(async () => {
  emulator = await startItGlueEmulator({ world: loadDemoWorld() });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('the IT Glue client', () => {
  it("lists an organization's root documents (string ids, kebab-case attributes) and reads their sections", async () => {
    const documents = await client().listDocuments(LITWARE);
    expect(documents.map((d) => [d.name, d.organizationId, d.published])).toEqual([['Access', LITWARE, true]]);
    expect(documents[0]!.id).toMatch(/^\d+$/);
    expect(documents[0]!.url).toBe(`${emulator.url}/${LITWARE}/docs/${documents[0]!.id}`);
    const sections = await client().listSections(documents[0]!.id);
    expect(sections.map((s) => s.resourceType)).toEqual(['Document::Text']);
    expect(emulator.requests().map((r) => [r.path, r.query['page[size]']])).toEqual([
      [`/organizations/${LITWARE}/relationships/documents`, String(PAGE_SIZE)],
      [`/documents/${documents[0]!.id}/relationships/sections`, String(PAGE_SIZE)],
    ]);
  });

  it('follows meta.next-page until the last page', async () => {
    for (let i = 0; i < PAGE_SIZE + 20; i++) emulator.addDocument({ msp: 'woodgrove', organizationId: LITWARE, title: `Extra ${String(i).padStart(3, '0')}`, body: 'x' });
    const documents = await client().listDocuments(LITWARE);
    expect(documents).toHaveLength(PAGE_SIZE + 21);
    expect(emulator.requests().map((r) => r.query['page[number]'])).toEqual(['1', '2']);
  });

  it("lists the root only: a document inside a folder is not among an organization's documents", async () => {
    emulator.addDocument({ msp: 'woodgrove', organizationId: LITWARE, title: 'In a folder', body: 'x', folderId: '77' });
    expect((await client().listDocuments(LITWARE)).map((d) => d.name)).toEqual(['Access']);
  });

  it('refuses a wrong key with 403 (as IT Glue does), naming the integration and the call but never the key', async () => {
    const wrong = 'ITG.wrong-key-000000000000';
    const error = await caught(client(wrong).listDocuments(LITWARE));
    expect(error.details?.['status']).toBe(403);
    expect(error.message).toContain('IT Glue (Woodgrove KB)');
    expect(error.message).toContain(`GET /organizations/${LITWARE}/relationships/documents`);
    expect(error.message).toContain('the API key was refused');
    const text = `${error.message} ${JSON.stringify(error.details)}`;
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(KEY);
  });

  it('waits out a 429 with Retry-After, retries a 500, and gives up after a bounded number', async () => {
    emulator.addFault({ status: 429, retryAfterSeconds: 1, pathContains: '/relationships/documents' });
    const started = Date.now();
    expect(await client().listDocuments(LITWARE)).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    emulator.addFault({ status: 500, pathContains: '/relationships/documents' });
    expect(await client().listDocuments(LITWARE)).toHaveLength(1);
    expect(emulator.requests().map((r) => r.status)).toEqual([429, 200, 500, 200]);
    emulator.addFault({ status: 502, count: 10 });
    const error = await caught(client(KEY, { maxAttempts: 3 }).listDocuments(LITWARE));
    expect([error.retryable, error.details?.['status']]).toEqual([true, 502]);
  });

  it('times out a call that does not answer', async () => {
    emulator.addFault({ delayMs: 1_500, count: 5 });
    const error = await caught(client(KEY, { timeoutMs: 200, maxAttempts: 2 }).getDocument('1'));
    expect(error.details?.['timedOut']).toBe(true);
  });

  it("never reaches another MSP's account: its organizations are unknown to this key", async () => {
    expect(await client().getOrganization(ADATUM)).toBeNull();
    expect((await client().getOrganization(WOODGROVE))?.name).toBe('Woodgrove Tech Partners');
    expect(await client().getDocument('1')).toBeNull();
  });
});

describe("IT Glue's knowledge capability", () => {
  const knowledge = (clientLink: string | null, mspOrganizationId: string | null = WOODGROVE) => new ItGlueKnowledge(client(), { name: 'Woodgrove KB', mspOrganizationId, clientLink });

  it("lists a linked client's documents as text with their links, and the MSP's own organization's as MSP-wide", async () => {
    const litware = await knowledge(LITWARE).list({ clientLink: LITWARE });
    expect(litware.map((d) => [d.title, d.body])).toEqual([['Access', 'Zendesk: SG-App-Zendesk. Figma: SG-App-Figma. Anything else: escalate.']]);
    expect(litware[0]!.url).toMatch(new RegExp(`/${LITWARE}/docs/\\d+$`));
    expect((await knowledge(null).list({ clientLink: null })).map((d) => d.title).sort()).toEqual(['Woodgrove support hours', 'Woodgrove ticket notes']);
  });

  it('leaves unpublished documents out, matches a query on names before reading sections, and asks nothing without an MSP organization', async () => {
    emulator.addDocument({ msp: 'woodgrove', organizationId: LITWARE, title: 'Draft', body: 'x', published: false });
    expect((await knowledge(LITWARE).list({ clientLink: LITWARE })).map((d) => d.title)).toEqual(['Access']);
    emulator.reset();
    expect(await knowledge(null).list({ clientLink: null }, 'hours')).toHaveLength(1);
    expect(emulator.requests().filter((r) => r.path.endsWith('/sections'))).toHaveLength(1);
    emulator.reset();
    expect(await knowledge(null, null).list({ clientLink: null })).toEqual([]);
    expect(emulator.requests()).toEqual([]);
  });

  it("gets a document of the connection's client or of the MSP, never of another organization", async () => {
    emulator.addDocument({ msp: 'woodgrove', organizationId: '4242', title: 'Elsewhere', body: 'x' });
    const elsewhere = emulator.accounts().find((a) => a.msp === 'woodgrove')!.documents.find((d) => d.name === 'Elsewhere')!;
    const access = (await knowledge(LITWARE).list({ clientLink: LITWARE }))[0]!;
    expect((await knowledge(LITWARE).get(access.id))?.body).toContain('SG-App-Figma');
    expect(await knowledge(null).get(access.id)).toBeNull();
    expect(await knowledge(LITWARE).get(elsewhere.id)).toBeNull();
  });

  it('connects through the module: the region names the host, apiBaseUrl overrides it', async () => {
    const connection = itglue.connect({
      integrationId: 'i',
      name: 'Woodgrove KB',
      kind: 'itglue',
      settings: { region: 'eu', apiBaseUrl: emulator.url, mspOrganizationId: WOODGROVE, developmentLoopback: true },
      secrets: { apiKey: KEY },
    });
    expect(await connection.knowledge!.list({ clientLink: LITWARE })).toHaveLength(1);
    expect(itglue.settings.safeParse({ region: 'mars' }).success).toBe(false);
  });
});

describe('the IT Glue doctor', () => {
  const integration = (apiKey: string) => ({
    id: 'i',
    mspId: 'woodgrove',
    name: 'Woodgrove KB',
    kind: 'itglue',
    settings: { region: 'us', apiBaseUrl: emulator.url, mspOrganizationId: WOODGROVE, developmentLoopback: true },
    secrets: { apiKey },
    connection: {},
  });
  const host = (links: string[]) => ({
    logger: silentLogger,
    linkedClients: async () => links.map((externalId, i) => ({ clientId: `c${i}`, clientName: `Client ${i}`, externalId })),
  });

  it('reports every tool ok when the key is accepted and every organization is readable', async () => {
    const report = await itglue.doctor!(integration(KEY), host([LITWARE]));
    expect(report.ok).toBe(true);
    expect(report.checks[0]).toMatchObject({ name: 'IT Glue API key (x-api-key)', ok: true });
  });

  it('names the refused key, and an organization of another account as unknown', async () => {
    const refused = await itglue.doctor!(integration('ITG.wrong'), host([LITWARE]));
    expect(refused.checks[0]).toMatchObject({ ok: false, detail: 'the API key was refused (HTTP 403)' });
    expect(refused.tools.every((t) => t.status === 'missing')).toBe(true);
    const other = await itglue.doctor!(integration(KEY), host([ADATUM]));
    expect(other.ok).toBe(false);
    expect(other.tools[0]!.missing[0]!.detail).toMatch(/unknown to this account/);
  });
});
