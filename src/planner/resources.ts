import type { DirectoryGroup, SubscribedSku } from '../core/directory.ts';
import type { ForbiddenRule, GroupRule, ListPolicy, RunbookRules } from './runbook-rules.ts';
import { type FuzzyCandidate, nearest } from './fuzzy.ts';
import { MICROSOFT_PRODUCTS, type MicrosoftProduct } from './service-plans.ts';
import { knownPartNumbers, skuDisplayName, skuPhrases } from './sku-names.ts';
import { appsOfSuite, suiteOfApp } from './suites.ts';
import { casedWords, normalise, phraseOccurrences, words } from './text.ts';
import { APPLICATION_ALIASES, GENERIC_RESOURCE_WORDS } from './vocabulary.ts';

/**
 * What a request can ask for: the tenant's groups and subscriptions, joined with the runbook rules
 * that govern them. Each resource carries the phrases that name it: the group's display name, the
 * application in its description, its mailbox, the runbook's names for it; a license's friendly
 * names and part number. Phrases made of generic words ("Sales", "support") only count next to a
 * word of the resource's kind ("the Sales list", "the support mailbox").
 */

export interface GroupResource {
  kind: 'group';
  key: string;
  /** The group's display name: from the tenant when it exists there, else as the runbook writes it. */
  name: string;
  /** What people call it ("Zendesk", "Accounts Payable"), for notes and replies. */
  label: string;
  /** Null when a runbook names a group the tenant does not have. */
  group: DirectoryGroup | null;
  rule: GroupRule | null;
  list: ListPolicy | null;
  forbidden: ForbiddenRule | null;
}

export interface SkuResource {
  kind: 'sku';
  key: string;
  partNumber: string;
  label: string;
  /** Null when the tenant does not subscribe to it. */
  sku: SubscribedSku | null;
  onRequest: boolean;
  standard: boolean;
}

/**
 * A Microsoft product that comes inside licences ("Excel", "Teams", "OneDrive"): asked for by name,
 * provided by the service plans of the SKUs a person holds.
 */
export interface ProductResource {
  kind: 'product';
  key: string;
  label: string;
  product: MicrosoftProduct;
  /** The tenant's SKUs whose service plans provide it. */
  providers: SubscribedSku[];
}

export type Resource = GroupResource | SkuResource | ProductResource;

interface Matcher {
  resource: Resource;
  phrase: string[];
  /** When set, the phrase counts only with one of these words near it. */
  cue: RegExp | null;
  /** A capitalised name mid-sentence counts without the cue ("I need Project"). */
  nameSuffices?: boolean;
  /** An ordinary word as well as a name ("Teams", "Outlook"): counts written with a capital, with the cue, or in an all-lower-case message. */
  capitalOrCue?: boolean;
  /** The phrase is an application of the resource's suite ("Photoshop" for Adobe Creative Cloud). */
  suiteApp?: string;
}

export interface Catalog {
  resources: Resource[];
  matchers: Matcher[];
}

const KIND_CUES: Readonly<Record<DirectoryGroup['kind'] | 'license', RegExp>> = {
  distribution: /^(distribution|dl|list|lists|mailing|dist)$/,
  shared_mailbox: /^(mailbox|mailboxes|inbox|shared|mail|emails?)$|@/,
  microsoft365: /^(group|team|teams|channel|site|sharepoint)$/,
  security: /^(access|group|share|drive|folder|folders|files?|app|application|permissions?)$/,
  license: /^(licen[cs]es?|seats?|subscriptions?|plan)$/,
};

/** Words that mark an everyday word as a Microsoft product: "the Microsoft Forms app", "a Planner licence". */
const PRODUCT_CUE = /^(microsoft|ms|office|app|apps|application|desktop|licen[cs]es?|subscriptions?|seats?|install|installed)$/;

/** Prefixes and suffixes of group naming conventions, which say nothing about what the group grants. */
const NAMING_NOISE = new Set(['sg', 'dl', 'sm', 'app', 'apps', 'grp', 'group', 'sec', 'm365', 'o365', 'ms', 'users', 'members']);

