/**
 * Reading a request as a mail: what the sender wrote, and the messages quoted below it.
 *
 * Employees' requests reach the planner as PSA tickets made from e-mails, chat messages and call
 * transcripts. A real mail carries far more than the ask: greetings, sign-offs, signatures with
 * phone numbers and addresses, legal disclaimers, device footers, reply history, and often a
 * forwarded message in which the real ask is quoted. The planner must read only the words that
 * matter, and know whose they are: the forwarder's (the requester, whose authority counts) or the
 * quoted author's (who "I" and "me" mean inside the quote).
 *
 * The reading is line-based and deliberately conservative: a line is dropped only when it matches
 * a whole-line convention (a greeting, a sign-off, a device footer) or starts a block that mail
 * clients add (a disclaimer, a signature after a sign-off, a quoted message). When unsure, the text
 * stays. Every pattern is precompiled, anchored, and tried only on a bounded prefix of a line, so a
 * ticket of any size is read in time linear in its length (tickets come from anyone).
 */

export interface MailAuthor {
  name: string | null;
  email: string | null;
}

export interface QuotedMessage {
  from: MailAuthor;
  /** the quoted message's own words, cleaned like the body */
  body: string;
  kind: 'forward' | 'reply';
}

export interface MailReading {
  /** The sender's own words: greeting lines, sign-off and signature, disclaimers, device footers and all quoted history removed. */
  body: string;
  /** Messages quoted below the sender's words, outermost first. */
  quoted: QuotedMessage[];
}

/** Mail conventions are short lines; longer ones are content, and never tried against a pattern. */
const MAX_CONVENTION_LINE = 400;
/** Deeper quoting than this is left as text: no real mail nests further, and it bounds the work. */
const MAX_QUOTE_DEPTH = 12;
/** A sign-off ends the mail only when what follows it is signature-sized (or a disclaimer). */
const MAX_SIGNATURE_LINES = 15;
/** Greetings stand on the first lines; a "Hi team" further down is left alone. */
const GREETING_LINES = 3;

// ---------------------------------------------------------------------------------------------
// Patterns. All anchored, with bounded or non-overlapping repetition.

/** Separators that say "a forwarded message follows", in the five languages clients write. */
const FORWARD_SEPARATOR =
  /^-{2,}\s*(?:forwarded(?: message| e-?mail| mail)?|weitergeleitete nachricht|weitergeleitet|message transf[ée]r[ée]|mensaje reenviado|doorgestuurd bericht|doorgestuurd)\s*-{2,}$|^(?:begin forwarded message|anfang der weitergeleiteten nachricht|d[ée]but du message r[ée]exp[ée]di[ée]|inicio del mensaje reenviado|begin doorgestuurd bericht)\s*:$/iu;

/** Separators that quote a message without saying whether it is forwarded or answered. */
const ORIGINAL_SEPARATOR =
  /^-{2,}\s*(?:original message|urspr[üu]ngliche nachricht|message d'origine|mensaje original|oorspronkelijk bericht)\s*-{2,}$/iu;

/** Outlook draws this line above its plain header block. */
const UNDERSCORE_RULE = /^_{8,}$/;

/** "From: …", "Von: …", "De : …", "Enviado el: …", "Onderwerp: …", with Markdown bold if any. */
const HEADER_LINE =
  /^\**\s*(from|von|de|van|exp[ée]diteur|sent|date|gesendet|datum|envoy[ée]|enviado el|enviado|fecha|verzonden|verstuurd|to|an|[àa]|pour|para|aan|cc|bcc|subject|betreff|objet|sujet|asunto|onderwerp|reply-to|importance|wichtigkeit|priorit[ée]|importancia|urgentie|attachments|anlagen|pi[èe]ces jointes|datos adjuntos|bijlagen)\s*\**\s*:\s*\**\s*(.*)$/iu;

type HeaderField = 'from' | 'date' | 'to' | 'cc' | 'subject' | 'other';

const HEADER_FIELD: ReadonlyMap<string, HeaderField> = new Map<string, HeaderField>([
  ...['from', 'von', 'de', 'van', 'expéditeur', 'expediteur'].map((l): [string, HeaderField] => [l, 'from']),
  ...['sent', 'date', 'gesendet', 'datum', 'envoyé', 'envoye', 'enviado el', 'enviado', 'fecha', 'verzonden', 'verstuurd'].map(
    (l): [string, HeaderField] => [l, 'date'],
  ),
  ...['to', 'an', 'à', 'a', 'pour', 'para', 'aan'].map((l): [string, HeaderField] => [l, 'to']),
  ...['cc', 'bcc'].map((l): [string, HeaderField] => [l, 'cc']),
  ...['subject', 'betreff', 'objet', 'sujet', 'asunto', 'onderwerp'].map((l): [string, HeaderField] => [l, 'subject']),
]);

/** Reply headers, one per language; the author is the last part before the verb (or after it). */
const REPLY_HEADERS: readonly { pattern: RegExp; author: 'after-date' | 'group' | 'name-first' }[] = [
  { pattern: /^on\s+(.+?)\s+wrote\s*:$/iu, author: 'after-date' },
  { pattern: /^le\s+(.+?)\s+a\s+[ée]crit\s*:$/iu, author: 'after-date' },
  { pattern: /^el\s+(.+?)\s+escribi[óo]\s*:$/iu, author: 'after-date' },
  { pattern: /^am\s+.+?\s+schrieb\s+(.+?)\s*:$/iu, author: 'group' },
  { pattern: /^op\s+.+?\s+schreef\s+(.+?)\s*:$/iu, author: 'group' },
  { pattern: /^op\s+.+?\s+heeft\s+(.+?)\s+het volgende geschreven\s*:$/iu, author: 'group' },
  // "Alex Wilber <a@x> wrote:", "Alex Wilber schrieb am 08.04.2025 um 09:14:": trusted only with an
  // address or a full name, so that "Here is what I wrote:" stays a sentence.
  {
    pattern: /^([^:]{1,120}?)\s+(?:wrote|schrieb|a\s+[ée]crit|escribi[óo]|schreef)(?:\s+(?:on|am|le|el|op)\s+[^:]{1,80}(?::[^:]{1,20}){0,2})?\s*:$/iu,
    author: 'name-first',
  },
];
/** A line that may be the first half of a reply header wrapped over two lines. */
const REPLY_HEADER_START = /^(?:on|le|el|am|op)\s/iu;
/** A full name: two to four capitalised words. */
const FULL_NAME = /^[\p{Lu}][\p{L}'.-]*(?:\s[\p{Lu}][\p{L}'.-]*){1,3}$/u;

