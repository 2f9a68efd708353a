import { describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../world/fixture.ts';
import { buildCatalog, type Catalog, findMentions } from './resources.ts';
import { parseRunbooks } from './runbook-rules.ts';
import { createFixtureReader } from './testing/fixture-reader.ts';

async function catalogOf(clientId: string): Promise<Catalog> {
  const reader = createFixtureReader(loadDemoWorld(), clientId);
  const [groups, skus, runbooks] = await Promise.all([reader.findGroups(''), reader.listLicenses(), reader.listRunbooks()]);
  const rules = parseRunbooks(runbooks, groups.map((g) => g.displayName));
  return buildCatalog(groups, skus, rules, [clientId]);
}

function named(catalog: Catalog, text: string): string[] {
  return findMentions(text, catalog).mentions.map((m) => (m.resource.kind === 'group' ? m.resource.name : m.resource.kind === 'sku' ? m.resource.partNumber : m.resource.label));
}

describe('findMentions (contoso)', async () => {
  const contoso = await catalogOf('contoso');

  it('finds applications by their runbook name, description and group name', () => {
    expect(named(contoso, 'Could you give me Zendesk access?')).toEqual(['SG-App-Zendesk']);
    expect(named(contoso, 'please add me to sg-app-tableau')).toEqual(['SG-App-Tableau']);
    expect(named(contoso, 'Can I get Adobe?')).toEqual(['SG-App-AdobeCC']);
    expect(named(contoso, 'Could I get access to the F: drive?')).toEqual(['SG-Finance-Share']);
  });

  it('finds shared mailboxes by name and address', () => {
    expect(named(contoso, 'Could you add me to the Accounts Payable shared mailbox?')).toEqual(['SM-Accounts-Payable']);
    expect(named(contoso, 'Please add me to ap@contoso.example')).toEqual(['SM-Accounts-Payable']);
    expect(named(contoso, 'Please give Debra access to the AP mailbox')).toEqual(['SM-Accounts-Payable']);
    expect(named(contoso, 'I need the support mailbox')).toEqual(['SM-Support-Inbox']);
  });

  it('needs a word of the kind for generic names', () => {
    expect(named(contoso, 'Could you put Nestor on the Sales distribution list?')).toEqual(['DL-Sales']);
    expect(named(contoso, 'Joining the support rota, so I need a Zendesk login.')).toEqual(['SG-App-Zendesk']);
    expect(named(contoso, 'I work in Sales and would like Salesforce')).toEqual(['SG-App-Salesforce']);
  });

  it('finds licenses by friendly name, longest first, and by part number', () => {
    expect(named(contoso, 'Could I have a Power BI Pro license, please?')).toEqual(['POWER_BI_PRO']);
    expect(named(contoso, 'Could I get Visio? I have some diagrams to draw.')).toEqual(['VISIOCLIENT']);
    expect(named(contoso, 'please assign power_bi_pro')).toEqual(['POWER_BI_PRO']);
    expect(named(contoso, 'I need a Project license')).toEqual(['PROJECTPROFESSIONAL']);
    expect(named(contoso, 'I need access to the project folder')).toEqual([]);
  });

  it('recognises licenses the tenant does not have, so the note can say so', () => {
    const [mention] = findMentions('Can I get an E5 license?', contoso).mentions;
    expect(mention?.resource).toMatchObject({ kind: 'sku', partNumber: 'SPE_E5', sku: null });
  });

  it('marks the licenses the runbook assigns on request', () => {
    const onRequest = contoso.resources.filter((r) => r.kind === 'sku' && r.onRequest).map((r) => (r.kind === 'sku' ? r.partNumber : ''));
    expect(onRequest.sort()).toEqual(['POWER_BI_PRO', 'PROJECTPROFESSIONAL', 'VISIOCLIENT']);
  });

  it('finds nothing for applications nobody knows', () => {
    expect(named(contoso, 'Could you get me into Workday?')).toEqual([]);
  });
});

describe('findMentions (other clients)', async () => {
  it('treats the client name as generic: "Litware" alone is not DL-Litware', async () => {
    const litware = await catalogOf('litware');
    expect(named(litware, 'I started at Litware last week and need Figma')).toEqual(['SG-App-Figma']);
    expect(named(litware, 'Please add me to the Litware list')).toEqual(['DL-Litware']);
  });

  it('takes a full display name with spaces as meant', async () => {
    const adatum = await catalogOf('adatum');
    expect(named(adatum, 'Please add Erin to All Adatum')).toEqual(['All Adatum']);
    expect(named(adatum, 'salesforce for me please')).toEqual(['App-Salesforce']);
  });
});