function isGeneric(phrase: readonly string[], extraGeneric: ReadonlySet<string>): boolean {
  return phrase.every((w) => GENERIC_RESOURCE_WORDS.has(w) || extraGeneric.has(w) || /^\d+$/.test(w));
}

/** A phrase people might use for a group, with the cue it needs when its words are generic. */
function groupMatcher(resource: GroupResource, phrase: string, kind: DirectoryGroup['kind'], extraGeneric: ReadonlySet<string>): Matcher | null {
  const ws = words(phrase);
  if (ws.length === 0) return null;
  const weak = isGeneric(ws, extraGeneric) || (ws.length === 1 && (ws[0]?.length ?? 0) <= 2);
  return { resource, phrase: ws, cue: weak ? KIND_CUES[kind] : null };
}

/** "SG-App-Zendesk" → "zendesk"; "SM-Accounts-Payable" → "accounts payable". */
export function coreOfDisplayName(displayName: string): string {
  return words(displayName)
    .filter((w) => !NAMING_NOISE.has(w))
    .join(' ');
}

/** Words that only say what kind of thing a name is: "Support inbox" is "the Support one". */
const KIND_WORDS = new Set(['inbox', 'mailbox', 'share', 'drive', 'list', 'group', 'users', 'access', 'app']);

/** Shorter ways to say a multi-word name: "Adobe" for Adobe Creative Cloud, "Support" for Support inbox. */
function shorterForms(name: string): string[] {
  const ws = words(name);
  if (ws.length < 2) return [];
  const forms: string[] = [];
  const first = ws[0] ?? '';
  if (first.length >= 4 && !GENERIC_RESOURCE_WORDS.has(first)) forms.push(first);
  let end = ws.length;
  while (end > 1 && KIND_WORDS.has(ws[end - 1] ?? '')) end--;
  if (end < ws.length) forms.push(ws.slice(0, end).join(' '));
  return forms;
}

/** The application a group grants, from the description Graph carries ("Access to Zendesk"). */
function appOf(group: DirectoryGroup | null): string | undefined {
  return group?.description ? /^access to (.+)$/i.exec(group.description.trim())?.[1] : undefined;
}

function phrasesOfGroup(resource: GroupResource): string[] {
  const phrases = [resource.name, coreOfDisplayName(resource.name)];
  const group = resource.group;
  const app = appOf(group);
  const names = [...(app ? [app] : []), ...(resource.rule?.names ?? [])];
  for (const name of names) phrases.push(name, ...shorterForms(name), ...(APPLICATION_ALIASES[normalise(name)] ?? []), ...appsOfSuite(name));
  if (group?.mail) {
    const local = group.mail.split('@')[0] ?? '';
    phrases.push(group.mail, `${local}@`, local);
  }
  return phrases;
}

function groupResource(name: string, group: DirectoryGroup | null, rules: RunbookRules): GroupResource {
  const same = (g: string): boolean => g.toLowerCase() === name.toLowerCase();
  const rule = rules.groupRules.find((r) => same(r.group)) ?? null;
  const app = appOf(group);
  return {
    kind: 'group',
    key: `group:${name.toLowerCase()}`,
    name,
    label: rule?.names[0] ?? app ?? name,
    group,
    rule,
    list: rules.lists.find((l) => l.groups.some(same)) ?? null,
    forbidden: rules.forbidden.find((f) => f.groups.some(same)) ?? null,
  };
}

function skuResource(partNumber: string, sku: SubscribedSku | null): SkuResource {
  return {
    kind: 'sku',
    key: `sku:${partNumber.toLowerCase()}`,
    partNumber,
    label: skuDisplayName(partNumber),
    sku,
    onRequest: false,
    standard: false,
  };
}

