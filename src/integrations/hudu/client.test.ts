import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeskhandError } from '../../core/errors.ts';
import { loadDemoWorld } from '../../world/fixture.ts';
import { HuduClient, PAGE_SIZE } from './client.ts';
import { emulatorHuduApiKey, type HuduEmulator, huduCompanyId, startHuduEmulator } from './emulator/index.ts';
import { silentLogger } from '../../logger.ts';
import { hudu } from './index.ts';
import { HuduKnowledge } from './knowledge.ts';

/** The Hudu client and knowledge capability against the Hudu emulator, over real HTTP. */
let emulator: HuduEmulator;
const KEY = emulatorHuduApiKey('northwind');
const CONTOSO = huduCompanyId('northwind', 'contoso');
const FABRIKAM = huduCompanyId('northwind', 'fabrikam');
const NORTHWIND = huduCompanyId('northwind', 'northwind');

function client(apiKey = KEY, options: ConstructorParameters<typeof HuduClient>[1] = {}): HuduClient {
  return new HuduClient({ baseUrl: emulator.url, apiKey, name: 'Northwind KB' }, { maxInlineWaitMs: 2_000, ...options });
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
  emulator = await startHuduEmulator({ world: loadDemoWorld() });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

describe('the Hudu client', () => {
  it("lists a company's articles as HTML, with their links, sending the key in x-api-key", async () => {
    const articles = await client().listArticles({ companyId: CONTOSO });
    expect(articles.map((a) => a.name).sort()).toEqual(['Application access', 'Leavers', 'Licenses', 'Passwords and MFA', 'Printers and hardware', 'Shared mailboxes and distribution lists']);
    expect(articles.every((a) => a.company_id === CONTOSO)).toBe(true);
    expect(articles[0]!.content).toMatch(/^<p>/);
    expect(articles[0]!.url).toMatch(new RegExp(`^${emulator.url}/kba/`));
    expect(emulator.requests().map((r) => [r.path, r.query])).toEqual([['/api/v1/articles', { company_id: String(CONTOSO), page: '1', page_size: String(PAGE_SIZE) }]]);
  });

  it('reads every page, and stops at the first short one', async () => {
    for (let i = 0; i < PAGE_SIZE + 30; i++) emulator.addArticle({ msp: 'northwind', companyId: FABRIKAM, title: `Extra ${String(i).padStart(3, '0')}`, body: 'Nothing to see.' });
    const articles = await client().listArticles({ companyId: FABRIKAM });
    expect(articles).toHaveLength(PAGE_SIZE + 31);
    expect(new Set(articles.map((a) => a.id)).size).toBe(PAGE_SIZE + 31);
    expect(emulator.requests().map((r) => r.query['page'])).toEqual(['1', '2']);
  });

  it('refuses a wrong key with 401, naming the integration and the call but never the key', async () => {
    const wrong = 'not-the-key-0123456789';
    const error = await caught(client(wrong).listArticles({ companyId: CONTOSO }));
    expect(error.details?.['status']).toBe(401);
    expect(error.message).toContain('Hudu (Northwind KB)');
    expect(error.message).toContain('GET /api/v1/articles');
    expect(error.retryable).toBe(false);
    const text = `${error.message} ${JSON.stringify(error.details)}`;
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(KEY);
  });

  it('waits out a 429 with Retry-After, and retries a 500', async () => {
    emulator.addFault({ status: 429, retryAfterSeconds: 1, pathContains: '/api/v1/articles' });
    const started = Date.now();
    expect((await client().listArticles({ companyId: FABRIKAM })).map((a) => a.name)).toEqual(['Access requests']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    emulator.addFault({ status: 500, pathContains: '/api/v1/articles' });
    expect(await client().listArticles({ companyId: FABRIKAM })).toHaveLength(1);
    expect(emulator.requests().map((r) => r.status)).toEqual([429, 200, 500, 200]);
  });

  it('gives up after a bounded number of 5xx, and hands a long Retry-After back as retryable', async () => {
    emulator.addFault({ status: 503, count: 10, pathContains: '/api/v1/articles' });
    const error = await caught(client(KEY, { maxAttempts: 3 }).listArticles({ companyId: FABRIKAM }));
    expect([error.retryable, error.details?.['status']]).toEqual([true, 503]);
    expect(emulator.requests()).toHaveLength(3);
    emulator.clearFaults();
    emulator.addFault({ status: 429, retryAfterSeconds: 120, pathContains: '/api/v1/articles' });
    const later = await caught(client().listArticles({ companyId: FABRIKAM }));
    expect([later.retryable, later.retryAfterMs]).toEqual([true, 120_000]);
  });

  it('times out a call that does not answer', async () => {
    emulator.addFault({ delayMs: 1_500, count: 5, pathContains: '/api/v1/articles' });
    const error = await caught(client(KEY, { timeoutMs: 200, maxAttempts: 2 }).listArticles({ companyId: FABRIKAM }));
    expect(error.details?.['timedOut']).toBe(true);
    expect(error.message).toContain('Hudu (Northwind KB)');
  });

  it('reads one article, and answers null for an unknown one', async () => {
    const [first] = await client().listArticles({ companyId: FABRIKAM });
    expect((await client().getArticle(first!.id))?.name).toBe('Access requests');
    expect(await client().getArticle(1)).toBeNull();
  });

  it("never shows another MSP's instance: a key sees its own companies only", async () => {
    const companies = await client().listCompanies();
    expect(companies.map((c) => c.id).sort()).toEqual([CONTOSO, FABRIKAM, NORTHWIND].sort());
  });
});

describe("Hudu's knowledge capability", () => {
  const knowledge = (clientLink: string | null, mspCompanyId: number | null = NORTHWIND) => new HuduKnowledge(client(), { name: 'Northwind KB', mspCompanyId, clientLink });

  it("lists a linked client's articles as text, and the MSP's own company's as MSP-wide", async () => {
    const contoso = await knowledge(String(CONTOSO)).list({ clientLink: String(CONTOSO) });
    const access = contoso.find((a) => a.title === 'Application access')!;
    expect(access.body).toBe(loadDemoWorld().clients.find((c) => c.id === 'contoso')!.runbooks.find((r) => r.title === 'Application access')!.body);
    expect(access.url).toMatch(/\/kba\/application-access-\d+$/);
    const mspWide = await knowledge(null).list({ clientLink: null });
    expect(mspWide.map((a) => a.title).sort()).toEqual(['How Northwind technicians work a ticket', 'Northwind service desk hours']);
  });

  it('asks nothing for the MSP-wide list when no MSP company is set, and leaves drafts out', async () => {
    expect(await knowledge(null, null).list({ clientLink: null })).toEqual([]);
    expect(emulator.requests()).toEqual([]);
    emulator.addArticle({ msp: 'northwind', companyId: FABRIKAM, title: 'Half-written', body: 'Not yet.', draft: true });
    expect((await knowledge(String(FABRIKAM)).list({ clientLink: String(FABRIKAM) })).map((a) => a.title)).toEqual(['Access requests']);
  });

  it("narrows by a query, on Hudu's side", async () => {
    const found = await knowledge(String(CONTOSO)).list({ clientLink: String(CONTOSO) }, 'Leavers');
    expect(found.map((a) => a.title)).toEqual(['Leavers']);
    expect(emulator.requests()[0]!.query['search']).toBe('Leavers');
  });

  it("gets an article of the connection's client or of the MSP, never another client's", async () => {
    const fabrikamArticle = (await knowledge(String(FABRIKAM)).list({ clientLink: String(FABRIKAM) }))[0]!;
    const mspArticle = (await knowledge(null).list({ clientLink: null }))[0]!;
    expect((await knowledge(String(FABRIKAM)).get(fabrikamArticle.id))?.title).toBe('Access requests');
    expect((await knowledge(String(CONTOSO)).get(mspArticle.id))?.title).toBe(mspArticle.title);
    expect(await knowledge(String(CONTOSO)).get(fabrikamArticle.id)).toBeNull();
    expect(await knowledge(null).get(fabrikamArticle.id)).toBeNull();
    expect(await knowledge(null).get('../companies')).toBeNull();
  });

  it('connects through the module with its settings and secrets', async () => {
    const connection = hudu.connect({
      integrationId: 'i',
      name: 'Northwind KB',
      kind: 'hudu',
      settings: { baseUrl: emulator.url, mspCompanyId: String(NORTHWIND), developmentLoopback: true },
      secrets: { apiKey: KEY },
      clientLink: String(FABRIKAM),
    });
    expect((await connection.knowledge!.list({ clientLink: String(FABRIKAM) })).map((a) => a.title)).toEqual(['Access requests']);
    expect(() => hudu.connect({ integrationId: 'i', name: 'h', kind: 'hudu', settings: { baseUrl: emulator.url }, secrets: { apiKey: KEY } })).toThrow(/http:\/\//);
  });
});

describe('the Hudu doctor', () => {
  const integration = (apiKey: string) => ({
    id: 'i',
    mspId: 'northwind',
    name: 'Northwind KB',
    kind: 'hudu',
    settings: { baseUrl: emulator.url, mspCompanyId: String(NORTHWIND), developmentLoopback: true },
    secrets: { apiKey },
    connection: {},
  });
  const host = (links: string[]) => ({
    logger: silentLogger,
    linkedClients: async () => links.map((externalId, i) => ({ clientId: `c${i}`, clientName: `Client ${i}`, externalId })),
  });

  it('reports every tool ok when the key signs in and every company is readable', async () => {
    const report = await hudu.doctor!(integration(KEY), host([String(CONTOSO), String(FABRIKAM)]));
    expect(report.ok).toBe(true);
    expect(report.tools.map((t) => [t.tool, t.status])).toEqual([
      ['hudu.search_articles', 'ok'],
      ['hudu.get_article', 'ok'],
    ]);
  });

  it('names the refused key and the company the key cannot see, with the fix', async () => {
    const refused = await hudu.doctor!(integration('wrong-key-123'), host([]));
    expect(refused.ok).toBe(false);
    expect(refused.checks[0]).toMatchObject({ ok: false, detail: 'the API key was refused (HTTP 401)' });
    expect(JSON.stringify(refused)).not.toContain('wrong-key-123');
    const unseen = await hudu.doctor!(integration(KEY), host(['424242']));
    expect(unseen.tools[0]!.status).toBe('missing');
    expect(unseen.tools[0]!.missing[0]!.detail).toMatch(/company 424242 is unknown, or outside the key's company scope/);
  });
});
