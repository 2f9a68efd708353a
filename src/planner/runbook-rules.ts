import type { Runbook } from '../core/directory.ts';
import { type AccountIntent, classifyProcedureHead } from './intent.ts';
import { M365, type M365WriteTool } from './tool-names.ts';
import { parentheticals, splitList, splitOutsideParentheses, splitSentences, stripTrailingPunctuation } from './text.ts';

/**
 * Runbooks parsed into rules. Clients write runbooks in their own style ("Zendesk: SG-App-Zendesk"
 * on its own line, "Salesforce: App-Salesforce." inside a sentence list, "Accounts Payable (ap@) is
 * SM-Accounts-Payable" inside a paragraph), so the parser reads sentence shapes, not titles, and
 * keeps every rule's source sentence so that the note can quote it to the technician.
 */

/** A runbook sentence, for quoting in reasons. */
export interface RunbookLine {
  runbook: string;
  text: string;
  /** Where the runbook is opened (a documentation platform's article), cited with it. */
  url?: string | null;
}

/** Who a runbook lets ask: the person themselves, their manager, HR. */
export type Reporter = 'self' | 'manager' | 'hr';

/** "App: GROUP (qualifier)": membership of GROUP grants what the runbook names. */
export interface GroupRule {
  /** What the group grants, as the runbook names it, with aliases ("Finance file share", "F: drive"). */
  names: string[];
  /** The group's display name as the runbook writes it. */
  group: string;
  line: RunbookLine;
  /** "paid seat: the requester's manager must approve". */
  managerApproval: boolean;
  /** "Engineering department only": only members of this department may have it. */
  department: string | null;
  /** The qualifier says to escalate every request for this group. */
  alwaysEscalate: boolean;
}

/** "Distribution lists: DL-A, DL-B. Employees may join or leave their own department's list; ..." */
export interface ListPolicy {
  groups: string[];
  line: RunbookLine;
  /** Who may ask to join or leave a list of the subject's own department, and any other list. */
  ownDepartment: Reporter[];
  otherLists: Reporter[];
  ruleLine: RunbookLine | null;
}

/** "Visio Plan 2, Project Plan 3 and Power BI Pro are assigned on request when a seat is free." */
export interface LicensePolicy {
  onRequest: string[];
  onRequestLine: RunbookLine | null;
  /** Licenses everyone has ("Microsoft 365 E3 is the standard license"). */
  standard: string[];
  standardLine: RunbookLine | null;
  noSeatLine: RunbookLine | null;
}

/** "Lost or replaced phone: remove the registered authentication methods ... and revoke sign-in sessions." */
export interface ProcedureRule {
  intent: AccountIntent | 'hardware';
  tools: M365WriteTool[];
  /** The runbook hands this to a person (escalate, on site, via a technician). */
  escalate: boolean;
  /** Who may report it, when the runbook says; null when it does not. */
  reporters: Reporter[] | null;
  /** What the runbook asks to be said in the note ("Security must review the account"). */
  notes: string[];
  line: RunbookLine;
  /** Further sentences of the same procedure ("Licenses are removed after 30 days by a technician"). */
  related: RunbookLine[];
}

/** "Never add anyone to SG-Admins-Privileged or any other administrative group ...: escalate to Security." */
export interface ForbiddenRule {
  groups: string[];
  administrative: boolean;
  escalateTo: string | null;
  line: RunbookLine;
}

export interface RunbookRules {
  groupRules: GroupRule[];
  lists: ListPolicy[];
  licenses: LicensePolicy;
  procedures: ProcedureRule[];
  /** "Applications not listed here ...: escalate", "Everything else: escalate". */
  catchAll: RunbookLine[];
  forbidden: ForbiddenRule[];
}

