import { normalise, words } from './text.ts';

/**
 * Recognising what is asked. The same recognisers read the employee's words and the heads of
 * runbook sentences ("Lost or replaced phone: ..."), so a runbook written in a client's own style
 * is matched to a request by meaning, not by a fixed list of titles.
 *
 * All patterns run on `normalise`d text: lower case, punctuation as spaces, possessive 's dropped
 * ("can't" is "can t", "he's leaving" is "he leaving", "Lee Gu's" is "lee gu").
 */

/** Requests about the account itself, each handled by a runbook procedure. */
export const ACCOUNT_INTENTS = ['compromise', 'mfa', 'password', 'shared_computer', 'leaver', 'returner'] as const;
export type AccountIntent = (typeof ACCOUNT_INTENTS)[number];

const PHONE_EVENT = '(lost|lose|stole|stolen|replaced|replace|broke|broken|dropped|changed|upgraded|wiped|swapped|new|reset)';

const patterns = {
  compromise: [
    /\bphish/,
    /\bhack(ed|er|ers)?\b/,
    /\bcompromis/,
    /\bsuspicious (sign ?ins?|log ?ins?|logins?|activity)\b/,
    /\bopened (a |an |the )?(\w+ )?attachment\b/,
    /\b(gave|given|shared|told|sent|disclosed|revealed)( \w+){0,3} (password|credentials|mfa code|code)s? (to|with)\b/,
    /\bpretending to be\b/,
    /\b(unknown|unrecogni[sz]ed|strange|weird|unusual|unexpected) (sign ?ins?|log ?ins?|logins?|locations?|devices?|activity)\b/,
    /\bclicked (on )?(a |an |the )?(\w+ )?(link|attachment)\b/,
    /\bmalicious\b/,
    /\bsomeone (else )?(has |is |was )?(been )?(logged|logging|signed|signing|got|getting) in/,
    /\bbreach/,
    /\b(sending|sent) (out )?(spam|emails? i didn t)/,
    /\bimpossible travel\b/,
    /\b(sign ?ins|log ?ins|logins|sign in attempts|login attempts) from\b/,
    /\bnever been (to|in)\b/,
    /\b(mfa|sign ?in|login|approval|authenticator) (prompt|request|notification|push)e?s? (that )?i (didn t|did not|never)\b/,
    /\b(didn t|did not|never) (trigger|request|start|initiate)\b/,
    /\b(prompts?|requests?|notifications?|codes?) (but|when|while|although|even though) i (m not|am not|wasn t|was not) (logging|signing|trying)/,
    /\b(wasn t|was not|it s not|isn t) me\b/,
    /\bsomeone (else )?(has|knows|got|stole|took) my password\b/,
    /\bscam/,
  ],
  mfa: [
    /\bauthenticator\b/,
    /\bmfa\b/,
    /\b2fa\b/,
    /\btwo (factor|step)\b/,
    /\bmulti ?factor\b/,
    new RegExp(`\\b${PHONE_EVENT}( \\w+){0,3} (mobile |cell |work |smart ?)?(phones?|iphone|android|handset|mobile)\\b`),
    /\bphone (was |got |is |has been )?(lost|stolen|broken|broke|died|dead|replaced|wiped|reset)\b/,
    /\bverification (code|prompt|request)s?\b/,
    /\bsign ?in (prompt|request|approval)s?\b/,
    /\bauthentication (app|method)s?\b/,
  ],
  explicitPassword: [
    /\b(forgot|forgotten|forget|reset|change|expired|expire|expiring|remember|recover)( \w+){0,3} password/,
    /\b(a |my )?(new|temporary|temp) password\b/,
    /\b(don t|do not|no longer|can t|cannot|can not) (know|remember|recall)( \w+){0,3} password/,
    /\bpassword( \w+){0,4} (out of my (head|mind)|slipped my mind|escaped me)\b/,
    /\bpassword( \w+){0,2} (isn t|is not|not|no longer) (being )?(accepted|recogni[sz]ed|working)\b/,
    /\b(can t|cannot|don t) remember (what|my|the|which)( \w+){0,4} (changed|set|password|pw)\b/,
    /\bpassword( \w+){0,3} (expired|reset|forgotten|forgot|not working|doesn t work|wrong|incorrect|isn t working)\b/,
  ],
  implicitPassword: [
    /\blocked out\b/,
    /\block(ed)? me out\b/,
    /\b(can t|cannot|can not|unable to|couldn t) (log|sign) ?(in|on)\b/,
    /\b(can t|cannot|unable to) get in(to)? (my )?(account|computer|email|laptop)\b/,
    /\blog ?in (is )?not working\b/,
    /\bunlock (my|the) account\b/,
  ],
  sharedComputer: [
    /\b(shared|borrowed|public|someone else|colleague|friend|hotel|library|kiosk|internet cafe|family|lab|loaner|loan) (computer|pc|laptop|machine|device|workstation|desktop|terminal|ipad|tablet)s?\b/,
    /\bforgot to (log|sign) (out|off)\b/,
    /\b(still|left|remained|stay|stayed) (logged|signed) (in|on)\b/,
    /\b(log|sign) (me )?(out|off) (of )?everywhere\b/,
    /\b(left|leave|kept)( my)? (session|account|email|outlook|teams)( \w+){0,2} (open|signed in|logged in)\b/,
    /\b(session|account|email|outlook|teams) (is |was )?still (open|signed in|logged in)\b/,
  ],
  leaver: [
    /\b(last|final) (working )?day\b/,
    /\bleaving (the company|the business|us|today|tomorrow|on|at the end|this week|next week)\b/,
    /\b(he|she|they|is|are|who) leaving\b/,
    /\b(has|have|had) left\b/,
    /\bleft (the company|the business|the organi[sz]ation|the firm|us|today)\b/,
    /\bleave the (company|business|organi[sz]ation|firm)\b/,
    /\bresign/,
    /\bterminat/,
    /\bfired\b/,
    /\blet go\b/,
    /\bdismissed\b/,
    /\boff ?board/,
    /\bleavers?\b/,
    /\bno longer (works|working|employed|with (us|the company))\b/,
    /\b(shut|cut|turn) (off|down) (all )?(his|her|their) (access|account)/,
    /\b(disable|block|deactivate|suspend|lock) (\w+ ){0,3}(account|access|sign ?in|login|log ?in|user)/,
    /\b(contract|employment|assignment|engagement) (has |had )?(finished|ended|ends|ending|terminated|is over|was over|finishes)\b/,
    /\bend of (his|her|their) employment\b/,
  ],
  returner: [
    /\bback from (leave|maternity|paternity|parental|sabbatical|sick|holiday|vacation)/,
    /\b(is|are|he|she|they|has|have) (come |coming )?back\b/,
    /\breturn(s|ed|ing)? (from|to work|to the company|next)\b/,
    /\breturners?\b/,
    /\brehire/,
    /\bre ?hired\b/,
    /\bre ?join(s|ed|ing)?\b/,
    /\bre ?enable/,
    /\bre ?activat/,
    /\benable (his|her|their|my|the) account\b/,
    /\bunblock/,
    /\bcame back\b/,
    /\baccount (is |was |has been |got )?(disabled|blocked|deactivated|suspended)\b/,
  ],
  hardware: [
    /\bprinters?\b/,
    /\bprinting\b/,
    /\bpaper jam/,
    /\bjam(med)?\b/,
    /\btoner\b/,
    /\bscanners?\b/,
    /\bhardware\b/,
    /\b(broken|cracked|smashed) (laptop|monitor|screen|keyboard|mouse|dock|docking station|headset|webcam|charger|desk phone|computer|pc)\b/,
  ],
  deviceFault: [
    /\b(laptop|monitor|screen|keyboard|key|keys|mouse|dock|docking station|headset|webcam|charger|battery|desk phone|projector|cable|computer|pc|desktop)s?( \w+){0,6} (broken|cracked|dead|faulty|won t|doesn t|not working|stopped|flickering|blinking|overheating|noisy|loud|damaged|buzzing|rattling|beeping|smoking|sparking|hot|swollen)\b/,
    /\b(dead|faulty|broken|cracked) (laptop|monitor|screen|keyboard|mouse|dock|docking station|headset|webcam|charger|battery|desk phone|computer|pc)\b/,
  ],
  /** Asking for a device: a technician orders and sets it up. Only when nothing else is asked ("Office on my new laptop" is about Office). */
  deviceRequest: [
    /\b(new|replacement|spare|second|another|bigger|extra) (laptop|monitor|screen|keyboard|mouse|dock|docking station|headset|webcam|charger|battery|desk phone|computer|pc)s?\b/,
  ],
  /** A device asked for outright ("and a new keyboard please"), not one spoken of ("on my new laptop"). */
  deviceAsked: [
    /\b(need|want|get|order|request|and|also|plus|with|for)( a| an| another| one)? (new|replacement|spare|second|extra|bigger) (laptop|monitor|screen|keyboard|mouse|dock|docking station|headset|webcam|charger|battery|desk phone|computer|pc)s?\b/,
    /\b(a|an|another) (new|replacement|spare|second|extra|bigger) (laptop|monitor|screen|keyboard|mouse|dock|docking station|headset|webcam|charger|battery|desk phone|computer|pc)s?\b/,
  ],
  onboarding: [
    /\bnew (hire|starter|joiner|employee|team member|colleague|staff member|user)s?\b/,
    /\bonboard(ing)? (a |an |the |our |my |his |her )?(new )?(hire|starter|joiner|employee|person|colleague|user|staff|team member|intern|apprentice|trainee)s?\b/,
    /\bonboard(ing)? (him|her|them)\b/,
    /\b(starts|starting|joins|joining) (with us |us |the company |the team )?(on (monday|tuesday|wednesday|thursday|friday|saturday|sunday|the \d+)|next (week|month|monday|tuesday|wednesday|thursday|friday)|this (monday|tuesday|wednesday|thursday|friday)|tomorrow|monday|tuesday|wednesday|thursday|friday)\b/,
    /\bcreate (a |an )?(new )?(account|user|mailbox)\b/,
    /\bset up (a |an )?(new )?(account|user)\b/,
  ],
  manyPeople: [
    /\b(give|add|grant|set up|enable|remove|for) (all of )?(my|our|the) (whole |entire )?(team|department|staff|reports|direct reports|group)\b/,
    /\b(for|to) (everyone|everybody|all staff|all of us)\b/,
  ],
  admin: [
    /\badmin(istrator|istrative|s)?\b/,
    /\bprivileged\b/,
    /\belevated (rights|access|privileges|permissions)\b/,
    /\broot access\b/,
    /\bsudo\b/,
  ],
  fault: [
    /\bnot working\b/,
    /\b(doesn t|does not|isn t|is not|don t|do not|aren t|are not) work(ing)?\b/,
    /\bwon t (open|load|start|work|connect|launch|sync)\b/,
    /\berrors?\b/,
    /\bcrash/,
    /\bstopped working\b/,
    /\bkeeps (crashing|freezing|failing)\b/,
    /\bfreez/,
    /\bnot (loading|opening|syncing|connecting)\b/,
  ],
} satisfies Record<string, RegExp[]>;