/** Where a date ends inside "Mon, Mar 3, 2025 at 10:02 AM Alex Wilber": a comma, a time or a year. */
const DATE_TOKEN = /,\s*|\d{1,2}[:.h]\d{2}(?:\s*[ap]\.?\s?m\.?)?(?=\s|,|$)|\b\d{4}\b/giu;

/** "Fwd:", "FW:", "WG:", "TR:", "RV:", "Doorst:" (forwards); "RE:", "AW:", "Antw:", "SV:" (replies). */
const SUBJECT_PREFIX = /^(?:\[?(fwd?|wg|tr|rv|doorst|enc|re|aw|antw|sv|rif)\]?\s*(?:\[\d{1,4}\])?\s*:\s*)+/iu;
const FORWARD_PREFIX = /^(?:fwd?|wg|tr|rv|doorst|enc)$/iu;

const EMAIL = /[\p{L}\p{N}._%+'-]{1,64}@[\p{L}\p{N}-]{1,63}(?:\.[\p{L}\p{N}-]{1,63}){1,8}/u;

/** "[EXTERNAL]" tags at the start of a line; the rest of the line stays. */
const EXTERNAL_TAG = /^\[(?:external|extern|externe|externo|ext)\]\s*:?\s*/iu;
/** Banners mail gateways add above the sender's words. */
const BANNER =
  /^(?:caution|warning|attention|achtung|vorsicht|precauci[óo]n|atenci[óo]n|let op|waarschuwing)?\s*:?\s*(?:external email|this (?:e-?mail|message) (?:originated|came|comes|was sent) from outside|diese (?:e-?mail|nachricht) (?:stammt|kommt) von (?:au[ßs]erhalb|einem externen)|ce (?:courriel|message|e-?mail) provient de l'ext[ée]rieur|este (?:correo|mensaje) (?:se origin[óo]|proviene) (?:fuera|de fuera|del exterior)|deze e-?mail (?:is afkomstig|komt) van buiten)/iu;
/** The banner's second sentence, when it wraps onto its own line. */
const BANNER_CONTINUATION =
  /^(?:do not click|don't click|unless you recogni[sz]e|know the content is safe|klicken sie nicht|ne cliquez pas|no haga clic|klik niet)/iu;

/** A disclaimer paragraph starts with one of these; from there on the mail is boilerplate. */
const DISCLAIMER =
  /^(?:confidentiality notice|disclaimer\s*:|legal notice\s*:|vertraulichkeitshinweis|haftungsausschluss\s*:|avis de confidentialit[ée]|aviso de confidencialidad|aviso legal\s*:|vertrouwelijkheidsverklaring|the information (?:contained )?in this (?:e-?mail|message|communication)|this (?:e-?mail|message|communication|electronic message)\b[^.]{0,80}\b(?:confidential|privileged|intended (?:solely|only|exclusively) for)|if you (?:are not the intended recipient|have received this (?:e-?mail|message) in error)|diese (?:e-?mail|nachricht)\b[^.]{0,80}\b(?:vertraulich|ausschlie[ßs]lich f[üu]r|bestimmt)|sollten sie (?:diese|nicht der)|falls sie nicht der|wenn sie nicht der|ce (?:message|courriel|e-?mail)\b[^.]{0,80}\b(?:confidentiel|destin[ée]|exclusivement)|si vous (?:n'[êe]tes pas|avez re[çc]u ce)|este (?:mensaje|correo)\b[^.]{0,80}\b(?:confidencial|dirigido|destinado|exclusivamente)|si (?:usted )?(?:no es el destinatario|ha recibido este)|dit (?:bericht|e-?mailbericht|e-?mail)\b[^.]{0,80}\b(?:uitsluitend|vertrouwelijk|bestemd)|indien u (?:dit bericht|niet de)|als u niet de (?:bedoelde )?geadresseerde)/iu;

/** Whole lines that carry nothing: printing pleas and device footers. */
const NOISE_LINE =
  /^(?:please consider the environment before printing[^\n]{0,80}|think before you print[^\n]{0,40}|bitte denken sie an die umwelt[^\n]{0,80}|merci de penser [àa] l'environnement[^\n]{0,80}|pensez [àa] l'environnement[^\n]{0,80}|antes de imprimir[^\n]{0,80}|denk aan het milieu[^\n]{0,80}|sent from my (?:iphone|ipad|android(?: device| phone)?|mobile(?: device| phone)?|phone|smartphone|blackberry|samsung[^\n]{0,40}|galaxy[^\n]{0,40}|huawei[^\n]{0,40}|pixel[^\n]{0,20})|sent from (?:outlook|mail|yahoo mail|gmail)(?: (?:for|on) (?:ios|iphone|android|mac|windows))?|sent with proton mail[^\n]{0,40}|sent via [^\n]{1,30} (?:app|mobile)|get outlook for (?:ios|android)|von meinem (?:iphone|ipad|smartphone|handy|mobiltelefon|android|samsung[^\n]{0,30}) gesendet|gesendet von (?:meinem (?:iphone|ipad|handy|smartphone)|outlook f[üu]r (?:ios|android))|outlook f[üu]r (?:ios|android) beziehen|envoy[ée] (?:de|depuis) (?:mon (?:iphone|ipad|smartphone|mobile|t[ée]l[ée]phone|android|samsung[^\n]{0,30})|outlook pour (?:ios|android))|t[ée]l[ée]charger outlook pour (?:ios|android)|obtenez outlook pour (?:ios|android)|enviado desde (?:mi (?:iphone|ipad|smartphone|m[óo]vil|celular|android|samsung[^\n]{0,30}|dispositivo[^\n]{0,40})|outlook para (?:ios|android))|obtener outlook para (?:ios|android)|verzonden (?:vanaf|van|met) (?:mijn (?:iphone|ipad|smartphone|telefoon|mobiel|android|samsung[^\n]{0,30})|outlook voor (?:ios|android))|outlook voor (?:ios|android) downloaden|download outlook voor (?:ios|android))[.!]?$/iu;

/** Greeting words, and the addressees that may follow them on a line of their own. */
const GREETING =
  /^(hi|hello|hey|hiya|dear|good (?:morning|afternoon|evening|day)|greetings|morning|hallo|guten (?:morgen|tag|abend)|moin|servus|liebe[rs]?|sehr geehrte[rs]?|bonjour|bonsoir|salut|coucou|ch[èe]re?s?|madame|monsieur|hola|buenos d[íi]as|buenas(?: tardes| noches)?|estimad[oa]s?|querid[oa]s?|hoi|beste|geachte|goedemorgen|goedemiddag|goedenavond|dag|madame,? monsieur)((?:\s+[^\s,!:;]{1,30}){0,5})\s*[,!:.]?$/iu;
const ADDRESSEE_WORDS: ReadonlySet<string> = new Set([
  'team', 'all', 'everyone', 'everybody', 'folks', 'guys', 'there', 'it', 'helpdesk', 'help', 'desk',
  'service', 'servicedesk', 'support', 'sir', 'or', 'madam', 'colleagues', 'and', 'y\'all', 'people',
  'zusammen', 'und', 'damen', 'herren', 'leute', 'kollegen', 'kolleginnen', 'kollegin', 'kollege', 'allerseits',
  'à', 'a', 'tous', 'toutes', 'tout', 'le', 'la', 'les', 'monde', 'équipe', "l'équipe", 'collègues', 'et',
  'todos', 'todas', 'equipo', 'el', 'soporte', 'compañeros', 'y',
  'allemaal', 'iedereen', 'collega', "collega's", 'heren', 'dames', 'en', 'mevrouw', 'heer', 'meneer', 'heer/mevrouw',
  'dames/heren',
]);

/** Sign-off phrases in the five languages; tried longest first, so "best regards" wins over "best". */
const SIGN_OFF_PHRASES = [
  'thanks', 'thank you', 'many thanks', 'thanks and regards', 'thanks & regards', 'thank you and regards', 'thx', 'ty', 'cheers', 'best', 'regards', 'best regards',
  'kind regards', 'warm regards', 'warmest regards', 'kindest regards', 'with kind regards', 'with best regards',
  'best wishes', 'all the best', 'sincerely', 'yours sincerely', 'yours faithfully', 'yours truly', 'respectfully',
  'take care',
  'mit freundlichen gr[üu](?:ß|ss)en', 'mit freundlichem gru(?:ß|ss)', 'freundliche gr[üu](?:ß|ss)e', 'viele gr[üu](?:ß|ss)e',
  'beste gr[üu](?:ß|ss)e', 'liebe gr[üu](?:ß|ss)e', 'herzliche gr[üu](?:ß|ss)e', 'sch[öo]ne gr[üu](?:ß|ss)e', 'gru(?:ß|ss)',
  'gr[üu](?:ß|ss)e', 'danke und gr[üu](?:ß|ss)e', 'danke und viele gr[üu](?:ß|ss)e', 'danke', 'danke sch[öo]n', 'vielen dank', 'besten dank', 'mfg', 'lg', 'vg',
  'cordialement', 'bien cordialement', 'tr[èe]s cordialement', 'bien [àa] vous', 'sinc[èe]res salutations',
  'salutations', 'meilleures salutations', 'bonne journ[ée]e', 'merci', 'merci beaucoup', 'merci bien',
  "merci d'avance", 'merci par avance', 'merci [àa] vous', 'merci et bonne journ[ée]e',
  'saludos', 'un saludo', 'saludos cordiales', 'un cordial saludo', 'atentamente', 'cordialmente', 'gracias',
  'muchas gracias',
  'met vriendelijke groet', 'met vriendelijke groeten', 'vriendelijke groet', 'vriendelijke groeten', 'hartelijke groet',
  'hartelijke groeten', 'groetjes', 'groeten', 'groet', 'alvast bedankt', 'bedankt', 'dank je', 'dank je wel', 'dank u',
  'dank u wel', 'hartelijk dank', 'mvg', 'br', 'kr',
].sort((a, b) => b.length - a.length);

/**
 * A line that starts with a sign-off ("Thanks,", "Kind regards, Alex", "Mit freundlichen Grüßen",
 * "Thank you in advance for your help!"); what follows it is checked to be a name by `isClosing`.
 */
const SIGN_OFF = new RegExp(
  `^(?:${SIGN_OFF_PHRASES.join('|')})(?![\\p{L}])` +
    '(?:\\s+(?:so much|very much|a lot|again|in advance|beforehand|im voraus|d\'avance|par avance|de antemano|alvast))?' +
    '(?:\\s+(?:for|für|pour|por|voor)\\s+(?:your|the|all your|all the|ihre|deine|die|votre|ton|su|tu|la|uw|je|de)\\s+' +
    '(?:help|time|support|assistance|patience|hilfe|unterst[üu]tzung|aide|ayuda|hulp|moeite)(?:\\s+(?:with|on)\\s+(?:this|that))?)?' +
    '\\s*[,.!:;-]*\\s*(.*)$',
  'iu',
);
/** Up to four capitalised words (a name, "IT"), matched with case: the rest of a sign-off line. */
const NAME_AFTER_SIGN_OFF = /^(?:[\p{Lu}][\p{L}'.-]{0,30}(?:\s+[\p{Lu}][\p{L}'.-]{0,30}){0,3}\s*[.!]?)?$/u;
/** "LG", "MfG" and friends are sign-offs alone; "LG Monitor" is not. */
const SIGN_OFF_ABBREVIATION = /^(?:mfg|lg|vg|mvg|br|kr)\s+[^,\s]/iu;

/** "-- " (the standard signature separator) and the bare "--" mail clients leave. */
const SIGNATURE_SEPARATOR = /^--\s?$/;
/** A postscript after the sign-off is still the sender's words. */
const POSTSCRIPT = /^(?:p\.?\s?s\.?|n\.?b\.?)\s*[:.\-)]?\s/iu;

// ---------------------------------------------------------------------------------------------

/**
 * Reads a request as a mail: the sender's own words in `body`, quoted messages (forwards and reply
 * history) in `quoted`, outermost first. A text without any mail convention (a chat message, a
 * one-line ticket) comes back unchanged with nothing quoted.
 */
export function readMail(text: string): MailReading {
  const lines = withLineBreaksRestored(text.replace(/\r\n?/g, '\n').split('\n'));
  const subject = subjectPrefixKind(firstNonBlank(lines));
  const part = readPart(lines, subject, 0, true);
  // Nothing read as a mail convention: the text is not a mail, and comes back as it was written.
  if (part.quoted.length === 0 && part.body === joinParagraphs(lines)) return { body: text, quoted: [] };
  return part;
}

/** What a message's subject says about the message quoted in it: forwarded, answered, or nothing. */
type SubjectKind = 'forward' | 'reply' | null;

interface Boundary {
  /** first line of the quote (separator or header); the sender's words end before it */
  start: number;
  kind: 'forward' | 'reply' | 'unsaid';
  /** lines of the quoted message, headers removed and quote markers stripped */
  quotedLines: string[];
  /** the quoted message's headers, when it has them */
  from: MailAuthor;
  subject: string | null;
  /** the sender's lines after the quote (bottom-posting, interleaved replies) */
  after: string[];
}

function readPart(lines: string[], subject: SubjectKind, depth: number, outermost: boolean): MailReading {
  const boundary = depth < MAX_QUOTE_DEPTH ? findBoundary(lines) : null;
  const own = boundary ? [...lines.slice(0, boundary.start), ...boundary.after] : lines;
  const body = cleanOwnWords(own, outermost, boundary !== null);
  if (!boundary) return { body, quoted: [] };
  const inner = readPart(boundary.quotedLines, subjectPrefixKind(boundary.subject), depth + 1, false);
  const kind = boundary.kind === 'unsaid' ? (subject === 'reply' ? 'reply' : 'forward') : boundary.kind;
  return { body, quoted: [{ from: boundary.from, body: inner.body, kind }, ...inner.quoted] };
}

/** The first place where a quoted message starts, if any. */
function findBoundary(lines: string[]): Boundary | null {
  for (let i = 0; i < lines.length; i++) {
    const line = conventionLine(lines[i]);
    if (line === null || line === '') continue;
    if (FORWARD_SEPARATOR.test(line)) return headedQuote(lines, i, i + 1, 'forward');
    if (ORIGINAL_SEPARATOR.test(line)) return headedQuote(lines, i, i + 1, 'unsaid');
    if (UNDERSCORE_RULE.test(line)) {
      const next = nextNonBlank(lines, i + 1);
      if (next !== -1 && startsHeaderBlock(lines, next)) return headedQuote(lines, i, next, 'unsaid');
      continue;
    }
    if (startsHeaderBlock(lines, i)) return headedQuote(lines, i, i, 'unsaid');
    const reply = replyHeaderAt(lines, i);
    if (reply) return replyQuote(lines, i, reply.lineCount, reply.from);
    if (line.startsWith('>')) {
      // Without a header, ">" lines are a quote only beside words of the sender's own: a chat
      // message written as a Markdown block quote is the sender's.
      return sendersWordsBeside(lines, i) ? replyQuote(lines, i, 0, { name: null, email: null }) : null;
    }
  }
  return null;
}

/** Whether anything but ">" lines stands before line `i` or among the lines after it. */
function sendersWordsBeside(lines: string[], i: number): boolean {
  if (nextNonBlank(lines, 0) < i) return true;
  for (let j = i + 1; j < lines.length; j++) {
    const line = (lines[j] ?? '').trim();
    if (line !== '' && !line.startsWith('>')) return true;
  }
  return false;
}

/** A line trimmed for matching, or null when it is too long to be a mail convention. */
function conventionLine(line: string | undefined): string | null {
  if (line === undefined || line.length > MAX_CONVENTION_LINE) return null;
  return line.trim();
}

/**
 * The start of a line, for the patterns anchored there: a disclaimer pasted as one long line is
 * still a disclaimer.
 */
function lineStart(line: string): string {
  return line.slice(0, MAX_CONVENTION_LINE).trim();
}

function headerAt(lines: string[], i: number): { field: HeaderField; value: string } | null {
  const line = conventionLine(lines[i]);
  if (!line) return null;
  const m = HEADER_LINE.exec(line);
  if (!m) return null;
  const label = (m[1] ?? '').toLowerCase();
  return { field: HEADER_FIELD.get(label) ?? 'other', value: (m[2] ?? '').replace(/\*+/g, '').trim() };
}

/**
 * Outlook's plain header block, without a separator line: a From line followed at once by at least
 * two of Sent/Date, To, Cc, Subject. One "From:" line in a sentence is not enough.
 */
function startsHeaderBlock(lines: string[], i: number): boolean {
  const first = headerAt(lines, i);
  if (first?.field !== 'from') return false;
  const seen = new Set<HeaderField>();
  for (let j = i + 1; j < lines.length && j < i + 8; j++) {
    const header = headerAt(lines, j);
    if (!header) break;
    if (header.field !== 'from' && header.field !== 'other') seen.add(header.field);
  }
  return seen.size >= 2;
}

/**
 * A forwarded (or "original") message: its header lines from `headerStart`, then its text. Apple
 * Mail on a phone marks the whole forwarded message with ">": one level of marks goes first.
 */
function headedQuote(lines: string[], start: number, headerStart: number, kind: Boundary['kind']): Boundary {
  let rest = lines.slice(headerStart);
  const first = nextNonBlank(rest, 0);
  if (first !== -1 && (rest[first] ?? '').trimStart().startsWith('>')) rest = rest.map(withoutQuoteMark);
  let j = nextNonBlank(rest, 0);
  let from: MailAuthor = { name: null, email: null };
  let subject: string | null = null;
  let field: HeaderField | null = null;
  while (j !== -1 && j < rest.length) {
    const header = headerAt(rest, j);
    if (header) {
      field = header.field;
      if (field === 'from') from = parseAuthor(header.value);
      if (field === 'subject') subject = header.value;
      j++;
      continue;
    }
    // A folded header line (a long To or Cc list) continues with leading white space.
    const raw = rest[j] ?? '';
    if (field !== null && /^[ \t]+\S/.test(raw) && raw.length <= MAX_CONVENTION_LINE) {
      j++;
      continue;
    }
    break;
  }
  const textStart = j === -1 ? rest.length : j;
  return { start, kind, quotedLines: rest.slice(textStart), from, subject, after: [] };
}

/** "> text" → "text": one level of reply marks. Lines without a mark stay as they are. */
function withoutQuoteMark(line: string): string {
  const trimmed = line.trimStart();
  return trimmed.startsWith('>') ? trimmed.replace(/^> ?/, '') : line;
}

/** "On <date>, <name> wrote:" and its translations, on one line or wrapped over two. */
function replyHeaderAt(lines: string[], i: number): { lineCount: number; from: MailAuthor } | null {
  const line = conventionLine(lines[i]);
  if (!line) return null;
  const one = replyAuthor(line);
  if (one) return { lineCount: 1, from: one };
  if (!REPLY_HEADER_START.test(line)) return null;
  const next = conventionLine(lines[i + 1]);
  if (!next) return null;
  const two = replyAuthor(`${line} ${next}`);
  return two ? { lineCount: 2, from: two } : null;
}

function replyAuthor(header: string): MailAuthor | null {
  // Every reply header ends with a colon; checking it first keeps the lazy patterns from scanning
  // long lines that cannot match.
  if (header.length > 2 * MAX_CONVENTION_LINE || !header.endsWith(':')) return null;
  for (const { pattern, author } of REPLY_HEADERS) {
    const m = pattern.exec(header);
    if (!m) continue;
    const said = m[1] ?? '';
    if (author === 'after-date') return parseAuthor(afterDate(said));
    const from = parseAuthor(said);
    if (author === 'group' || from.email !== null || FULL_NAME.test(from.name ?? '')) return from;
  }
  return null;
}

/**
 * "Mon, Mar 3, 2025 at 10:02 AM Alex Wilber <a@b>" → "Alex Wilber <a@b>": the author follows the
 * date, so what comes after its last comma, time or year is the author.
 */
function afterDate(said: string): string {
  const quotedName = /"[^"]{1,80}"\s*(?:<[^>]{1,200}>|\(<?[^)]{1,200}>?\))?$/u.exec(said);
  if (quotedName) return quotedName[0];
  const emailAt = said.search(/[<([]/u);
  const beforeEmail = emailAt === -1 ? said : said.slice(0, emailAt);
  let end = 0;
  for (const m of beforeEmail.matchAll(DATE_TOKEN)) end = m.index + m[0].length;
  return said.slice(end).replace(/^(?:at|à|a las|um|om)\s+/iu, '');
}

/**
 * A reply's quote: the header (if any), then the lines marked with ">" (one level removed). Text
 * the sender wrote between or below the quoted lines stays the sender's. Without ">" marks (some
 * clients quote plainly under the header), everything below the header is the quote.
 */
function replyQuote(lines: string[], start: number, headerLines: number, from: MailAuthor): Boundary {
  const first = nextNonBlank(lines, start + headerLines);
  const marked = first !== -1 && (lines[first] ?? '').trimStart().startsWith('>');
  if (!marked) {
    const quotedLines = first === -1 ? [] : lines.slice(first);
    return { start, kind: 'reply', quotedLines, from, subject: null, after: [] };
  }
  const quotedLines: string[] = [];
  const after: string[] = [];
  for (let j = first; j < lines.length; j++) {
    const line = lines[j] ?? '';
    const trimmed = line.trimStart();
    if (trimmed.startsWith('>')) quotedLines.push(withoutQuoteMark(line));
    else after.push(line);
  }
  return { start, kind: 'reply', quotedLines, from, subject: null, after };
}

/**
 * "Alex Wilber <alex@x>", "alex@x", "\"Wilber, Alex\" <alex@x>", "Alex Wilber [mailto:alex@x]",
 * "Alex Wilber (alex@x)" or a bare name. "Last, First" is turned round, as directories name people.
 */
export function parseAuthor(value: string): MailAuthor {
  const text = value.slice(0, MAX_CONVENTION_LINE).trim();
  const emailMatch = EMAIL.exec(text);
  const email = emailMatch ? emailMatch[0].replace(/^['.]+|['.]+$/g, '').toLowerCase() : null;
  let name = text
    .replace(/\[mailto:[^\]]{0,200}\]/giu, ' ')
    .replace(/\(\s*<?[^()]{0,200}@[^()]{0,200}>?\s*\)/gu, ' ')
    .replace(/<[^>]{0,200}>/gu, ' ');
  if (emailMatch) name = name.replace(emailMatch[0], ' ');
  name = name
    .replace(/\b(?:on behalf of|im auftrag von|de la part de|en nombre de|namens)\b.*$/iu, '')
    .replace(/[\s"'*]+/gu, ' ')
    .trim();
  const lastFirst = /^([\p{L}'-]+(?:\s[\p{L}'-]+)?),\s*([\p{L}'-]+(?:\s[\p{L}'-]+)?)$/u.exec(name);
  if (lastFirst) name = `${lastFirst[2]} ${lastFirst[1]}`;
  const plausible = name !== '' && !/[\d@<>[\]]/.test(name) && name.length <= 80;
  return { name: plausible ? name : null, email };
}

// ---------------------------------------------------------------------------------------------
// Mails that lost their line breaks. Some PSAs turn an HTML mail into one long line, so that the
// forwarded message and its headers sit inside a line: "… for Alex? ---------- Forwarded message
// --------- From: Alex Wilber <…> Date: … Subject: Figma To: … Could I get a Figma seat?".

/** The words of a forward separator, found without a leading quantifier (a line of dashes is cheap). */
const SEPARATOR_WORDS =
  /forwarded message|original message|weitergeleitete nachricht|urspr[üu]ngliche nachricht|message transf[ée]r[ée]|message d'origine|mensaje reenviado|mensaje original|doorgestuurd bericht|oorspronkelijk bericht|begin forwarded message|anfang der weitergeleiteten nachricht|d[ée]but du message r[ée]exp[ée]di[ée]|inicio del mensaje reenviado|begin doorgestuurd bericht/giu;

/** A header label inside a line: "From:", "Gesendet:", "Objet :", with Markdown bold if any. */
const INLINE_LABEL =
  /(?:^|\s)\**(from|von|de|van|sent|date|gesendet|datum|envoy[ée]|enviado el|fecha|verzonden|to|an|à|pour|para|aan|cc|subject|betreff|objet|sujet|asunto|onderwerp)\**\s?:\s/giu;

/** Where a message's own words start after its last header, when that header is a subject or date. */
const GREETING_START =
  /\s(?=(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hallo|guten (?:morgen|tag)|liebe|sehr geehrte|bonjour|salut|hola|buen[oa]s|estimad[oa]|hoi|beste|goedemorgen|goedemiddag)\b)/iu;
const DATE_END =
  /^.{0,60}?\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]\.?\s?m\.?)?(?:\s?(?:uhr|[A-Z]{3,4}|UTC[+-]?\d{0,2}|GMT[+-]?\d{0,2}))?/iu;

/** Addresses as header values list them: "A <a@x>, B <b@x>" or "A [mailto:a@x]" (one way to split each). */
const BRACKETED_ADDRESSES =
  /^\s*[^<>[\]\n:!?]{0,60}(?:<[^<>\n]{1,200}>|\[mailto:[^\]\n]{1,200}\])(?:\s*[,;]\s*[^<>[\]\n:!?]{0,60}(?:<[^<>\n]{1,200}>|\[mailto:[^\]\n]{1,200}\]))*/iu;
