import { describe, expect, it } from 'vitest';
import type { Runbook } from '../core/directory.ts';
import { findClient, loadDemoWorld } from '../world/fixture.ts';
import { cite, leadingGroupName, parseRunbooks, reportersNamedIn, toolsNamedIn } from './runbook-rules.ts';
import { M365 } from './tool-names.ts';

function rulesOf(clientId: string) {
  const client = findClient(loadDemoWorld(), clientId);
  const runbooks: Runbook[] = client.runbooks.map((r) => ({ ...r, source: 'test' }));
  return parseRunbooks(runbooks, client.groups.map((g) => g.name));
}

describe('parseRunbooks on a line-per-rule runbook (contoso)', () => {
  const rules = rulesOf('contoso');
  const rule = (group: string) => rules.groupRules.find((r) => r.group === group);

  it('reads "App: GROUP" lines', () => {
    expect(rule('SG-App-Zendesk')).toMatchObject({ names: ['Zendesk'], managerApproval: false, department: null, alwaysEscalate: false });
    expect(rule('SG-VPN-Users')?.names).toEqual(['VPN']);
  });

  it('reads qualifiers: manager approval and department-only', () => {
    expect(rule('SG-App-AdobeCC')).toMatchObject({ names: ['Adobe Creative Cloud'], managerApproval: true });
    expect(rule('SG-App-GitHub')).toMatchObject({ department: 'Engineering', alwaysEscalate: false });
  });

  it('keeps aliases written in parentheses, even with a colon inside', () => {
    expect(rule('SG-Finance-Share')).toMatchObject({ names: ['Finance file share', 'F: drive'], department: 'Finance' });
  });

  it('reads shared mailbox mappings inside a paragraph', () => {
    expect(rule('SM-Accounts-Payable')?.names).toEqual(['Accounts Payable', 'ap@']);
    expect(rule('SM-Support-Inbox')?.names).toEqual(['Support inbox', 'support@']);
  });

  it('reads the distribution lists and who may ask for them', () => {
    expect(rules.lists).toHaveLength(1);
    expect(rules.lists[0]).toMatchObject({
      groups: ['DL-All-Staff', 'DL-Sales', 'DL-Marketing', 'DL-Engineering', 'DL-Finance'],
      ownDepartment: ['self', 'manager'],
      otherLists: ['manager'],
    });
  });

  it('reads the license policy', () => {
    expect(rules.licenses.onRequest).toEqual(['Visio Plan 2', 'Project Plan 3', 'Power BI Pro']);
    expect(rules.licenses.standard).toEqual(['Microsoft 365 E3']);
    expect(rules.licenses.noSeatLine?.text).toMatch(/^If no seat is free, escalate/);
  });

  it('reads the catch-all and the administrative-group rule', () => {
    expect(rules.catchAll.map((l) => l.text)).toEqual(['Applications not listed here are not managed by the helpdesk: escalate to a technician.']);
    expect(rules.forbidden).toHaveLength(1);
    expect(rules.forbidden[0]).toMatchObject({ groups: ['SG-Admins-Privileged'], administrative: true, escalateTo: 'Security' });
  });

  it('reads procedures with their tools, reporters and notes', () => {
    const procedure = (intent: string) => rules.procedures.find((p) => p.intent === intent && !p.escalate);
    expect(procedure('password')).toMatchObject({ tools: [M365.resetPassword], reporters: ['self'] });
    expect(procedure('mfa')).toMatchObject({ tools: [M365.resetMfa, M365.revokeSessions], reporters: null });
    expect(procedure('compromise')).toMatchObject({ tools: [M365.resetPassword, M365.revokeSessions], notes: ['Security must review the account'] });
    expect(procedure('shared_computer')).toMatchObject({ tools: [M365.revokeSessions] });
    expect(procedure('leaver')).toMatchObject({ tools: [M365.disableAccount, M365.revokeSessions], reporters: ['hr', 'manager'] });
    expect(procedure('leaver')?.related.map((l) => l.text)).toEqual(['Licenses are removed after 30 days by a technician, not by the helpdesk.']);
    expect(procedure('returner')).toMatchObject({ tools: [M365.enableAccount], reporters: ['hr', 'manager'] });
  });

  it('reads hardware as hand-over to a technician', () => {
    const hardware = rules.procedures.filter((p) => p.intent === 'hardware');
    expect(hardware.length).toBeGreaterThan(0);
    expect(hardware.every((p) => p.escalate && p.tools.length === 0)).toBe(true);
  });
});