/** "no sign of compromise" must not read as a compromise. */
const NEGATED_COMPROMISE = [
  /\b(no|not|without|any|nothing) (\w+ )?(sign|signs|evidence|indication|suspicion)s? of (compromise|hacking|being hacked)\b/g,
  /\b(not|n t|never) (been )?(compromised|hacked)\b/g,
];

function anyMatch(text: string, list: readonly RegExp[]): boolean {
  return list.some((re) => re.test(text));
}

function withoutNegatedCompromise(text: string): string {
  return NEGATED_COMPROMISE.reduce((t, re) => t.replace(re, ' '), text);
}

export interface IntentReading {
  /** Account requests, most specific first (a compromise subsumes a password reset). */
  account: AccountIntent[];
  hardware: boolean;
  /** A device is asked for ("a new keyboard please"); "my new laptop" counts only when nothing else is asked. */
  deviceRequest: boolean;
  /** A device asked for outright ("and a new keyboard please"): hardware beside any other ask. */
  deviceAsked: boolean;
  admin: boolean;
  /** Something "is not working": a fault report rather than a request for access. */
  fault: boolean;
  /** A person who is not in the directory yet: creating accounts is a technician's job. */
  onboarding: boolean;
  /** "my team", "everyone": people the agent cannot name one by one. */
  manyPeople: boolean;
}