const BARE_ADDRESSES = /^\s*[^\s@,;<>]{1,64}@[^\s@,;<>]{1,255}(?:\s*[,;]\s*[^\s@,;<>]{1,64}@[^\s@,;<>]{1,255})*/u;

/** Lines with inline forward separators or Outlook header blocks split as a mail client wrote them. */
function withLineBreaksRestored(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (line.length < 40) out.push(line);
    else out.push(...splitInlineQuote(line, 0));
  }
  return out;
}

function splitInlineQuote(line: string, depth: number): string[] {
  if (depth >= MAX_QUOTE_DEPTH) return [line];
  const separator = inlineSeparator(line);
  if (separator) {
    const before = line.slice(0, separator.start).trim();
    const after = line.slice(separator.end).trim();
    if (before === '' && after === '') return [line];
    const headed = after === '' ? [] : (splitInlineHeaders(after, depth) ?? [after]);
    return [...(before === '' ? [] : [before]), line.slice(separator.start, separator.end).trim(), ...headed];
  }
  const block = inlineHeaderBlockStart(line);
  if (block === -1) return [line];
  const headed = splitInlineHeaders(line.slice(block).trim(), depth);
  if (!headed) return [line];
  const before = line.slice(0, block).trim();
  return [...(before === '' ? [] : [before]), ...headed];
}