describe('parseRunbooks on sentence-list runbooks', () => {
  it('reads fabrikam: rules and catch-all in one line', () => {
    const rules = rulesOf('fabrikam');
    expect(rules.groupRules.map((r) => [r.names[0], r.group])).toEqual([
      ['Zendesk', 'SG-App-Zendesk'],
      ['VPN', 'SG-VPN-Users'],
    ]);
    expect(rules.catchAll).toHaveLength(1);
    expect(rules.procedures).toEqual([]);
  });

  it('reads adatum: group names without a prefix convention, trailing full stops', () => {
    const rules = rulesOf('adatum');
    expect(rules.groupRules.map((r) => r.group)).toEqual(['App-Salesforce', 'App-Slack']);
    expect(rules.catchAll[0]?.text).toBe('Other applications: escalate.');
  });

  it('reads litware', () => {
    const rules = rulesOf('litware');
    expect(rules.groupRules.map((r) => r.group)).toEqual(['SG-App-Zendesk', 'SG-App-Figma']);
    expect(rules.catchAll[0]?.text).toBe('Anything else: escalate.');
  });

  it('reads other separators, group names with spaces, and groups the tenant lacks', () => {
    const rules = parseRunbooks(
      [
        {
          title: 'Access',
          source: 'test',
          body: 'Jira → SG-Jira (Engineering team only)\nCompany news: All Staff News\nMiro = SG-Miro (always escalate)\nPayroll mailbox (payroll@) is SM-Payroll and Legal inbox is SM-Legal.',
        },
      ],
      ['All Staff News', 'SM-Payroll'],
    );
    expect(rules.groupRules.map((r) => [r.group, r.department, r.alwaysEscalate])).toEqual([
      ['SG-Jira', 'Engineering', false],
      ['All Staff News', null, false],
      ['SG-Miro', null, true],
      ['SM-Payroll', null, false],
      ['SM-Legal', null, false],
    ]);
  });
});

describe('sentence readers', () => {
  it('finds the tools a procedure names, not the ones it only mentions', () => {
    expect(toolsNamedIn('remove the registered authentication methods other than the password')).toEqual([M365.resetMfa]);
    expect(toolsNamedIn('block sign-in (disable the account) and revoke all sessions')).toEqual([M365.disableAccount, M365.revokeSessions]);
    expect(toolsNamedIn('escalate to a field technician')).toEqual([]);
  });

  it('finds who may report', () => {
    expect(reportersNamedIn('Self-reported forgotten password')).toEqual(['self']);
    expect(reportersNamedIn("When HR or the leaver's manager reports a leaver")).toEqual(['hr', 'manager']);
    expect(reportersNamedIn('Lost or replaced phone')).toBeNull();
  });

  it('recognises the group a phrase starts with', () => {
    expect(leadingGroupName('SG-App-Zendesk (paid seat)', ['SG-App-Zendesk'])).toBe('SG-App-Zendesk');
    expect(leadingGroupName('All Adatum, for everyone', ['All Adatum'])).toBe('All Adatum');
    expect(leadingGroupName('SG-Unknown.', [])).toBe('SG-Unknown');
    expect(leadingGroupName('Floor 2 HP LaserJet', [])).toBeNull();
  });
});

describe('citing a runbook', () => {
  it("quotes the line with the runbook's title, and its link when the runbook has one", () => {
    const withLink = parseRunbooks([{ title: 'Access', body: 'Zendesk: SG-App-Zendesk', source: 'kb', url: 'https://kb.example/kba/access-1' }], ['SG-App-Zendesk']);
    expect(cite(withLink.groupRules[0]!.line)).toBe('Runbook "Access" (https://kb.example/kba/access-1): "Zendesk: SG-App-Zendesk"');
    const without = parseRunbooks([{ title: 'Access', body: 'Zendesk: SG-App-Zendesk', source: 'table' }], ['SG-App-Zendesk']);
    expect(cite(without.groupRules[0]!.line)).toBe('Runbook "Access": "Zendesk: SG-App-Zendesk"');
  });
});