/** What the words ask for, apart from the applications and licenses they name (see resources.ts). */
/** "until he is back", "once she comes back": a return to come, not a returner to enable now. */
const RETURN_TO_COME = /\b(until|till|til|when|once|before) (he|she|they|i|we|[a-z]+) (is |are |am |s |re |m |comes |come |gets |get )?back\b/g;

export function readIntents(text: string): IntentReading {
  const n = withoutNegatedCompromise(normalise(text));
  const found = new Set<AccountIntent>();
  const returner = anyMatch(n.replace(RETURN_TO_COME, ' '), patterns.returner);
  if (returner) found.add('returner');
  // "back from leave" must not read as a leaver; an explicit leaver word still wins alongside it.
  if (anyMatch(n, patterns.leaver) && !(returner && !/\b(last|final) day\b|\bleaving\b|\bleaver/.test(n))) {
    found.add('leaver');
  }
  const compromise = anyMatch(n, patterns.compromise);
  if (compromise) found.add('compromise');
  if (!compromise && anyMatch(n, patterns.sharedComputer)) found.add('shared_computer');
  const mfa = anyMatch(n, patterns.mfa);
  if (mfa && !compromise) found.add('mfa');
  const explicitPassword = anyMatch(n, patterns.explicitPassword);
  // A compromise already resets the password; "can't log in" after a new phone is the phone.
  if (!compromise && (explicitPassword || (!mfa && !found.has('returner') && anyMatch(n, patterns.implicitPassword)))) {
    found.add('password');
  }
  return {
    account: ACCOUNT_INTENTS.filter((i) => found.has(i)),
    // "my computer doesn't take my password" is a password problem, not a hardware one.
    hardware: anyMatch(n, patterns.hardware) || (found.size === 0 && anyMatch(n, patterns.deviceFault)),
    deviceRequest: found.size === 0 && anyMatch(n, patterns.deviceRequest),
    deviceAsked: anyMatch(n, patterns.deviceAsked),
    admin: anyMatch(n, patterns.admin),
    fault: anyMatch(n, patterns.fault),
    onboarding: anyMatch(n, patterns.onboarding),
    manyPeople: anyMatch(n, patterns.manyPeople),
  };
}