/** The first forward separator in a line: its words framed by dashes, or followed by a colon. */
function inlineSeparator(line: string): { start: number; end: number } | null {
  for (const m of line.matchAll(SEPARATOR_WORDS)) {
    const end = m.index + m[0].length;
    if (/^(?:begin|anfang|d[ée]but|inicio)/iu.test(m[0])) {
      const colon = /^\s?:/u.exec(line.slice(end, end + 2));
      if (colon) return { start: m.index, end: end + colon[0].length };
      continue;
    }
    const framed = dashesAround(line, m.index, end);
    if (framed) return framed;
  }
  return null;
}

/** "---- words ----": the span with its dashes, when at least two stand on each side. */
function dashesAround(line: string, start: number, end: number): { start: number; end: number } | null {
  let left = start;
  while (left > 0 && line[left - 1] === ' ') left--;
  let dashesLeft = left;
  while (dashesLeft > 0 && line[dashesLeft - 1] === '-') dashesLeft--;
  let right = end;
  while (right < line.length && line[right] === ' ') right++;
  let dashesRight = right;
  while (dashesRight < line.length && line[dashesRight] === '-') dashesRight++;
  if (left - dashesLeft < 2 || dashesRight - right < 2) return null;
  return { start: dashesLeft, end: dashesRight };
}

