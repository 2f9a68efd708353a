import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { runPlanning } from '../src/engine/diagnose.ts';
import { toolCatalog } from '../src/integrations/catalog.ts';
import { huduCompanyId } from '../src/integrations/hudu/emulator/index.ts';
import { itGlueOrganizationId } from '../src/integrations/itglue/emulator/index.ts';
import { readArticle, readRunbooks, type KnowledgeSource } from '../src/integrations/knowledge.ts';
import { silentLogger } from '../src/logger.ts';
import { BuiltinPlanner } from '../src/planner/builtin.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Runbooks come from the documentation platforms (Hudu for Northwind, IT Glue for Tailspin and
 * Woodgrove), over HTTP: a client's linked company or organization and its MSP's own knowledge base,
 * nothing else; each list is a recorded read under its tool's policy; the note cites the runbook it
 * followed with its title and link.
 */
let sb: Sandbox;
const ADMIN = 'ava.chen@northwind-it.example';

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: silentLogger });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

beforeEach(() => {
  sb.emulators.hudu.reset();
  sb.emulators.itglue.reset();
});

async function clientId(slug: string): Promise<string> {
  return (await sb.service.ctx.db.selectFrom('clients').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;
}

const quiet = { onCall: () => {}, onRefused: () => {} };

async function titles(sources: KnowledgeSource[]): Promise<string[]> {
  return (await readRunbooks(sources, quiet)).map((r) => r.title);
}

describe('which knowledge bases a client reads', () => {
  it("reads a linked client's company and its MSP's own, and no other client's", async () => {
    const sources = await sb.service.ctx.integrations.knowledgeForClient(await clientId('contoso'));
    expect(sources.map((s) => s.clientLink)).toEqual([String(huduCompanyId('northwind', 'contoso')), null]);
    expect(await titles(sources)).toEqual([
      'Application access',
      'Leavers',
      'Licenses',
      'Passwords and MFA',
      'Printers and hardware',
      'Shared mailboxes and distribution lists',
      'How Northwind technicians work a ticket',
      'Northwind service desk hours',
    ]);
    const companies = sb.emulators.hudu.requests().map((r) => r.query['company_id']);
    expect(companies.sort()).toEqual([String(huduCompanyId('northwind', 'contoso')), String(huduCompanyId('northwind', 'northwind'))].sort());
    expect(sb.emulators.itglue.requests()).toEqual([]);
  });

  it("reads only the MSP-wide runbooks for a client that is not linked, never asking for its company", async () => {
    const fabrikam = await clientId('fabrikam');
    const db = sb.service.ctx.db;
    const hudu = await db.selectFrom('integrations').select('id').where('kind', '=', 'hudu').where('msp_id', '=', 'northwind').executeTakeFirstOrThrow();
    const link = await db.selectFrom('client_links').selectAll().where('client_id', '=', fabrikam).where('integration_id', '=', hudu.id).executeTakeFirstOrThrow();
    await db.deleteFrom('client_links').where('client_id', '=', fabrikam).where('integration_id', '=', hudu.id).execute();
    sb.service.ctx.integrations.invalidate(hudu.id);
    try {
      const sources = await sb.service.ctx.integrations.knowledgeForClient(fabrikam);
      expect(sources.map((s) => s.clientLink)).toEqual([null]);
      expect(await titles(sources)).toEqual(['How Northwind technicians work a ticket', 'Northwind service desk hours']);
      expect(sb.emulators.hudu.requests().map((r) => r.query['company_id'])).toEqual([String(huduCompanyId('northwind', 'northwind'))]);
    } finally {
      await db.insertInto('client_links').values(link).execute();
      sb.service.ctx.integrations.invalidate(hudu.id);
    }
  });

  it("reads another MSP's clients from their own platform: never Northwind's Hudu", async () => {
    const adatum = await sb.service.ctx.integrations.knowledgeForClient(await clientId('adatum'));
    expect(adatum.map((s) => s.clientLink)).toEqual([itGlueOrganizationId('tailspin', 'adatum'), null]);
    expect(await titles(adatum)).toEqual(['Applications', 'Tailspin support hours']);
    const litware = await sb.service.ctx.integrations.knowledgeForClient(await clientId('litware'));
    expect(await titles(litware)).toEqual(['Access', 'Woodgrove support hours', 'Woodgrove ticket notes']);
    expect(sb.emulators.hudu.requests()).toEqual([]);
    const organizations = new Set(sb.emulators.itglue.requests().map((r) => /^\/organizations\/(\d+)\//.exec(r.path)?.[1]).filter(Boolean));
    expect([...organizations].sort()).toEqual(
      [itGlueOrganizationId('tailspin', 'adatum'), itGlueOrganizationId('tailspin', 'tailspin'), itGlueOrganizationId('woodgrove', 'litware'), itGlueOrganizationId('woodgrove', 'woodgrove')].sort(),
    );
  });

  it("reads one article of the client's or the MSP's knowledge base by id, never another client's, and never through a disabled tool", async () => {
    const sources = await sb.service.ctx.integrations.knowledgeForClient(await clientId('contoso'));
    const articles = sb.emulators.hudu.instances()[0]!.articles;
    const own = articles.find((a) => a.name === 'Leavers')!;
    const mspWide = articles.find((a) => a.name === 'Northwind service desk hours')!;
    const fabrikams = articles.find((a) => a.name === 'Access requests')!;
    const reads: { tool: string; args: Record<string, string>; result: unknown }[] = [];
    const hooks = { onCall: (tool: string, args: Record<string, string>, result: unknown) => reads.push({ tool, args, result }), onRefused: () => {} };
    expect((await readArticle(sources, String(own.id), hooks))?.body).toContain('block sign-in');
    expect((await readArticle(sources, String(mspWide.id), hooks))?.title).toBe('Northwind service desk hours');
    expect(await readArticle(sources, String(fabrikams.id), hooks)).toBeNull();
    expect(reads.map((r) => [r.tool, r.args['id']])).toEqual([
      ['hudu.get_article', String(own.id)],
      ['hudu.get_article', String(mspWide.id)],
      ['hudu.get_article', String(fabrikams.id)],
    ]);
    sb.emulators.hudu.reset();
    const refused: string[] = [];
    const disabled = sources.map((s) => ({ ...s, policies: new Map([['hudu.get_article', { policy: 'disabled' as const, requireManagerApproval: false }]]) }));
    expect(await readArticle(disabled, String(own.id), { onCall: () => {}, onRefused: (tool) => refused.push(tool) })).toBeNull();
    expect(refused).toEqual(['hudu.get_article']);
    expect(sb.emulators.hudu.requests()).toEqual([]);
  });

  it('keeps the runbooks table out of it: the demo world seeds no runbook rows for documented clients', async () => {
    expect(await sb.service.ctx.db.selectFrom('runbooks').select('id').execute()).toEqual([]);
  });
});

describe('diagnosis reads runbooks through the documentation platforms', () => {
  it('cites the runbook it followed, with its title and link, in the internal note; the list is a recorded read', async () => {
    const ticket = await sb.openTicket('contoso', 'alex.wilber@contoso.example', 'Can I get access to Figma please?');
    const request = await sb.requestForTicket(ticket);
    await sb.waitForRequest(request.id, (row) => row.state !== 'received' && row.state !== 'diagnosing');
    await sb.waitForDelivered(request.id);
    const access = sb.emulators.hudu.instances()[0]!.articles.find((a) => a.name === 'Application access')!;
    const link = `${sb.emulators.hudu.url}/kba/${access.slug}`;
    const notes = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket)!.notes.filter((n) => n['internalAnalysisFlag'] === true);
    expect(notes.map((n) => String(n['text'])).join('\n')).toContain(`Runbook "Application access" (${link}): "Figma: SG-App-Figma"`);
    const diagnosis = await sb.service.ctx.db.selectFrom('diagnoses').select('reads').where('request_id', '=', request.id).executeTakeFirstOrThrow();
    const reads = diagnosis.reads as { tool: string; args: Record<string, string>; result: { articles?: { title: string; url: string }[] } }[];
    const listed = reads.filter((r) => r.tool === 'hudu.search_articles');
    expect(listed.map((r) => r.args['scope'])).toEqual([`client:${huduCompanyId('northwind', 'contoso')}`, 'msp']);
    expect(listed[0]!.result.articles).toContainEqual({ id: String(access.id), title: 'Application access', url: link });
    // The link opens the article.
    const page = await fetch(link);
    expect(await page.text()).toContain('SG-App-Figma');
  });

  it('never calls a disabled read tool: the runbooks are not read and the request goes to a technician', async () => {
    const contoso = await clientId('contoso');
    const admin = await sb.tokenFor(ADMIN);
    const set = await sb.api('PUT', `/api/clients/${contoso}/policies/hudu.search_articles`, { token: admin, body: { policy: 'disabled' } });
    expect(set.status).toBe(200);
    try {
      const ticket = await sb.openTicket('contoso', 'alex.wilber@contoso.example', 'Can I get access to Figma please?');
      const request = await sb.requestForTicket(ticket);
      const final = await sb.waitForRequest(request.id, FINAL);
      expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
      expect(sb.emulators.hudu.requests()).toEqual([]);
      const diagnosis = await sb.service.ctx.db.selectFrom('diagnoses').select('reads').where('request_id', '=', request.id).executeTakeFirstOrThrow();
      const refused = (diagnosis.reads as { tool: string; result: unknown }[]).filter((r) => r.tool === 'hudu.search_articles');
      expect(refused.map((r) => r.result)).toEqual([{ not_called: 'disabled by the tool policies' }, { not_called: 'disabled by the tool policies' }]);
    } finally {
      await sb.api('PUT', `/api/clients/${contoso}/policies/hudu.search_articles`, { token: admin, body: { policy: 'inherit' } });
    }
  });

  it("escalates, naming the platform and the call, when the knowledge base refuses deskhand's key", async () => {
    sb.emulators.hudu.addFault({ status: 401, count: 2, pathContains: '/api/v1/articles' });
    const ticket = await sb.openTicket('contoso', 'alex.wilber@contoso.example', 'Can I get access to Figma please?');
    const request = await sb.requestForTicket(ticket);
    const final = await sb.waitForRequest(request.id, FINAL);
    expect([final.state, final.outcome]).toEqual(['escalated', 'escalated']);
    const notes = sb.emulators.connectwise.tickets().find((t) => t.ticket['id'] === ticket)!.notes.filter((n) => n['internalAnalysisFlag'] === true);
    expect(notes.map((n) => String(n['text'])).join('\n')).toMatch(/Hudu \(Northwind IT Services\): HTTP 401, the API key was refused.*GET \/api\/v1\/articles/);
  });

  it("plans from an IT Glue client's documents, citing the document's link", async () => {
    const adatum = await clientId('adatum');
    const identity = (await sb.service.ctx.integrations.identityForClient(adatum))!;
    const sources = await sb.service.ctx.integrations.knowledgeForClient(adatum);
    const planning = await runPlanning({
      planner: new BuiltinPlanner(),
      catalog: toolCatalog,
      identity,
      client: { slug: 'adatum', name: 'Adatum Corporation', domain: 'adatum.example' },
      text: 'Could I have Salesforce, please?',
      requesterEmail: 'dan.brown@adatum.example',
      runbooks: (hooks) => readRunbooks(sources, hooks),
    });
    expect(planning.proposed.outcome).toBe('plan');
    const document = sb.emulators.itglue.accounts().find((a) => a.msp === 'tailspin')!.documents.find((d) => d.name === 'Applications')!;
    expect(planning.proposed.steps[0]!.reason + planning.proposed.reasons.join('\n')).toContain(
      `Runbook "Applications" (${sb.emulators.itglue.url}/${document.organizationId}/docs/${document.id})`,
    );
    expect(planning.reads.filter((r) => r.tool === 'itglue.search_documents')).toHaveLength(2);
  });
});