/**
 * The one procedure a runbook sentence's head describes ("Returners (back from leave, rehired),
 * reported by HR or their manager"), or null when it describes none.
 */
export function classifyProcedureHead(head: string): AccountIntent | 'hardware' | null {
  const n = withoutNegatedCompromise(normalise(head));
  if (anyMatch(n, patterns.returner)) return 'returner';
  if (anyMatch(n, patterns.leaver)) return 'leaver';
  if (anyMatch(n, patterns.compromise)) return 'compromise';
  if (anyMatch(n, patterns.sharedComputer)) return 'shared_computer';
  if (anyMatch(n, patterns.mfa)) return 'mfa';
  if (anyMatch(n, patterns.explicitPassword) || anyMatch(n, patterns.implicitPassword)) return 'password';
  if (anyMatch(n, patterns.hardware) || anyMatch(n, patterns.deviceFault) || anyMatch(n, patterns.deviceRequest) || /\b(laptops?|hardware faults?)\b/.test(n)) return 'hardware';
  return null;
}

// Verbs that say whether a named resource is wanted or no longer wanted. Multi-word cues are
// marked first so that "no longer need" is not read as "need".
const WITHDRAW_PHRASES: readonly RegExp[] = [
  /\bno longer (need|needs|use|uses|require)\b/g,
  /\b(don t|do not|doesn t|does not) (need|use|require)( \w+)? (anymore|any more)\b/g,
  /\b(don t|do not|doesn t|does not) need\b/g,
  /\btake (me|him|her|them|\w+) off\b/g,
  /\bget (me|him|her|them) off\b/g,
  /\bopt (me )?out\b/g,
];
const WITHDRAW_CUE = 'withdraw_cue';
/** "I'd like" asks; "looked like" does not. */
const GRANT_PHRASES: readonly RegExp[] = [/\b(would|d) like\b/g];
const GRANT_CUE = 'grant_cue';
const WITHDRAW_WORDS = new Set(['remove', 'removed', 'removing', 'unsubscribe', 'leave', 'drop', 'revoke', WITHDRAW_CUE]);
const GRANT_WORDS = new Set([
  'add', 'added', 'adding', 'need', 'needs', 'needed', 'get', 'give', 'grant', 'want', 'wants', 'request',
  'join', 'have', 'install', 'use', 'subscribe', 'enable', 'assign', 'allow', 'require', 'requires',
  'setup', 'set', 'onto', 'into', GRANT_CUE,
]);

export type ResourceAction = 'grant' | 'withdraw';

/**
 * The request's words (the same indexes as `words(text)`) with the words of multi-word withdraw cues
 * replaced by one marker, for `actionFor`.
 */
export function cueWords(text: string): string[] {
  const ws = words(text);
  const joined = ws.join(' ');
  const cues = [...ws];
  const mark = (phrases: readonly RegExp[], cue: string): void => {
    for (const re of phrases) {
      for (const m of joined.matchAll(re)) {
        const first = joined.slice(0, m.index).split(' ').length - 1;
        const count = m[0].split(' ').length;
        for (let k = first; k < first + count; k++) cues[k] = cue;
      }
    }
  };
  mark(GRANT_PHRASES, GRANT_CUE);
  mark(WITHDRAW_PHRASES, WITHDRAW_CUE);
  return cues;
}

/**
 * Whether the resource named at `start` is asked for or asked away: the nearest cue before it in
 * the same request wins ("remove me from DL-Sales and add me to DL-Marketing"); failing that, a cue
 * shortly after it ("Tableau is no longer needed"); null when the words say neither. `within` keeps
 * the search inside the mention's clause (a verb of the next sentence is not this one's).
 */
export function actionFor(cues: readonly string[], start: number, end: number, within: { start: number; end: number } = { start: 0, end: cues.length }): ResourceAction | null {
  for (let i = start - 1; i >= Math.max(within.start, start - 8); i--) {
    const w = cues[i] ?? '';
    if (WITHDRAW_WORDS.has(w)) return 'withdraw';
    if (GRANT_WORDS.has(w)) return 'grant';
  }
  for (let i = end; i < Math.min(within.end, end + 5); i++) {
    const w = cues[i] ?? '';
    if (WITHDRAW_WORDS.has(w) || w === 'anymore') return 'withdraw';
    if (GRANT_WORDS.has(w)) return 'grant';
  }
  return null;
}
