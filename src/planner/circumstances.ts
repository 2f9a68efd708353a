import { inClientDomain } from './requester.ts';
import { EMAIL_ADDRESS, normalise } from './text.ts';

/**
 * Circumstances that change what the agent may do with an ask, whatever the ask is: a change wanted
 * only for a while (the tools set a state, they cannot undo it on a date), and people outside the
 * client's tenant (access for them is a guest account, a technician's decision).
 */

/** A change meant to last only a while: "temporarily", "for the next two weeks", "until she is back". */
const FOR_A_WHILE: readonly RegExp[] = [
  /\btemporar(y|ily)\b/,
  /\bfor (the )?(next |coming |following )?(few |couple of |couple |\d+ |one |two |three |four |five |six |a |an )(days?|weeks?|months?)\b(?! now| already| straight| in a row| ago)/,
  /\b(until|till|til) (he|she|they|i|we) (is |are |am |gets |get |comes |come |s |re |m )?(back|returns?|return)\b/,
  /\b(until|till) (his|her|their|my|our) return\b/,
  /\b(until|till) (further notice|the end of (the )?(week|month|project|quarter)|next (week|month)|(monday|tuesday|wednesday|thursday|friday|saturday|sunday)|the \d+(st|nd|rd|th)?|\d+(st|nd|rd|th)?\b)/,
  /\b(just|only) (need (it|them|this|that|access) )?(for|until|till|during|over) (the|a|this|these|those|that|next|today|tomorrow|\d|one|two|three|a few|a couple)/,
  /\b(for )?(this|the|one|a|that) (day|week|month|weekend|afternoon|morning) only\b/,
  /\bfor (this|the rest of the|the rest of this) (week|month)\b/,
  /\bwhile (he|she|they|i|we) (is|are|am|s|re|m) (on|away|out|off)\b/,
  /\bduring (his|her|their|my|our) (leave|absence|holiday|holidays|vacation|sabbatical|trip|time off)\b/,
  /\b(pause|freeze|put on hold|on hold)\b/,
];

/** A leave of absence: the account's state would have to change back on return. */
const LEAVE_OF_ABSENCE: readonly RegExp[] = [
  /\b(maternity|paternity|parental|medical|long term|extended|unpaid|study) leave\b/,
  /\bleave of absence\b/,
  /\bsabbatical\b/,
  /\bfurlough/,
];

/** "back from parental leave": a return, not a leave that starts. */
const RETURN_FROM = /\b(back|return(s|ed|ing)?|came back|coming back) (from|after) /;

/**
 * Someone's absence told as background ("Lidia is on holiday until Monday"): its dates are the
 * absence's, not the change's. Not after "while"/"until" ("disable it while she is away" is the ask).
 */
const ABSENCE_TOLD =
  /(?<!\b(?:while|whilst|until|till|during|when|once) \w+ )\b(is|s|are|was|will be|has been|have been) (currently |still |now )?(on (holiday|holidays|vacation|leave|pto|annual leave|sick leave|a trip|business|a course)|off sick|off|out of (the )?office|out|away|absent|ill|sick)\b( (until|till|for|through|this|next|the)( \w+){1,3})?/g;

/** The words that say the change is for a while, or null. */
export function forAWhile(text: string): string | null {
  const n = normalise(text).replace(ABSENCE_TOLD, ' ');
  for (const re of FOR_A_WHILE) {
    const m = re.exec(n);
    if (m) return m[0];
  }
  return null;
}

/** The words that name a leave of absence about to start (not one being returned from), or null. */
export function leaveOfAbsence(text: string): string | null {
  const n = normalise(text);
  if (RETURN_FROM.test(n)) return null;
  for (const re of LEAVE_OF_ABSENCE) {
    const m = re.exec(n);
    if (m) return m[0];
  }
  return null;
}

/** Addresses in the text outside the client's domain (and its subdomains). */
export function outsideAddresses(text: string, clientDomain: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(EMAIL_ADDRESS)) if (!inClientDomain(m[0], clientDomain)) found.add(m[0].toLowerCase());
  return [...found];
}

/** Someone who is not an employee: an external consultant, a freelancer, a guest, an auditor. */
const OUTSIDER: readonly RegExp[] = [
  /\b(external|outside|3rd party|third party) (user|person|people|consultant|auditor|partner|colleague|contact|guest|party|accountant|developer|designer|agency|company|contractor|staff|collaborator|vendor|supplier|freelancer|firm|team|bookkeeper|lawyer|advisor|adviser)s?\b/,
  /\bfreelancers?\b|\bfreelance (designer|developer|writer|consultant)\b/,
  /\bguest (access|account|accounts|user|users)\b/,
  // Roles that are usually people of another firm, when the ask is for them ("give our auditor", "the consultant needs").
  /\b(give|add|grant|for|let|allow|invite|share( \w+)? with|access for|account for|set up)( \w+){0,2} (auditors?|vendors?|suppliers?|consultants?|agency|bookkeepers?|lawyers?|solicitors?|partners?)\b/,
  /\b(auditors?|vendors?|suppliers?|consultants?|agency|bookkeepers?|lawyers?|solicitors?)( \w+){0,2} (needs?|wants?|requires?|should (get|have|be)|would like|to (get|have|access))\b/,
  /\b(contractor|consultant|auditor|someone|somebody|person|people|guy|lady) from (another|a different|an outside|a partner|an external|the partner|the agency|our (agency|partner|supplier|vendor|auditor)s?)\b/,
  /\b(not|isn t|is not|aren t) (an? )?(employee|staff member|member of staff)s?\b/,
  /\b(doesn t|does not|don t|do not) work (here|for us)\b/,
  /\bnot (in|part of) (our|the) (company|directory|tenant|organisation|organization)\b/,
];

/** The words that name an outsider, or null. */
export function outsiderWords(text: string): string | null {
  const n = normalise(text);
  for (const re of OUTSIDER) {
    const m = re.exec(n);
    if (m) return m[0];
  }
  return null;
}
