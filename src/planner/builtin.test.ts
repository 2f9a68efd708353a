import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { m365Tools } from '../integrations/m365/tools.ts';
import { BuiltinPlanner } from './builtin.ts';
import { type EvalCase, parseCases } from './eval.ts';
import { runCase } from './testing/run-case.ts';

const publicCases = parseCases(readFileSync(new URL('../../eval/public.jsonl', import.meta.url), 'utf8'));
const ownCases = parseCases(readFileSync(new URL('./cases.test-data.jsonl', import.meta.url), 'utf8'));

function caseOf(client: string, requester: string, text: string): EvalCase {
  return { id: 'adhoc', client, requester, channel: 'psa', text, expect: { outcome: 'escalate', steps: [], optional: [] } };
}

describe('BuiltinPlanner on the public cases', () => {
  it.each(publicCases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const run = await runCase(c);
    expect(run.validation.ok, JSON.stringify(run.validation)).toBe(true);
    expect(run.score, JSON.stringify(run.proposed, null, 2)).toMatchObject({ passed: true });
  });
});

describe('BuiltinPlanner on our own cases (all four clients)', () => {
  it('covers every client', () => {
    expect(new Set(ownCases.map((c) => c.client))).toEqual(new Set(['contoso', 'fabrikam', 'adatum', 'litware']));
  });

  it.each(ownCases.map((c) => [c.id, c.text, c] as const))('%s: %s', async (_id, _text, c) => {
    const run = await runCase(c);
    expect(run.validation.ok, JSON.stringify(run.validation)).toBe(true);
    expect(run.score, JSON.stringify(run.proposed, null, 2)).toMatchObject({ passed: true });
  });
});