const HYPHENATED_ID = /^([A-Za-z0-9]+(?:-[A-Za-z0-9]+)+)(?![A-Za-z0-9-])/;
const HYPHENATED_ID_ANYWHERE = /\b[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+\b/g;

/**
 * The group a phrase starts with: the longest group the tenant has, or else a group-like identifier
 * (`SG-Foo`), so that a runbook naming a group the tenant lacks is still understood (and escalated).
 */
export function leadingGroupName(text: string, knownGroups: readonly string[]): string | null {
  const lower = text.toLowerCase();
  const known = [...knownGroups]
    .sort((a, b) => b.length - a.length)
    .find((g) => lower.startsWith(g.toLowerCase()) && !/[A-Za-z0-9-]/.test(text.charAt(g.length)));
  if (known) return known;
  return HYPHENATED_ID.exec(text)?.[1] ?? null;
}

function groupsNamedIn(text: string, knownGroups: readonly string[]): string[] {
  const lower = text.toLowerCase();
  const named = knownGroups.filter((g) => lower.includes(g.toLowerCase()));
  const ids = [...text.matchAll(HYPHENATED_ID_ANYWHERE)].map((m) => m[0]);
  return [...new Set([...named, ...ids.filter((id) => !named.some((g) => g.toLowerCase() === id.toLowerCase()))])];
}

const CATCH_ALL = /\b(not listed|everything else|anything else|other applications|other apps|all other|otherwise|not managed|any other request|other requests)\b/i;

function isCatchAll(sentence: string): boolean {
  return /\bescalat/i.test(sentence) && CATCH_ALL.test(sentence);
}

function forbiddenRule(sentence: string, line: RunbookLine, knownGroups: readonly string[]): ForbiddenRule | null {
  if (!/\bnever\b/i.test(sentence) || !/\b(add|grant|give|assign|put)\b/i.test(sentence)) return null;
  return {
    groups: groupsNamedIn(sentence, knownGroups),
    administrative: /\b(administrat\w*|admins?|privileged)\b/i.test(sentence),
    escalateTo: /\bescalate to (?:the )?([A-Z][\w]*(?: [A-Z][\w]*)*)/.exec(sentence)?.[1] ?? null,
    line,
  };
}

function stripArticle(text: string): string {
  return text.replace(/^(the|a|an|our)\s+/i, '').trim();
}

/** "Finance file share (the F: drive)" → ["Finance file share", "F: drive"]. */
function namesOf(label: string): string[] {
  const { bare, inner } = parentheticals(label);
  return [bare, ...inner.map(stripArticle)].map((n) => n.trim()).filter((n) => n !== '');
}

const MANAGER_APPROVAL = /\bmanager(?:'s)?\s+(?:must|needs? to|has to|to|should)?\s*approv|\bapprov\w*\s+(?:by|from)\s+(?:the\s+)?(?:requester's\s+|employee's\s+|their\s+)?manager|\bmanager(?:'s)? approval\b/i;
const DEPARTMENT_ONLY = /\b([A-Z][\w&]*(?:\s+[A-Z][\w&]*)*)\s+(?:department|team|staff)\s+only\b|\bonly\s+(?:for\s+)?(?:the\s+)?([A-Z][\w&]*(?:\s+[A-Z][\w&]*)*)\s+(?:department|team)\b/;

function groupRule(names: string[], group: string, qualifier: string, line: RunbookLine): GroupRule {
  const department = DEPARTMENT_ONLY.exec(qualifier);
  const conditional = /\b(anyone else|everyone else|others|otherwise|other departments)\b/i.test(qualifier);
  return {
    names,
    group,
    line,
    managerApproval: MANAGER_APPROVAL.test(qualifier),
    department: department ? (department[1] ?? department[2] ?? null) : null,
    alwaysEscalate: /\bescalat/i.test(qualifier) && !conditional && !department,
  };
}

/** "Accounts Payable (ap@) is SM-Accounts-Payable, Support inbox (support@) is SM-Support-Inbox". */
function mappingClauses(text: string, line: RunbookLine, knownGroups: readonly string[]): GroupRule[] {
  const rules: GroupRule[] = [];
  for (const clause of text.split(/\s*[,;]\s*|\s+and\s+(?=[A-Z])/)) {
    const m = /^(.+?)\s+(?:is|are|=|->|→|uses|goes through)\s+(.+)$/.exec(stripTrailingPunctuation(clause.trim()));
    if (!m?.[1] || !m[2]) continue;
    const group = leadingGroupName(m[2].trim(), knownGroups);
    if (!group || m[2].trim().length !== group.length) continue;
    rules.push(groupRule(namesOf(m[1]), group, '', line));
  }
  return rules;
}

/** Group names of a listing ("DL-All-Staff, DL-Sales, DL-Marketing"), or null when it is not one. */
function listedGroups(text: string, knownGroups: readonly string[]): string[] | null {
  const items = splitList(stripTrailingPunctuation(text));
  if (items.length < 2) return null;
  const groups: string[] = [];
  for (const item of items) {
    const group = leadingGroupName(item, knownGroups);
    if (group === null || group.length !== item.length) return null;
    groups.push(group);
  }
  return groups;
}

const TOOL_PHRASES: ReadonlyArray<[RegExp, M365WriteTool]> = [
  [/\b(?<!other than )reset (?:the |their |his |her |a )?password/i, M365.resetPassword],
  [/\b(?:remove|delete|reset|clear) (?:the |all )?(?:registered )?(?:authentication|mfa|sign-in|security) (?:methods|info)|\breset (?:the )?mfa/i, M365.resetMfa],
  [/\bblock sign-?in|\bdisable (?:the |their |his |her )?account/i, M365.disableAccount],
  [/\benable (?:the |their |his |her )?account|\bunblock sign-?in|\ballow sign-?in/i, M365.enableAccount],
  [/\brevoke (?:all |the |every )?(?:sign-?in |active )?sessions|\bsign (?:them|the user|the employee) out everywhere/i, M365.revokeSessions],
];

/** The write tools a procedure's instructions name, in the order a technician would run them. */
export function toolsNamedIn(text: string): M365WriteTool[] {
  return TOOL_PHRASES.filter(([re]) => re.test(text)).map(([, tool]) => tool);
}

function handsToPerson(text: string): boolean {
  return /\bescalat|\bhandled on site\b|\b(?:via|by) (?:a|the) (?:field )?technician\b|\bgo(?:es)? to\b.*\bwarranty\b/i.test(text);
}

/** Who a sentence lets report or ask: "When HR or the leaver's manager reports", "Self-reported". */
export function reportersNamedIn(text: string): Reporter[] | null {
  if (/\bself[- ]reported\b|\bthe (?:employee|user) (?:themselves|themself)\b/i.test(text)) return ['self'];
  if (!/\b(report\w*|request\w*|ask\w*|come from)\b/i.test(text)) return null;
  const found: Reporter[] = [];
  if (/\bHR\b|\bhuman resources\b|\bpeople team\b/i.test(text)) found.push('hr');
  if (/\bmanager\b/i.test(text)) found.push('manager');
  return found.length > 0 ? found : null;
}

function procedureRule(intent: ProcedureRule['intent'], head: string, body: string, line: RunbookLine): ProcedureRule {
  const tools = toolsNamedIn(body);
  const notes = [...body.matchAll(/\bsay (?:in the note )?that ([^.;]+)/gi)].map((m) => (m[1] ?? '').trim());
  return {
    intent,
    tools,
    escalate: tools.length === 0 || handsToPerson(body),
    reporters: reportersNamedIn(head) ?? reportersNamedIn(body),
    notes,
    line,
    related: [],
  };
}

/** "Employees may join or leave their own department's list; other lists need the request to come from their manager." */
function listRule(sentence: string): { own: Reporter[]; other: Reporter[] } | null {
  if (!/\blists?\b/i.test(sentence) || !/\b(own department|join|leave)\b/i.test(sentence)) return null;
  const [ownPart = sentence, otherPart = ''] = sentence.split(/\bother lists?\b/i);
  // Whoever may ask for themselves may also have their manager ask for them.
  const own: Reporter[] = /\bown department/i.test(ownPart) ? ['self', 'manager'] : ['manager'];
  const other = new Set<Reporter>();
  if (/\bmanager\b/i.test(otherPart)) other.add('manager');
  if (/\bHR\b/.test(otherPart)) other.add('hr');
  if (/\b(anyone|any employee|employees may)\b/i.test(otherPart)) {
    other.add('self');
    other.add('manager');
  }
  return { own, other: [...other] };
}

function emptyLicensePolicy(): LicensePolicy {
  return { onRequest: [], onRequestLine: null, standard: [], standardLine: null, noSeatLine: null };
}

interface ParseState {
  rules: RunbookRules;
  knownGroups: readonly string[];
  lastProcedure: ProcedureRule | null;
  lastList: ListPolicy | null;
}

function addProcedure(state: ParseState, rule: ProcedureRule): true {
  state.rules.procedures.push(rule);
  state.lastProcedure = rule;
  return true;
}

/** "Head: body" sentences: an app's group, a listing of lists, mailbox mappings, or a procedure. */
function readHeadedSentence(head: string, body: string, line: RunbookLine, state: ParseState): boolean {
  const known = state.knownGroups;
  const group = leadingGroupName(body, known);
  if (group) {
    const listed = listedGroups(body, known);
    if (listed) {
      state.lastList = { groups: listed, line, ownDepartment: ['manager'], otherLists: ['manager'], ruleLine: null };
      state.rules.lists.push(state.lastList);
      return true;
    }
    const qualifier = parentheticals(body.slice(group.length)).inner.join('; ');
    state.rules.groupRules.push(groupRule(namesOf(head), group, qualifier, line));
    return true;
  }
  const mapped = mappingClauses(body, line, known);
  if (mapped.length > 0) {
    state.rules.groupRules.push(...mapped);
    return true;
  }
  const intent = classifyProcedureHead(head);
  return intent ? addProcedure(state, procedureRule(intent, head, body, line)) : false;
}

/** Reads one sentence into whichever rule it states; false when it states none. */
function readSentence(sentence: string, line: RunbookLine, state: ParseState): boolean {
  const { rules, knownGroups } = state;
  const forbidden = forbiddenRule(sentence, line, knownGroups);
  if (forbidden) {
    rules.forbidden.push(forbidden);
    return true;
  }
  if (isCatchAll(sentence)) {
    rules.catchAll.push(line);
    return true;
  }
  const split = splitOutsideParentheses(sentence, [': ', ' → ', ' -> ', ' = ']);
  if (split && readHeadedSentence(split[0], split[1], line, state)) return true;

  const mapped = mappingClauses(sentence, line, knownGroups);
  if (mapped.length > 0) {
    rules.groupRules.push(...mapped);
    return true;
  }
  if (readLicenseSentence(sentence, line, rules.licenses)) return true;
  const listed = listRule(sentence);
  if (listed && state.lastList) {
    Object.assign(state.lastList, { ownDepartment: listed.own, otherLists: listed.other, ruleLine: line });
    return true;
  }
  const intent = classifyProcedureHead(sentence);
  return intent ? addProcedure(state, procedureRule(intent, sentence, sentence, line)) : false;
}

function readLicenseSentence(sentence: string, line: RunbookLine, policy: LicensePolicy): boolean {
  const onRequest = /^(.+?)\s+(?:is|are)\s+(?:assigned|given|available|granted)\s+on request\b/i.exec(sentence);
  if (onRequest?.[1]) {
    policy.onRequest.push(...splitList(onRequest[1]));
    policy.onRequestLine = line;
    return true;
  }
  if (/\bno (?:free )?seats?\b/i.test(sentence) && /\bescalat/i.test(sentence)) {
    policy.noSeatLine = line;
    return true;
  }
  const standard = /^(.+?)\s+is\s+(?:the|our)\s+standard\s+licen[cs]e/i.exec(sentence);
  if (standard?.[1]) {
    policy.standard.push(...splitList(standard[1]));
    policy.standardLine = line;
    return true;
  }
  return false;
}

/**
 * Parse every runbook. `knownGroups` are the tenant's group display names: a rule's group is
 * recognised by them first, so that group names with spaces ("All Adatum") parse too.
 */
export function parseRunbooks(runbooks: readonly Runbook[], knownGroups: readonly string[]): RunbookRules {
  const rules: RunbookRules = {
    groupRules: [],
    lists: [],
    licenses: emptyLicensePolicy(),
    procedures: [],
    catchAll: [],
    forbidden: [],
  };
  for (const runbook of runbooks) {
    const state: ParseState = { rules, knownGroups, lastProcedure: null, lastList: null };
    for (const sentence of splitSentences(runbook.body)) {
      const line = { runbook: runbook.title, text: sentence, url: runbook.url ?? null };
      // A sentence that states no rule of its own belongs to the procedure before it.
      if (!readSentence(sentence, line, state)) state.lastProcedure?.related.push(line);
    }
  }
  return rules;
}

/** How the note quotes a runbook sentence: as a reason of its own, verbatim, with the runbook's title and link. */
export function cite(line: RunbookLine): string {
  return `Runbook "${line.runbook}"${line.url ? ` (${line.url})` : ''}: "${line.text}"`;
}