function labelField(label: string | undefined): HeaderField {
  return HEADER_FIELD.get((label ?? '').toLowerCase()) ?? 'other';
}

/** Where an Outlook header block starts inside a line: a From label followed by two other fields. */
function inlineHeaderBlockStart(line: string): number {
  const labels = [...line.matchAll(INLINE_LABEL)].slice(0, 400);
  for (let k = 0; k < labels.length; k++) {
    const label = labels[k];
    if (!label || labelField(label[1]) !== 'from') continue;
    const seen = new Set<HeaderField>();
    for (const next of labels.slice(k + 1, k + 6)) {
      const field = labelField(next[1]);
      if (next.index - label.index > 600 || field === 'from') break;
      seen.add(field);
    }
    if (seen.size >= 2) return label.index;
  }
  return -1;
}

/**
 * "From: A <a@x> Date: … Subject: S To: B <b@x> Hi B, I need …" → one line per header, a blank
 * line, then the words. Null when the text does not start with a header label.
 */
function splitInlineHeaders(text: string, depth: number): string[] | null {
  const labels: { index: number; field: HeaderField }[] = [];
  const seen = new Set<HeaderField>();
  for (const m of text.matchAll(INLINE_LABEL)) {
    if (labels.length === 0 && m.index !== 0) return null;
    const field = labelField(m[1]);
    if (seen.has(field) || m.index > 600 || labels.length >= 6) break;
    seen.add(field);
    labels.push({ index: m.index, field });
  }
  const last = labels[labels.length - 1];
  if (!last) return null;
  const lines: string[] = [];
  for (let k = 0; k + 1 < labels.length; k++) lines.push(text.slice(labels[k]?.index, labels[k + 1]?.index).trim());
  const tail = text.slice(last.index).trim();
  const valueStart = tail.indexOf(':') + 1;
  const valueLength = valueLengthBeforeWords(tail.slice(valueStart, valueStart + 600), last.field);
  // Where the last value ends cannot be told: it stays with the words rather than be lost as a header.
  if (valueLength === null) return [...lines, '', tail.slice(valueStart).trim()];
  const rest = tail.slice(valueStart + valueLength).trim();
  // The words may hold the next quoted message, as flat as this one.
  return [...lines, tail.slice(0, valueStart + valueLength).trim(), '', ...splitInlineQuote(rest, depth + 1)];
}

