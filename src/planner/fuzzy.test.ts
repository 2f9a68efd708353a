import { describe, expect, it } from 'vitest';
import { allowedEdits, editDistance, type FuzzyCandidate, nearest } from './fuzzy.ts';

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and swapped neighbours as one slip each', () => {
    expect(editDistance('zendsk', 'zendesk', 2)).toBe(1);
    expect(editDistance('salesforse', 'salesforce', 2)).toBe(1);
    expect(editDistance('tablaeu', 'tableau', 2)).toBe(1);
    expect(editDistance('figam', 'figma', 2)).toBe(1);
    expect(editDistance('docusgin', 'docusign', 2)).toBe(1);
    expect(editDistance('kitten', 'sitting', 5)).toBe(3);
    expect(editDistance('same', 'same', 0)).toBe(0);
  });

  it('stops at the bound and answers bound + 1 beyond it', () => {
    expect(editDistance('zendesk', 'salesforce', 2)).toBe(3);
    expect(editDistance('a', 'abcdef', 1)).toBe(2);
  });
});

describe('allowedEdits', () => {
  it('allows nothing below five letters, one up to seven, two from eight, by the shorter spelling', () => {
    expect(allowedEdits('jira', 'java')).toBe(0);
    expect(allowedEdits('vnp', 'vpn')).toBe(1);
    expect(allowedEdits('slak', 'slack')).toBe(1);
    expect(allowedEdits('sla', 'slack')).toBe(0);
    expect(allowedEdits('figam', 'figma')).toBe(1);
    expect(allowedEdits('salesforse', 'salesforce')).toBe(2);
    expect(allowedEdits('salesforse', 'sales')).toBe(1);
  });
});

describe('nearest', () => {
  const names = ['zendesk', 'salesforce', 'tableau', 'figma', 'docusign', 'slack'];
  const candidates: FuzzyCandidate<string>[] = names.map((n) => ({ key: n, value: n, identity: n }));

  it('reads a misspelling as the one name near enough', () => {
    expect(nearest('zendsk', candidates)).toMatchObject({ kind: 'match', value: 'zendesk', distance: 1 });
    expect(nearest('salesfroce', candidates)).toMatchObject({ kind: 'match', value: 'salesforce' });
  });

  it('finds nothing for a word that is no near name or starts differently', () => {
    expect(nearest('workday', candidates)).toEqual({ kind: 'none' });
    expect(nearest('sendesk', candidates)).toEqual({ kind: 'none' });
    expect(nearest('fig', candidates)).toEqual({ kind: 'none' });
  });

  it('reports two different things about as near instead of guessing', () => {
    const two: FuzzyCandidate<string>[] = [
      { key: 'payroll', value: 'SG-Payroll', identity: 'a' },
      { key: 'payroli', value: 'SG-Payroli', identity: 'b' },
    ];
    const result = nearest('payrol', two);
    expect(result.kind).toBe('ambiguous');
    expect(result.kind === 'ambiguous' && result.values.sort()).toEqual(['SG-Payroli', 'SG-Payroll']);
  });

  it('keeps the margin: a clearly nearer name wins over one a slip further', () => {
    const two: FuzzyCandidate<string>[] = [
      { key: 'marketing', value: 'DL-Marketing', identity: 'a' },
      { key: 'marketings', value: 'DL-Marketings', identity: 'b' },
    ];
    expect(nearest('marketin', two)).toMatchObject({ kind: 'match', value: 'DL-Marketing' });
    expect(nearest('marketin', two, 2)).toMatchObject({ kind: 'ambiguous' });
  });

  it('treats two names of one thing as one', () => {
    const same: FuzzyCandidate<string>[] = [
      { key: 'adobecc', value: 'SG-App-AdobeCC', identity: 'g' },
      { key: 'adobec', value: 'SG-App-AdobeCC', identity: 'g' },
    ];
    expect(nearest('adobecd', same)).toMatchObject({ kind: 'match', value: 'SG-App-AdobeCC' });
  });
});
