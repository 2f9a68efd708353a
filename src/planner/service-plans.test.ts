import { describe, expect, it } from 'vitest';
import { SKU_SERVICE_PLANS } from '../integrations/m365/service-plans.ts';
import { carriesCue, MICROSOFT_PRODUCTS, plansFor, productsProvidedBy } from './service-plans.ts';

/** The products a SKU brings, by the plans Microsoft publishes for it. */
function productsOf(skuPartNumber: string): string[] {
  const plans = SKU_SERVICE_PLANS[skuPartNumber];
  if (!plans) throw new Error(`no published plans for ${skuPartNumber}`);
  return productsProvidedBy(plans.map((p) => p.servicePlanName)).map((p) => p.product);
}

describe('productsProvidedBy, on the plans Microsoft publishes', () => {
  it('Microsoft 365 E3 brings Teams, the Office apps and the services, not Power BI Pro, Visio or Project', () => {
    const e3 = productsOf('SPE_E3');
    for (const product of ['Microsoft Teams', 'Microsoft Excel', 'Microsoft Word', 'Microsoft Outlook', 'Exchange Online', 'SharePoint', 'OneDrive']) {
      expect(e3).toContain(product);
    }
    for (const product of ['Microsoft Forms', 'Microsoft Planner', 'Microsoft Intune', 'Microsoft Entra ID P1', 'Power Apps', 'Power Automate', 'Viva Engage']) {
      expect(e3).toContain(product);
    }
    for (const product of ['Power BI Pro', 'Microsoft Visio', 'Microsoft Project', 'Teams Phone', 'Audio Conferencing', 'Microsoft Entra ID P2']) {
      expect(e3).not.toContain(product);
    }
  });

  it('Microsoft 365 E5 adds Power BI Pro, Teams Phone, Audio Conferencing, Entra ID P2 and Defender', () => {
    const e5 = productsOf('SPE_E5');
    for (const product of ['Power BI Pro', 'Teams Phone', 'Audio Conferencing', 'Microsoft Entra ID P2', 'Microsoft Defender for Office 365', 'Microsoft Teams', 'Microsoft Excel']) {
      expect(e5).toContain(product);
    }
    expect(e5).not.toContain('Microsoft Visio');
  });

  it('Microsoft 365 Business Standard (O365_BUSINESS_PREMIUM) brings Word and Teams but not Intune', () => {
    const standard = productsOf('O365_BUSINESS_PREMIUM');
    expect(standard).toEqual(expect.arrayContaining(['Microsoft Word', 'Microsoft Teams', 'Exchange Online', 'OneDrive']));
    expect(standard).not.toContain('Microsoft Intune');
  });

  it('the add-ons bring their product and no mailbox (Exchange Foundation is not Exchange Online)', () => {
    expect(productsOf('VISIOCLIENT')).toContain('Microsoft Visio');
    expect(productsOf('PROJECTPROFESSIONAL')).toContain('Microsoft Project');
    expect(productsOf('POWER_BI_PRO')).toEqual(['Power BI Pro']);
    for (const sku of ['VISIOCLIENT', 'PROJECTPROFESSIONAL', 'POWER_BI_PRO']) expect(productsOf(sku)).not.toContain('Exchange Online');
  });

  it('Visio for the web is not the Visio desktop app, and Power BI (free) is not Pro', () => {
    expect(productsProvidedBy(['VISIOONLINE', 'ONEDRIVE_BASIC']).map((p) => p.product)).toEqual([]);
    expect(productsProvidedBy(['BI_AZURE_P0'])).toEqual([]);
  });
});

describe('plansFor', () => {
  it('finds a product by its name or what employees write, in any case', () => {
    expect(plansFor('Teams')).toEqual(['TEAMS1']);
    expect(plansFor('microsoft excel')).toEqual(['OFFICESUBSCRIPTION', 'OFFICE_BUSINESS']);
    expect(plansFor('Power BI Pro')).toEqual(['BI_AZURE_P2']);
    expect(plansFor('Visio')).toEqual(['VISIO_CLIENT_SUBSCRIPTION']);
    expect(plansFor('Yammer')).toEqual(plansFor('Viva Engage'));
  });

  it('knows nothing of what is not a Microsoft product', () => {
    expect(plansFor('Zendesk')).toEqual([]);
  });
});

describe('carriesCue', () => {
  it('tells a name that is its own cue from a bare everyday word', () => {
    expect(carriesCue('MS Word')).toBe(true);
    expect(carriesCue('Microsoft To Do')).toBe(true);
    expect(carriesCue('Project desktop')).toBe(true);
    expect(carriesCue('Word')).toBe(false);
    expect(carriesCue('To Do')).toBe(false);
    expect(carriesCue('Msword')).toBe(false);
  });

  it('leaves every needsContext product a name that needs no other cue', () => {
    for (const p of MICROSOFT_PRODUCTS.filter((q) => q.needsContext)) expect(p.names.some(carriesCue), p.product).toBe(true);
  });
});

describe('MICROSOFT_PRODUCTS', () => {
  it('gives every name to one product only', () => {
    const owners = new Map<string, string>();
    for (const p of MICROSOFT_PRODUCTS) {
      for (const name of [p.product, ...p.names]) {
        const key = name.toLowerCase();
        const owner = owners.get(key);
        if (owner !== undefined && owner !== p.product) throw new Error(`${name} names both ${owner} and ${p.product}`);
        owners.set(key, p.product);
      }
    }
  });

  it('marks the products whose short name is an everyday word', () => {
    const needing = MICROSOFT_PRODUCTS.filter((p) => p.needsContext).map((p) => p.product);
    for (const product of ['Microsoft Word', 'Microsoft Access', 'Microsoft Planner', 'Microsoft Forms', 'Microsoft Stream', 'Microsoft Bookings', 'Microsoft Project', 'Microsoft Whiteboard', 'Microsoft To Do']) {
      expect(needing).toContain(product);
    }
    expect(needing).not.toContain('Microsoft Teams');
    expect(needing).not.toContain('Microsoft Excel');
  });

  it('names only plans Microsoft publishes in the SKUs it sells (those the demo world uses, or their siblings)', () => {
    const published = new Set(Object.values(SKU_SERVICE_PLANS).flatMap((plans) => plans.map((p) => p.servicePlanName)));
    // Plans of SKUs the demo world does not sell (Business Basic/Premium, the OneDrive plans), from the same table.
    const elsewhere = new Set(['ONEDRIVESTANDARD', 'ONEDRIVEENTERPRISE', 'INTUNE_SMBIZ', 'MDE_SMB', 'STREAM_O365_E1']);
    for (const p of MICROSOFT_PRODUCTS) {
      for (const plan of p.plans) expect(published.has(plan) || elsewhere.has(plan), `${p.product}: ${plan}`).toBe(true);
    }
  });
});
