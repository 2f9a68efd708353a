import { normalise } from './text.ts';

/**
 * What people call Microsoft's licenses. Graph only reports SKU part numbers (`POWER_BI_PRO`), while
 * employees and runbooks say "Power BI Pro", "Visio" or "E3". This table covers the SKUs an MSP's
 * clients commonly buy; any other SKU is still matched by the words of its part number.
 */
const FRIENDLY_NAMES: Readonly<Record<string, readonly string[]>> = {
  SPE_E3: ['Microsoft 365 E3', 'M365 E3', 'E3'],
  SPE_E5: ['Microsoft 365 E5', 'M365 E5', 'E5'],
  SPE_F1: ['Microsoft 365 F3', 'F3'],
  ENTERPRISEPACK: ['Office 365 E3', 'O365 E3', 'E3'],
  ENTERPRISEPREMIUM: ['Office 365 E5', 'O365 E5', 'E5'],
  STANDARDPACK: ['Office 365 E1', 'E1'],
  DESKLESSPACK: ['Office 365 F3'],
  O365_BUSINESS_ESSENTIALS: ['Microsoft 365 Business Basic', 'Business Basic'],
  // Microsoft sells this part number as "Business Standard"; tenants and people often say "Premium".
  O365_BUSINESS_PREMIUM: ['Microsoft 365 Business Standard', 'Business Standard', 'Microsoft 365 Business Premium', 'Business Premium'],
  SPB: ['Microsoft 365 Business Premium', 'Business Premium'],
  O365_BUSINESS: ['Microsoft 365 Apps for business', 'Apps for business'],
  OFFICESUBSCRIPTION: ['Microsoft 365 Apps for enterprise', 'Apps for enterprise'],
  VISIOCLIENT: ['Visio Plan 2', 'Visio Online Plan 2', 'Visio'],
  VISIO_PLAN1_DEPT: ['Visio Plan 1'],
  PROJECTPROFESSIONAL: ['Project Plan 3', 'Project Professional', 'Microsoft Project', 'MS Project', 'Project Online'],
  PROJECTPREMIUM: ['Project Plan 5'],
  PROJECT_P1: ['Project Plan 1'],
  POWER_BI_PRO: ['Power BI Pro', 'Power BI', 'PowerBI', 'PBI Pro'],
  PBI_PREMIUM_PER_USER: ['Power BI Premium Per User', 'Power BI Premium'],
  EMS: ['Enterprise Mobility + Security E3', 'EMS E3'],
  EMSPREMIUM: ['Enterprise Mobility + Security E5', 'EMS E5'],
  MCOEV: ['Teams Phone', 'Phone System'],
  MCOMEETADV: ['Audio Conferencing'],
  Microsoft_Teams_Premium: ['Teams Premium'],
  EXCHANGESTANDARD: ['Exchange Online Plan 1'],
  EXCHANGEENTERPRISE: ['Exchange Online Plan 2'],
  Microsoft_365_Copilot: ['Microsoft 365 Copilot', 'Copilot'],
  AAD_PREMIUM: ['Entra ID P1', 'Azure AD Premium P1'],
  AAD_PREMIUM_P2: ['Entra ID P2', 'Azure AD Premium P2'],
  POWERAPPS_PER_USER: ['Power Apps Premium', 'Power Apps'],
  FLOW_PER_USER: ['Power Automate Premium', 'Power Automate'],
};

/** Words that name a product only together with a license word ("a Project license", not "the project folder"). */
const NEEDS_LICENSE_WORD: Readonly<Record<string, readonly string[]>> = {
  PROJECTPROFESSIONAL: ['Project'],
};

export interface SkuPhrase {
  phrase: string;
  /** True when the phrase only counts next to a license word. */
  needsLicenseWord: boolean;
}

/** Vendor and edition words that say nothing about which product a part number is. */
const PART_NUMBER_NOISE = new Set(['spe', 'o365', 'm365', 'microsoft', 'client', 'dept', 'per', 'user']);

/** The part number read as words: `POWER_BI_PRO` → "power bi pro", `VISIOCLIENT` → "visio". */
function partNumberPhrases(partNumber: string): string[] {
  const raw = normalise(partNumber.replace(/_/g, ' '));
  const meaningful = raw
    .replace(/client\b/g, ' client')
    .split(' ')
    .filter((w) => w !== '' && !PART_NUMBER_NOISE.has(w))
    .join(' ');
  return [...new Set([raw, meaningful].filter((p) => p !== ''))];
}

const phrasesByPartNumber = new Map<string, SkuPhrase[]>();

/** Everything that may name this SKU in a request or a runbook, normalised (computed once per SKU). */
export function skuPhrases(partNumber: string): SkuPhrase[] {
  let phrases = phrasesByPartNumber.get(partNumber);
  if (!phrases) {
    phrases = computeSkuPhrases(partNumber);
    phrasesByPartNumber.set(partNumber, phrases);
  }
  return phrases;
}

function computeSkuPhrases(partNumber: string): SkuPhrase[] {
  const named = FRIENDLY_NAMES[partNumber] ?? [];
  const phrases: SkuPhrase[] = [...named, ...partNumberPhrases(partNumber)].map((p) => ({
    phrase: normalise(p),
    needsLicenseWord: false,
  }));
  for (const p of NEEDS_LICENSE_WORD[partNumber] ?? []) phrases.push({ phrase: normalise(p), needsLicenseWord: true });
  const byPhrase = new Map<string, SkuPhrase>();
  for (const p of phrases) if (!byPhrase.has(p.phrase)) byPhrase.set(p.phrase, p);
  return [...byPhrase.values()];
}

/** Part numbers this table knows, so that a license the tenant does not subscribe to is still recognised. */
export function knownPartNumbers(): string[] {
  return Object.keys(FRIENDLY_NAMES);
}

/** The name people use, for notes and replies ("Power BI Pro (POWER_BI_PRO)"). */
export function skuDisplayName(partNumber: string): string {
  const name = FRIENDLY_NAMES[partNumber]?.[0];
  return name ? `${name} (${partNumber})` : partNumber;
}