describe('what the technician reads', () => {
  it('asks for the manager\'s approval on a paid seat and names the manager', async () => {
    const run = await runCase(caseOf('contoso', 'alex.wilber@contoso.example', 'I need Adobe Creative Cloud'));
    expect(run.proposed.steps).toEqual([
      expect.objectContaining({ tool: 'm365.add_user_to_group', args: { user: 'alex.wilber@contoso.example', group: 'SG-App-AdobeCC' }, requireManagerApproval: true }),
    ]);
    expect(run.proposed.reasons.join('\n')).toMatch(/Megan Bowen <megan\.bowen@contoso\.example> will be asked/);
    expect(run.validation.ok && run.validation.plan.steps[0]?.requireManagerApproval).toBe(true);
  });

  it('says Security must review a compromised account', async () => {
    const run = await runCase(caseOf('contoso', 'joni.sherman@contoso.example', 'I clicked a phishing link and typed my password'));
    expect(run.proposed.outcome).toBe('plan');
    expect(`${run.proposed.summary}\n${run.proposed.reasons.join('\n')}`).toMatch(/Security must review the account/);
  });

  it('quotes the runbook line and the seats when no seat is free', async () => {
    const run = await runCase(caseOf('contoso', 'alex.wilber@contoso.example', 'Could I have a Visio licence? I draw network diagrams.'));
    expect(run.proposed.outcome).toBe('escalate');
    expect(run.proposed.reasons).toContain('Visio Plan 2 (VISIOCLIENT): 3 of 3 seats in use, 0 free.');
    expect(run.proposed.reasons.join('\n')).toMatch(/If no seat is free, escalate/);
  });

  it('says who may ask, in the runbook\'s terms, when the requester may not', async () => {
    const run = await runCase(caseOf('contoso', 'alex.wilber@contoso.example', 'Lee Gu has left the company, please disable his account.'));
    expect(run.proposed.outcome).toBe('escalate');
    const reasons = run.proposed.reasons.join('\n');
    expect(reasons).toMatch(/Only HR or their manager \(Adele Vance <adele\.vance@contoso\.example>\) may report this/);
    expect(reasons).toMatch(/When HR or the leaver's manager reports a leaver/);
  });

  it('answers an employee who already has the access', async () => {
    const run = await runCase(caseOf('contoso', 'lidia.holloway@contoso.example', 'I would like Zendesk access please'));
    expect(run.proposed.outcome).toBe('no_action');
    expect(run.proposed.replyToEmployee).toMatch(/You already have Zendesk/);
  });

  it('notes a later leaving date without refusing the plan', async () => {
    const run = await runCase(caseOf('contoso', 'adele.vance@contoso.example', 'Lee is leaving at the end of the week.'));
    expect(run.proposed.outcome).toBe('plan');
    expect(run.proposed.reasons.join('\n')).toMatch(/later date/);
  });
});

describe('several people, suites, outsiders, changes for a while', () => {
  it('counts the seats several people need against the free ones', async () => {
    // Project Plan 3: 3 bought, 1 in use (Adele Vance), 2 free.
    const two = await runCase(caseOf('contoso', 'patti.fernandez@contoso.example', 'Nestor and Lidia both need Project licences for the pipeline plan'));
    expect(two.proposed.outcome).toBe('plan');
    expect(two.proposed.steps.map((s) => s.args['user'])).toEqual(['nestor.wilke@contoso.example', 'lidia.holloway@contoso.example']);
    const three = await runCase(caseOf('contoso', 'patti.fernandez@contoso.example', 'Nestor, Lidia and I need Project licences for the pipeline plan'));
    expect(three.proposed.outcome).toBe('escalate');
    expect(three.proposed.summary).toMatch(/3 people need PROJECTPROFESSIONAL and only 2 seats are free/);
    expect(three.proposed.reasons.join('\n')).toMatch(/If no seat is free, escalate/);
  });

  it('answers an app of a suite the person holds with no action, naming the suite', async () => {
    const excel = await runCase(caseOf('contoso', 'isaiah.langer@contoso.example', 'Can I get Excel installed for the month-end close?'));
    expect(excel.proposed.outcome).toBe('no_action');
    expect(excel.proposed.replyToEmployee).toMatch(/Excel is included in your Microsoft 365 E3 \(SPE_E3\) licence/);
    const e5 = await runCase(caseOf('adatum', 'erin.green@adatum.example', 'Please assign me a Power BI Pro licence'));
    expect(e5.proposed.outcome).toBe('no_action');
    expect(e5.proposed.reasons.join('\n')).toMatch(/SPE_E5, whose service plans include Microsoft Power BI Pro|SPE_E5, whose service plans include Power BI Pro/);
  });

  it('grants an app of another vendor\'s suite through the suite\'s group', async () => {
    const run = await runCase(caseOf('contoso', 'alex.wilber@contoso.example', 'Could I get Photoshop for the spring flyers?'));
    expect(run.proposed.outcome).toBe('plan');
    expect(run.proposed.steps).toEqual([expect.objectContaining({ args: { user: 'alex.wilber@contoso.example', group: 'SG-App-AdobeCC' }, requireManagerApproval: true })]);
    expect(run.proposed.reasons.join('\n')).toMatch(/photoshop is part of Adobe Creative Cloud/i);
  });

  it('reads a misspelt name, and says so', async () => {
    const run = await runCase(caseOf('contoso', 'alex.wilber@contoso.example', 'can i get tablaeu please'));
    expect(run.proposed.steps).toEqual([expect.objectContaining({ args: { user: 'alex.wilber@contoso.example', group: 'SG-App-Tableau' } })]);
    expect(run.proposed.reasons.join('\n')).toMatch(/"tablaeu" was read as Tableau/);
  });

  it('escalates access for someone outside the tenant even when the requester has it', async () => {
    const run = await runCase(caseOf('contoso', 'lidia.holloway@contoso.example', 'Please give our freelancer Zendesk, same as mine'));
    expect(run.proposed.outcome).toBe('escalate');
    expect(run.proposed.summary).toMatch(/someone outside Contoso Ltd/);
  });

  it('gives a colleague who is away nothing, and the writer what they asked', async () => {
    const run = await runCase(caseOf('contoso', 'alex.wilber@contoso.example', 'Lidia is on holiday until Monday and I am covering her customers, so I need Zendesk'));
    expect(run.proposed.outcome).toBe('plan');
    expect(run.proposed.steps.map((s) => s.args['user'])).toEqual(['alex.wilber@contoso.example']);
  });

  it('escalates a change wanted only for a while, saying what could have been done', async () => {
    const run = await runCase(caseOf('contoso', 'adele.vance@contoso.example', 'Lee starts parental leave next week, please disable his account until he is back'));
    expect(run.proposed.outcome).toBe('escalate');
    expect(run.proposed.summary).toMatch(/only for a while/);
    expect(run.proposed.reasons.join('\n')).toMatch(/Not proposed on its own while the rest needs a technician: disable the account/);
  });

  it('decides every ask of a message and lists them when one needs a person', async () => {
    const run = await runCase(caseOf('contoso', 'alex.wilber@contoso.example', 'I need Figma, and also the screen of my laptop is cracked'));
    expect(run.proposed.outcome).toBe('escalate');
    expect(run.proposed.reasons.join('\n')).toMatch(/Not proposed on its own while the rest needs a technician: add Alex Wilber to SG-App-Figma/);
  });
});

describe('tool policies', () => {
  it('escalates when the tool the runbook needs is disabled, saying which', async () => {
    const tools = m365Tools.filter((t) => t.name !== 'm365.disable_account');
    const run = await runCase(caseOf('contoso', 'christie.cline@contoso.example', 'Lee Gu finishes with us today. Please block his sign-in.'), { tools });
    expect(run.proposed.outcome).toBe('escalate');
    expect(run.proposed.steps).toEqual([]);
    expect(run.proposed.reasons.join('\n')).toMatch(/m365\.disable_account.*disabled/);
  });

  it('plans with what is offered', async () => {
    const tools = m365Tools.filter((t) => t.name !== 'm365.reset_mfa');
    const run = await runCase(caseOf('contoso', 'joni.sherman@contoso.example', 'I forgot my password'), { tools });
    expect(run.proposed.outcome).toBe('plan');
  });
});

describe('planning reads, never writes', () => {
  it('uses only the DiagnosisReader and is deterministic', async () => {
    const c = caseOf('contoso', 'patti.fernandez@contoso.example', 'Nestor should be on the Sales mailing list, please add him.');
    const first = await runCase(c);
    const second = await runCase(c);
    expect(second.proposed).toEqual(first.proposed);
    expect(first.reader.calls.length).toBeGreaterThan(0);
  });

  it('is named builtin', () => {
    expect(new BuiltinPlanner().name).toBe('builtin');
  });
});