function skuMatchers(resource: SkuResource): Matcher[] {
  return skuPhrases(resource.partNumber).map((p) => ({
    resource,
    phrase: p.phrase.split(' '),
    cue: p.needsLicenseWord ? KIND_CUES.license : null,
    nameSuffices: p.needsLicenseWord,
  }));
}

/** License names a runbook uses ("Visio Plan 2") matched to the SKUs they mean. */
function skusNamed(name: string, skus: readonly SkuResource[]): SkuResource[] {
  const n = normalise(name);
  const exact = skus.filter((s) => skuPhrases(s.partNumber).some((p) => p.phrase === n));
  if (exact.length > 0) return exact;
  return skus.filter((s) => skuPhrases(s.partNumber).some((p) => !p.needsLicenseWord && ` ${n} `.includes(` ${p.phrase} `)));
}

/**
 * Everything the tenant and the runbooks say can be asked for. `clientWords` are the client's own
 * name and domain: "DL-Litware" is only meant when someone says "the Litware list".
 */
export function buildCatalog(
  groups: readonly DirectoryGroup[],
  skus: readonly SubscribedSku[],
  rules: RunbookRules,
  clientWords: readonly string[] = [],
): Catalog {
  const extraGeneric = new Set(clientWords.flatMap((w) => words(w)));
  const groupResources = groups.map((g) => groupResource(g.displayName, g, rules));
  const ruledOnly = rules.groupRules
    .map((r) => r.group)
    .filter((name) => !groups.some((g) => g.displayName.toLowerCase() === name.toLowerCase()))
    .map((name) => groupResource(name, null, rules));

  const tenantParts = new Set(skus.map((s) => s.skuPartNumber));
  const skuResources = [
    ...skus.map((s) => skuResource(s.skuPartNumber, s)),
    ...knownPartNumbers()
      .filter((p) => !tenantParts.has(p))
      .map((p) => skuResource(p, null)),
  ];
  // A name in the runbook means the subscribed SKU when the tenant has one of that name.
  const preferTenant = (found: SkuResource[]): SkuResource[] => (found.some((s) => s.sku) ? found.filter((s) => s.sku) : found);
  for (const name of rules.licenses.onRequest) for (const s of preferTenant(skusNamed(name, skuResources))) s.onRequest = true;
  for (const name of rules.licenses.standard) for (const s of preferTenant(skusNamed(name, skuResources))) s.standard = true;

  const matchers: Matcher[] = [];
  for (const resource of [...groupResources, ...ruledOnly]) {
    const kind = resource.group?.kind ?? 'security';
    // The full display name is a deliberate choice ("All Adatum"), unless it is one generic word.
    const displayName = words(resource.name);
    if (displayName.length > 1) matchers.push({ resource, phrase: displayName, cue: null });
    for (const phrase of new Set(phrasesOfGroup(resource).map(normalise))) {
      const matcher = groupMatcher(resource, phrase, kind, extraGeneric);
      if (matcher) matchers.push(matcher);
    }
  }
  for (const resource of skuResources) matchers.push(...skuMatchers(resource));
  // Products inside licences; a name that is also a licence's ("Visio", "Power BI Pro") is the licence's.
  const licenceNames = new Set(skuResources.flatMap((r) => skuPhrases(r.partNumber).map((p) => p.phrase)));
  const productResources: ProductResource[] = [];
  for (const product of MICROSOFT_PRODUCTS) {
    const names = product.names.map(normalise).filter((n) => n !== '' && !licenceNames.has(n));
    if (names.length === 0) continue;
    const resource: ProductResource = {
      kind: 'product',
      key: `product:${normalise(product.product)}`,
      label: product.product,
      product,
      providers: skus.filter((k) => (k.servicePlans ?? []).some((plan) => product.plans.includes(plan.servicePlanName))),
    };
    productResources.push(resource);
    for (const name of names) {
      const phrase = name.split(' ');
      const carries = phrase.some((w) => PRODUCT_CUE.test(w));
      if (carries) matchers.push({ resource, phrase, cue: null });
      else if (product.needsContext) matchers.push({ resource, phrase, cue: PRODUCT_CUE, nameSuffices: true });
      else matchers.push({ resource, phrase, cue: null, capitalOrCue: phrase.length === 1 });
    }
  }
  for (const m of matchers) {
    if (m.resource.kind !== 'group') continue;
    const app = suiteOfApp(m.phrase.join(' '));
    if (app) m.suiteApp = m.phrase.join(' ');
  }
  return { resources: [...groupResources, ...ruledOnly, ...skuResources, ...productResources], matchers };
}