/** How long the last header's value is before the message's words begin, or null when unclear. */
function valueLengthBeforeWords(value: string, field: HeaderField): number | null {
  if (field === 'from' || field === 'to' || field === 'cc') {
    const addresses = BRACKETED_ADDRESSES.exec(value) ?? BARE_ADDRESSES.exec(value);
    return addresses ? addresses[0].length : null;
  }
  if (field === 'date') {
    const date = DATE_END.exec(value);
    if (date) return date[0].length;
  }
  const greeting = GREETING_START.exec(value);
  return greeting ? greeting.index : null;
}

// ---------------------------------------------------------------------------------------------
// The sender's own words.

/**
 * Drops what mail clients and habits add around the words that matter: gateway banners, device
 * footers, the greeting line, and everything from the sign-off, signature separator or disclaimer
 * on (keeping a postscript). The first line of the outermost message may be a subject: its
 * "Fwd:"/"RE:" prefixes go.
 */
function cleanOwnWords(lines: string[], outermost: boolean, quotes: boolean): string {
  let kept = dropBannersAndNoise(lines);
  if (outermost) kept = withoutSubjectPrefix(kept);
  kept = withoutGreetings(kept);
  kept = cutAtClosing(kept, quotes);
  return joinParagraphs(kept);
}

function dropBannersAndNoise(lines: string[]): string[] {
  const kept: string[] = [];
  let inBanner = false;
  for (const raw of lines) {
    const line = conventionLine(raw);
    if (line === null) {
      kept.push(raw);
      inBanner = false;
      continue;
    }
    if (inBanner && line !== '' && BANNER_CONTINUATION.test(line)) continue;
    inBanner = false;
    const untagged = line.replace(EXTERNAL_TAG, '');
    if (untagged !== line && untagged === '') continue;
    if (BANNER.test(untagged) && /\b(?:outside|external|au[ßs]erhalb|externen|ext[ée]rieur|fuera|exterior|buiten)\b/iu.test(untagged)) {
      inBanner = true;
      continue;
    }
    if (NOISE_LINE.test(untagged) || UNDERSCORE_RULE.test(untagged)) continue;
    kept.push(untagged === line ? raw : untagged);
  }
  return kept;
}

