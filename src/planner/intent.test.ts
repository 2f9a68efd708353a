import { describe, expect, it } from 'vitest';
import { actionFor, classifyProcedureHead, cueWords, readIntents } from './intent.ts';
import { words } from './text.ts';

describe('readIntents', () => {
  it.each([
    ['My password slipped my mind and I\'m locked out today.', ['password']],
    ["I'm locked out of my account.", ['password']],
    ['My password expired.', ['password']],
    ['I\'ve switched to a new phone and my authenticator app has stopped working.', ['mfa']],
    ['My phone was stolen last night.', ['mfa']],
    ['I clicked a link in a phishing email.', ['compromise']],
    ['There are sign-ins from a country I have never been to.', ['compromise']],
    ['I got an MFA prompt I didn\'t trigger', ['compromise']],
    ['I signed in on a borrowed laptop and I\'m still signed in there, no sign of compromise.', ['shared_computer']],
    ["Today is Lee Gu's final day, so please switch off his access.", ['leaver']],
    ['Pradeep has resigned.', ['leaver']],
    ['Allan is back from leave, please re-enable his account.', ['returner']],
    ['Allan Deyoung has been rehired.', ['returner']],
    ['Could you give me Zendesk access?', []],
  ])('%s', (text, expected) => {
    expect(readIntents(text).account).toEqual(expected);
  });

  it('lets a compromise subsume the password reset it includes', () => {
    expect(readIntents('I was phished and need my password reset').account).toEqual(['compromise']);
  });

  it('keeps an explicit forgotten password beside a new phone', () => {
    expect(readIntents('New phone, and I also forgot my password').account).toEqual(['mfa', 'password']);
  });

  it('tells hardware from a computer that refuses a password', () => {
    expect(readIntents('The third-floor printer has jammed again').hardware).toBe(true);
    expect(readIntents('My monitor keeps flickering and is broken').hardware).toBe(true);
    expect(readIntents("I can't log in, my computer doesn't take my password").hardware).toBe(false);
  });

  it('notices administrative rights and faults', () => {
    expect(readIntents('Please make me a local admin').admin).toBe(true);
    expect(readIntents('Zendesk keeps crashing').fault).toBe(true);
    expect(readIntents('I need Zendesk').fault).toBe(false);
  });
});

describe('classifyProcedureHead', () => {
  it.each([
    ['Self-reported forgotten password', 'password'],
    ['Lost or replaced phone', 'mfa'],
    ['Suspected compromise (phishing link clicked, unknown sign-ins)', 'compromise'],
    ['Still signed in on a shared or borrowed computer, no sign of compromise', 'shared_computer'],
    ["When HR or the leaver's manager reports a leaver", 'leaver'],
    ['Returners (back from leave, rehired), reported by HR or their manager', 'returner'],
    ['Paper jams and hardware faults are handled on site', 'hardware'],
    ['Distribution lists', null],
  ])('%s', (head, expected) => {
    expect(classifyProcedureHead(head)).toBe(expected);
  });
});

describe('actionFor', () => {
  function actionOf(text: string, resource: string) {
    const ws = words(text);
    const start = ws.indexOf(resource);
    return actionFor(cueWords(text), start, start + 1);
  }

  it('reads the verb nearest before the resource', () => {
    expect(actionOf('Please remove me from tableau and add me to figma', 'tableau')).toBe('withdraw');
    expect(actionOf('Please remove me from tableau and add me to figma', 'figma')).toBe('grant');
    expect(actionOf('Can I have Zendesk, please?', 'zendesk')).toBe('grant');
  });

  it('reads multi-word and trailing cues', () => {
    expect(actionOf('I no longer need Tableau', 'tableau')).toBe('withdraw');
    expect(actionOf("I don't use Tableau anymore", 'tableau')).toBe('withdraw');
    expect(actionOf('Please take me off DL-Sales', 'dl')).toBe('withdraw');
  });

  it('says nothing when no verb speaks about the resource', () => {
    expect(actionOf('A phishing mail that looked like DocuSign', 'docusign')).toBeNull();
  });
});