export interface Mention {
  resource: Resource;
  /** Word span in `words(text)`. */
  start: number;
  end: number;
  /** For a misspelt name, the words as written ("Zendsk"). */
  typed?: string;
  /** The suite's application the words named ("photoshop" for Adobe Creative Cloud). */
  suiteApp?: string;
}

export interface MentionReading {
  mentions: Mention[];
  /** Every place a resource is named, a resource named twice included ("Illustrator and InDesign"). */
  spans?: Mention[];
  /** Phrases that name more than one resource equally well. */
  ambiguous: Array<{ phrase: string; resources: Resource[] }>;
}

/** Resources the runbooks govern and the tenant has outrank lookalikes (an "E3" the tenant lacks). */
function rank(resource: Resource): number {
  if (resource.kind === 'product') return resource.providers.length > 0 ? 1 : 0;
  const governed = resource.kind === 'group' ? resource.rule !== null || resource.list !== null : resource.onRequest || resource.standard;
  const exists = resource.kind === 'group' ? resource.group !== null : resource.sku !== null;
  return (governed ? 2 : 0) + (exists ? 1 : 0);
}

function cueNear(ws: readonly string[], start: number, end: number, cue: RegExp): boolean {
  const from = Math.max(0, start - 5);
  const to = Math.min(ws.length, end + 5);
  for (let i = from; i < to; i++) if (cue.test(ws[i] ?? '')) return true;
  return false;
}

interface Candidate {
  resource: Resource;
  start: number;
  end: number;
  suiteApp?: string;
}

/** Words right before a product named on its own ("I need Project"), not before a noun ("the Q3 Project"). */
const ASKING = /^(need|needs|get|have|install|want|use|using|to|and|with|order|request)$/;

/** Where a phrase occurs, also written as two words for a one-word name ("Sales force", "Git Hub"). */
function occurrences(ws: readonly string[], phrase: readonly string[]): Array<{ start: number; end: number }> {
  const found = phraseOccurrences(ws, phrase).map((start) => ({ start, end: start + phrase.length }));
  const single = phrase.length === 1 ? (phrase[0] ?? '') : '';
  if (single.length >= 6) {
    for (let i = 0; i + 1 < ws.length; i++) if (`${ws[i]}${ws[i + 1]}` === single) found.push({ start: i, end: i + 2 });
  }
  return found;
}

function candidatesIn(ws: readonly string[], cased: readonly string[], catalog: Catalog, lowerCaseOnly: boolean): Candidate[] {
  const found: Candidate[] = [];
  for (const m of catalog.matchers) {
    for (const { start, end } of occurrences(ws, m.phrase)) {
      const named = m.nameSuffices === true && /^[A-Z][a-z]/.test(cased[start] ?? '') && ASKING.test(ws[start - 1] ?? '');
      if (m.cue && !named && !cueNear(ws, start, end, m.cue)) continue;
      if (m.capitalOrCue && !lowerCaseOnly && !/^[A-Z]/.test(cased[start] ?? '') && !cueNear(ws, start, end, PRODUCT_CUE)) continue;
      found.push({ resource: m.resource, start, end, ...(m.suiteApp ? { suiteApp: m.suiteApp } : {}) });
    }
  }
  return found;
}

/**
 * The resources a request names. The longest phrase wins ("Power BI Pro" over "Power BI"); among
 * equally long phrases the better-grounded resource wins; a tie is reported as ambiguous.
 */