function withoutSubjectPrefix(lines: string[]): string[] {
  const i = nextNonBlank(lines, 0);
  if (i === -1) return lines;
  const line = conventionLine(lines[i]);
  if (!line) return lines;
  const stripped = line.replace(EXTERNAL_TAG, '').replace(SUBJECT_PREFIX, '');
  if (stripped === line) return lines;
  const copy = [...lines];
  copy[i] = stripped;
  return copy;
}

/** Standalone greeting lines among the first few non-blank lines. "Hi, I need Zendesk" stays whole. */
function withoutGreetings(lines: string[]): string[] {
  const kept: string[] = [];
  let nonBlank = 0;
  for (const raw of lines) {
    const line = conventionLine(raw);
    if (line !== '' && nonBlank < GREETING_LINES) {
      nonBlank++;
      if (line !== null && isGreeting(line)) continue;
    }
    kept.push(raw);
  }
  return kept;
}

function isGreeting(line: string): boolean {
  // "Beste Grüße" opens like a Dutch greeting but closes a German mail.
  if (isClosing(line)) return false;
  const m = GREETING.exec(line);
  if (!m) return false;
  const addressee = (m[2] ?? '').trim();
  if (addressee === '') return true;
  return addressee
    .split(/\s+/u)
    .map((word) => word.replace(/\.$/u, ''))
    .every((word) => ADDRESSEE_WORDS.has(word.toLowerCase()) || /^[\p{Lu}]/u.test(word));
}

