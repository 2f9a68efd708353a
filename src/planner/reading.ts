import type { DirectoryUser } from '../core/directory.ts';
import { sameUpn, who } from './authority.ts';
import { asksForSelf } from './clauses.ts';
import type { PlanningContext } from './context.ts';
import { type Decision, escalate } from './decision.ts';
import { readIntents } from './intent.ts';
import { readLanguage } from './language.ts';
import { type MailAuthor, parseAuthor, type QuotedMessage, readMail } from './mail.ts';
import { inClientDomain } from './requester.ts';
import { findMentions } from './resources.ts';

/**
 * What the planner reads of a request: the sender's own words without greetings, signatures,
 * disclaimers and quoted history (mail.ts), in English (language.ts). When the sender's words only
 * pass on a forwarded message ("see below, can you help?"), the ask is the forwarded message's,
 * read in its author's words ("I" is the author) while authority stays the sender's: a colleague
 * forwarding someone's request gains nothing for it, and a manager forwarding their report's may.
 */
export interface AskReading {
  ctx: PlanningContext;
  /** What the note says about how the request was read. */
  notes: string[];
  /** A forwarded ask whose author cannot be an employee: the whole answer. */
  refusal: Decision | null;
}

const LANGUAGE_NAMES = { en: 'English', de: 'German', fr: 'French', es: 'Spanish', nl: 'Dutch' } as const;

function english(text: string): { text: string; language: keyof typeof LANGUAGE_NAMES } {
  const reading = readLanguage(text);
  return { text: reading.english, language: reading.language };
}

/** The words ask for something the planner knows: an account procedure, hardware, a group, a licence, a product. */
function hasAsk(ctx: PlanningContext, text: string): boolean {
  if (text.trim() === '') return false;
  const intents = readIntents(text);
  return intents.account.length > 0 || intents.hardware || intents.admin || findMentions(text, ctx.catalog).mentions.length > 0;
}

/** The employee who wrote a forwarded message, or why it cannot be one. */
async function authorOf(ctx: PlanningContext, from: MailAuthor): Promise<{ user: DirectoryUser } | { refusal: Decision }> {
  const shown = from.email ?? from.name ?? 'someone unnamed';
  if (from.email) {
    if (!inClientDomain(from.email, ctx.input.client.domain)) {
      return {
        refusal: escalate(`the forwarded request was written by someone outside ${ctx.clientName}`, [
          `${ctx.requester.displayName} forwarded a message from ${from.email}, outside ${ctx.clientName}'s domain (${ctx.input.client.domain}).`,
          'Access for people outside the tenant is decided and set up by a technician, never by the agent.',
        ]),
      };
    }
    const user = await ctx.reader.getUser(from.email);
    if (user) return { user };
  } else if (from.name) {
    const first = from.name.trim().split(/\s+/)[0] ?? '';
    const found = first.length >= 2 ? await ctx.reader.findUsers(first) : [];
    const exact = found.filter((u) => u.displayName.toLowerCase() === from.name?.trim().toLowerCase());
    if (exact.length === 1 && exact[0]) return { user: exact[0] };
  }
  return {
    refusal: escalate('who wrote the forwarded request is not clear', [
      `${ctx.requester.displayName} forwarded a message from ${shown}, whom ${ctx.clientName}'s directory does not know as one employee.`,
    ]),
  };
}

/** "From:", "Von:", "De :", "Van:" as a quoted block's first line: its author, and the rest as its words. */
const FROM_LINE = /^\s*(?:from|von|de|van)\s?:\s*(.+)$/i;

function withHeaderAuthor(quote: QuotedMessage): QuotedMessage {
  if (quote.from.email !== null || quote.from.name !== null) return quote;
  const [first, ...rest] = quote.body.split('\n');
  const header = FROM_LINE.exec(first ?? '');
  if (!header?.[1]) return quote;
  return { ...quote, from: parseAuthor(header[1]), body: rest.join('\n').trim() };
}

export async function readAsk(ctx: PlanningContext): Promise<AskReading> {
  const mail = readMail(ctx.input.request.text);
  const own = english(mail.body);
  const notes: string[] = [];
  // Forwarded messages; and, when the sender's words ask nothing, a quoted message with an author
  // ("Forwarding Adele's note below" above a "> From: Adele" block), read like a forward.
  const forwards = mail.quoted.map(withHeaderAuthor).filter((q) => q.kind === 'forward' || q.from.email !== null || q.from.name !== null);
  const ownAsks = hasAsk(ctx, own.text);
  const languageNote = (language: keyof typeof LANGUAGE_NAMES): void => {
    if (language !== 'en') notes.push(`The request is written in ${LANGUAGE_NAMES[language]}; the agent read it with its ${LANGUAGE_NAMES[language]} vocabulary.`);
  };
  if (ownAsks && forwards.length > 0 && !/\b(me|my|myself|i)\b/i.test(own.text) && /\b(him|her|them)\b/i.test(own.text)) {
    // "FW: Zendesk. Please add her, she is joining the rota" above Barbara's message: "her" is Barbara.
    const author = await authorOf(ctx, forwards[0]!.from);
    if ('user' in author && !sameUpn(author.user, ctx.requester)) {
      languageNote(own.language);
      notes.push(`"${own.text.match(/\b(him|her|them)\b/i)?.[0]}" in ${ctx.requester.displayName}'s words is read as ${who(author.user)}, who wrote the forwarded message.`);
      const named = own.text.replace(/\b(him|her|them)\b/i, author.user.displayName);
      return { ctx: ctx.reading(named, ctx.requester), notes, refusal: null };
    }
  }
  if (ownAsks || forwards.length === 0) {
    languageNote(own.language);
    // Nothing of the sender's own but quoted history: read what was written, as written.
    const text = own.text.trim() === '' ? english(ctx.input.request.text).text : own.text;
    return { ctx: ctx.reading(text, ctx.requester), notes, refusal: null };
  }
  const readings = forwards.map((q) => ({ quote: q, ...english(q.body) }));
  const chosen = readings.find((r) => hasAsk(ctx, r.text)) ?? (readings[0] as { quote: QuotedMessage; text: string; language: keyof typeof LANGUAGE_NAMES });
  // "forwarding Megan's OK below, can you set me up?": the sender asks for themselves; the quote says what.
  if (asksForSelf(own.text)) {
    languageNote(own.language);
    notes.push(`The ask is ${ctx.requester.displayName}'s own; the forwarded message below it is read as what it refers to, not as anyone's approval.`);
    return { ctx: ctx.reading(`${own.text}\n${chosen.text}`, ctx.requester), notes, refusal: null };
  }
  const author = await authorOf(ctx, chosen.quote.from);
  if ('refusal' in author) return { ctx, notes, refusal: author.refusal };
  languageNote(chosen.language);
  if (!sameUpn(author.user, ctx.requester)) {
    notes.push(
      `The ask is in a message from ${who(author.user)} that ${who(ctx.requester)} forwarded: it is read in ${author.user.displayName}'s words, and what may be done is decided by ${ctx.requester.displayName}'s standing, not by anything the message claims.`,
    );
  }
  // The sender's own words follow the quote, so that what they add ("for two weeks only") is read too.
  const text = own.text.trim() === '' ? chosen.text : `${chosen.text}\n${own.text}`;
  return { ctx: ctx.reading(text, author.user), notes, refusal: null };
}