export function findMentions(text: string, catalog: Catalog): MentionReading {
  const ws = words(text);
  const candidates = candidatesIn(ws, casedWords(text), catalog, text === text.toLowerCase()).sort(
    (a, b) => b.end - b.start - (a.end - a.start) || rank(b.resource) - rank(a.resource) || a.start - b.start,
  );
  const taken: Candidate[] = [];
  const ambiguous: MentionReading['ambiguous'] = [];
  for (const c of candidates) {
    if (taken.some((t) => c.start < t.end && t.start < c.end)) continue;
    const rivals = candidates.filter(
      (o) => o.start === c.start && o.end === c.end && o.resource.key !== c.resource.key && rank(o.resource) === rank(c.resource),
    );
    taken.push(c);
    if (rivals.length > 0) {
      ambiguous.push({ phrase: ws.slice(c.start, c.end).join(' '), resources: [c.resource, ...new Set(rivals.map((r) => r.resource))] });
    }
  }
  // A resource named twice is asked for once; its first mention decides the verb that applies.
  const first = new Map<string, Mention>();
  for (const c of taken.sort((a, b) => a.start - b.start)) {
    if (!first.has(c.resource.key)) first.set(c.resource.key, { resource: c.resource, start: c.start, end: c.end, ...(c.suiteApp ? { suiteApp: c.suiteApp } : {}) });
  }
  return { mentions: [...first.values()], spans: taken.map((c) => ({ resource: c.resource, start: c.start, end: c.end, ...(c.suiteApp ? { suiteApp: c.suiteApp } : {}) })), ambiguous };
}

/** The names a misspelling is compared with: every phrase that names a resource on its own. */
function fuzzyCandidates(catalog: Catalog): FuzzyCandidate<Resource>[] {
  const seen = new Set<string>();
  const candidates: FuzzyCandidate<Resource>[] = [];
  for (const m of catalog.matchers) {
    if (m.cue && !m.nameSuffices) continue;
    const key = m.phrase.join('');
    const id = `${m.resource.key}|${key}`;
    if (key.length < 3 || seen.has(id)) continue;
    seen.add(id);
    candidates.push({ key, value: m.resource, identity: m.resource.key });
  }
  return candidates;
}

/**
 * Misspelt names in the places a request puts what it asks for (`spans`, from `unknownObjectSpans`):
 * each word, and neighbouring words written together ("power bi pro" typed "powerbi pro"), compared
 * with the catalog's names (fuzzy.ts). A span near two things is reported as ambiguous.
 */
export function findMisspelt(text: string, catalog: Catalog, spans: ReadonlyArray<{ start: number; end: number; label: string }>): MentionReading {
  const ws = words(text);
  const candidates = fuzzyCandidates(catalog);
  const mentions: Mention[] = [];
  const ambiguous: MentionReading['ambiguous'] = [];
  for (const span of spans) {
    let best: { start: number; end: number; result: ReturnType<typeof nearest<Resource>> } | null = null;
    // A name's own prefix or kind word may stand just outside the span ("SG-App-Zendsk", "the DL-Markting list").
    for (let start = Math.max(0, span.start - 2); start < span.end; start++) {
      for (let end = Math.max(start + 1, span.start + 1); end <= Math.min(ws.length, span.end + 2); end++) {
        const typed = ws.slice(start, end).join('');
        if (typed.length < 3 || /^\d+$/.test(typed)) continue;
        const result = nearest(typed, candidates);
        if (result.kind === 'none') continue;
        const better =
          !best ||
          best.result.kind === 'none' ||
          result.distance < best.result.distance ||
          (result.distance === best.result.distance && end - start > best.end - best.start);
        if (better) best = { start, end, result };
      }
    }
    if (!best || best.result.kind === 'none') continue;
    if (best.result.kind === 'match') mentions.push({ resource: best.result.value, start: best.start, end: best.end, typed: span.label });
    else ambiguous.push({ phrase: span.label, resources: [...new Set(best.result.values)] });
  }
  return { mentions, ambiguous };
}