/**
 * Everything from the sign-off (or "-- ", or a disclaimer) on goes, once the sender has said
 * something. A sign-off counts only when what follows it is signature-sized: "Thanks!" in the middle
 * of a long mail is not the end of it. A postscript after the sign-off is kept. Above a quoted
 * message, a sign-off may be all the sender wrote ("Thanks, Megan" over a forward): it goes too.
 */
function cutAtClosing(lines: string[], quotes: boolean): string[] {
  const kept: string[] = [];
  let contentSeen = false;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const line = conventionLine(raw);
    if (line === '') {
      kept.push(raw);
      continue;
    }
    if (DISCLAIMER.test(lineStart(raw))) {
      if (contentSeen) return [...kept, ...postscripts(lines, i + 1)];
      // A disclaimer above the words (some gateways put it there): only its paragraph goes, and
      // only when words follow it ("This message is confidential: I need …" alone stays).
      const end = paragraphEnd(lines, i);
      if (nextNonBlank(lines, end) !== -1) {
        i = end - 1;
        continue;
      }
    }
    if ((contentSeen || quotes) && line !== null && isClosing(line) && signatureSized(lines, i + 1)) {
      return [...kept, ...postscripts(lines, i + 1)];
    }
    contentSeen = true;
    kept.push(raw);
  }
  return kept;
}

function isClosing(line: string): boolean {
  if (SIGNATURE_SEPARATOR.test(line)) return true;
  // Bilingual sign-offs: "Beste Grüße / Best regards", "Cordialement | Kind regards".
  const halves = line.split(/\s[/|]\s/u);
  if (halves.length === 2) return halves.every((half) => isClosing(half.trim()));
  const m = SIGN_OFF.exec(line);
  return m !== null && NAME_AFTER_SIGN_OFF.test(m[1] ?? '') && !SIGN_OFF_ABBREVIATION.test(line);
}

/** At most a signature's worth of lines before the end or a disclaimer. */
function signatureSized(lines: string[], from: number): boolean {
  let count = 0;
  for (let j = from; j < lines.length; j++) {
    const line = conventionLine(lines[j]);
    if (line === '') continue;
    if (DISCLAIMER.test(lineStart(lines[j] ?? ''))) return true;
    if (line !== null && POSTSCRIPT.test(line)) continue;
    count++;
    if (count > MAX_SIGNATURE_LINES) return false;
  }
  return true;
}

/** The "P.S." paragraphs below a sign-off: still the sender's words. */
function postscripts(lines: string[], from: number): string[] {
  const kept: string[] = [];
  for (let j = from; j < lines.length; j++) {
    const line = conventionLine(lines[j]);
    if (line === null || !POSTSCRIPT.test(line)) continue;
    const end = paragraphEnd(lines, j);
    kept.push('', ...lines.slice(j, end));
    j = end;
  }
  return kept;
}

function paragraphEnd(lines: string[], from: number): number {
  let j = from;
  while (j < lines.length && (lines[j] ?? '').trim() !== '') j++;
  return j;
}

/** Lines trimmed at the end, blank runs made one blank line, blank edges removed. */
function joinParagraphs(lines: string[]): string {
  const out: string[] = [];
  for (const raw of lines) {
    const line = raw.trimEnd();
    if (line.trim() === '' && (out.length === 0 || out[out.length - 1] === '')) continue;
    out.push(line.trim() === '' ? '' : line);
  }
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out.join('\n');
}

function nextNonBlank(lines: string[], from: number): number {
  for (let j = from; j < lines.length; j++) if ((lines[j] ?? '').trim() !== '') return j;
  return -1;
}

function firstNonBlank(lines: string[]): string | null {
  const i = nextNonBlank(lines, 0);
  return i === -1 ? null : (lines[i] ?? null);
}

/** The first prefix of a subject says what the message did to the one it quotes. */
function subjectPrefixKind(subject: string | null): SubjectKind {
  if (subject === null || subject.length > MAX_CONVENTION_LINE) return null;
  const m = SUBJECT_PREFIX.exec(subject.trim().replace(EXTERNAL_TAG, ''));
  if (!m) return null;
  const first = /^\[?([a-z]+)/iu.exec(m[0]);
  return first && FORWARD_PREFIX.test(first[1] ?? '') ? 'forward' : 'reply';
}
