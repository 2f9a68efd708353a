import { describe, expect, it } from 'vitest';
import { forAWhile, leaveOfAbsence, outsideAddresses, outsiderWords } from './circumstances.ts';
import { asksForSelf, clauseOfWord, pointsBack, splitClauses } from './clauses.ts';
import { words } from './text.ts';

describe('splitClauses', () => {
  it('breaks at sentences, lines, semicolons and joins that start a new ask', () => {
    const texts = (t: string) => splitClauses(t).map((c) => c.text.trim());
    expect(texts('I need Tableau. Please add Kim to the list too')).toEqual(['I need Tableau.', 'Please add Kim to the list too']);
    expect(texts('I need DocuSign, and please add Kim to the Sales list')).toEqual(['I need DocuSign', 'and please add Kim to the Sales list']);
    expect(texts('Sam needs Figma and Kim needs Adobe CC')).toEqual(['Sam needs Figma', 'and Kim needs Adobe CC']);
    expect(texts('line one\nline two; line three')).toEqual(['line one', 'line two', 'line three']);
  });

  it('keeps a list of people together', () => {
    expect(splitClauses('Sam, Kim and I need Project licences').length).toBe(1);
    expect(splitClauses('Kim and I need Project').length).toBe(1);
  });

  it('numbers words as the whole request does', () => {
    const text = "Lee's last day is today. Please shut off his access, and also his VPN.";
    const clauses = splitClauses(text);
    expect(clauses[clauses.length - 1]?.wordEnd).toBe(words(text).length);
    const vpn = words(text).indexOf('vpn');
    expect(clauseOfWord(clauses, vpn)).toBe(clauses.length - 1);
  });
});

describe('asksForSelf and pointsBack', () => {
  it('tells a first-person ask from a first person who only speaks', () => {
    expect(asksForSelf('I need Zendesk')).toBe(true);
    expect(asksForSelf('can I get Figma?')).toBe(true);
    expect(asksForSelf('please give me and Kim access')).toBe(true);
    expect(asksForSelf('my password expired')).toBe(true);
    expect(asksForSelf("Please add Nestor to the list, I'm his manager")).toBe(false);
    expect(asksForSelf('Kim is off sick this week')).toBe(false);
  });

  it('sees a clause point back at someone named before', () => {
    expect(pointsBack('Please shut off his access')).toBe(true);
    expect(pointsBack('Please add me too')).toBe(false);
  });
});

describe('circumstances', () => {
  it('finds changes wanted only for a while', () => {
    expect(forAWhile('please disable her account until she is back')).toMatch(/until she is back/);
    expect(forAWhile('add Kim to Zendesk for this week only')).not.toBeNull();
    expect(forAWhile('temporarily block my sign-in')).toBe('temporarily');
    expect(forAWhile('give me the AP mailbox for the next two weeks')).not.toBeNull();
    expect(forAWhile('block his account during his sabbatical')).not.toBeNull();
  });

  it('does not read a fault that lasts, or a plain request, as a change for a while', () => {
    expect(forAWhile("I've been locked out for 2 days now")).toBeNull();
    expect(forAWhile('Could you give me Zendesk access')).toBeNull();
    expect(forAWhile("Lee's last day is Friday")).toBeNull();
  });

  it('tells a leave that starts from a return from leave', () => {
    expect(leaveOfAbsence('she starts her maternity leave on Monday, please disable her account')).toBe('maternity leave');
    expect(leaveOfAbsence('he is back from parental leave today, please re-enable him')).toBeNull();
  });

  it('finds addresses outside the client and words for outsiders', () => {
    expect(outsideAddresses('add bob@partner.example and kim@contoso.example and x@eu.contoso.example', 'contoso.example')).toEqual(['bob@partner.example']);
    expect(outsiderWords('our external consultant needs Figma')).toBe('external consultant');
    expect(outsiderWords('can our freelancer get the share')).toBe('freelancer');
    expect(outsiderWords('guest access for the auditors please')).not.toBeNull();
    expect(outsiderWords('I need an external monitor')).toBeNull();
    expect(outsiderWords('I need Zendesk')).toBeNull();
  });
});

describe('forAWhile and someone else\'s absence', () => {
  it('leaves out the dates of an absence told as background', () => {
    expect(forAWhile('Lidia is on holiday until Monday and I need Zendesk')).toBeNull();
    expect(forAWhile('please disable her account while she is away')).not.toBeNull();
  });
});
