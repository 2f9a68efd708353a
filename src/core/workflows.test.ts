import { describe, expect, it } from 'vitest';
import { type CatalogTool, matchWorkflows, meaningfulWords, type Workflow, type WorkflowStatus, workflowStepProblems } from './workflows.ts';

/** A small catalog of its own: the core is tested without any integration. */
const CATALOG: CatalogTool[] = [
  { name: 'directory.add_to_group', kind: 'write', argObjects: { user: 'user', group: 'group' } },
  { name: 'directory.assign_licence', kind: 'write', argObjects: { user: 'user', sku: 'sku' } },
  { name: 'directory.post_note', kind: 'write', argObjects: { text: 'text' } },
  { name: 'directory.get_user', kind: 'read', argObjects: { user: 'user' } },
];

let next = 0;
function workflow(trigger: string, options: { clientId?: string | null; status?: WorkflowStatus; name?: string } = {}): Workflow {
  next++;
  return { id: `w${next}`, clientId: options.clientId ?? null, name: options.name ?? `workflow ${next}`, trigger, instructions: '', status: options.status ?? 'active', steps: [] };
}

describe('workflowStepProblems', () => {
  it('accepts write tools with their own arguments, literals and templates of the right kind', () => {
    expect(
      workflowStepProblems(
        [
          { tool: 'directory.add_to_group', args: { user: '{person named in the request}', group: 'All Staff' } },
          { tool: 'directory.assign_licence', args: { user: '{requester}', sku: '{licence named in the request}' } },
          { tool: 'directory.post_note', args: { text: '{group named in the request}' } },
        ],
        CATALOG,
      ),
    ).toEqual([]);
    expect(workflowStepProblems([], CATALOG)).toEqual([]);
  });

  it('says in words what is wrong with each step: unknown tool, read tool, unknown argument, bad template, wrong kind, empty value', () => {
    const problems = workflowStepProblems(
      [
        { tool: 'directory.delete_everything', args: {} },
        { tool: 'directory.get_user', args: { user: '{requester}' } },
        { tool: 'directory.add_to_group', args: { user: '{requester}', colour: 'blue' } },
        { tool: 'directory.add_to_group', args: { user: '{the requester}', group: 'Sales' } },
        { tool: 'directory.assign_licence', args: { user: '{requester}', sku: '{group named in the request}' } },
        { tool: 'directory.post_note', args: { text: '  ' } },
      ],
      CATALOG,
    );
    expect(problems).toEqual([
      'step 1 (directory.delete_everything): no tool is called directory.delete_everything',
      'step 2 (directory.get_user): directory.get_user only reads; a workflow\'s steps are changes (write tools)',
      'step 3 (directory.add_to_group): directory.add_to_group has no argument colour (it takes user, group)',
      'step 4 (directory.add_to_group), argument user: "{the requester}" is not a template; use one of {requester}, {person named in the request}, {group named in the request}, {licence named in the request}, or a literal value without braces',
      'step 5 (directory.assign_licence), argument sku: {group named in the request} stands for a group, and this argument names a licence',
      'step 6 (directory.post_note), argument text: a value is needed (a literal or a template)',
    ]);
  });

  it("takes no inherited property for an argument or a template (`constructor`, `__proto__`)", () => {
    const args = JSON.parse('{"__proto__": "x", "constructor": "y", "text": "constructor"}') as Record<string, string>;
    expect(workflowStepProblems([{ tool: 'directory.post_note', args }], CATALOG)).toEqual([
      'step 1 (directory.post_note): directory.post_note has no argument __proto__ (it takes text)',
      'step 1 (directory.post_note): directory.post_note has no argument constructor (it takes text)',
    ]);
    expect(workflowStepProblems([{ tool: 'toString', args: {} }], CATALOG)).toEqual(['step 1 (toString): no tool is called toString']);
  });

  it('bounds the number of steps', () => {
    const steps = Array.from({ length: 21 }, () => ({ tool: 'directory.post_note', args: { text: 'hello' } }));
    expect(workflowStepProblems(steps, CATALOG)).toEqual(['a workflow has at most 20 steps, not 21']);
    expect(workflowStepProblems(steps.slice(0, 20), CATALOG)).toEqual([]);
  });
});

describe('meaningfulWords', () => {
  it('drops function words and case, accents and plural or -ing/-ed endings', () => {
    expect([...meaningfulWords('Please could you add the new Starters who are JOINING the Café team?')].sort()).toEqual(['add', 'cafe', 'join', 'new', 'starter', 'team']);
    expect(meaningfulWords('a new starter joined')).toEqual(meaningfulWords('new starters join'));
  });
});

describe('matchWorkflows', () => {
  const starter = workflow('A new starter joins the company', { name: 'New starter' });
  const leaver = workflow('An employee leaves the company', { name: 'Leaver' });
  const printer = workflow('The office printer is out of toner', { name: 'Toner' });

  it('matches a request that says most of a trigger, in other words order and forms', () => {
    const matches = matchWorkflows('Hi, we have a new starter joining on Monday, can you set up her account?', [starter, leaver, printer]);
    expect(matches.map((m) => m.workflow.name)).toEqual(['New starter']);
    expect(matches[0]!.words).toEqual(['join', 'new', 'starter']);
    expect(matches[0]!.score).toBeGreaterThanOrEqual(0.6);
  });

  it('does not match a request that shares only a word or two of function with a trigger', () => {
    expect(matchWorkflows('My laptop will not turn on since this morning', [starter, leaver, printer])).toEqual([]);
    // "company" alone is one shared word of a three-word trigger.
    expect(matchWorkflows('Which company portal do I use for expenses?', [starter, leaver, printer])).toEqual([]);
  });

  it('does not let a long text match by holding the trigger words somewhere', () => {
    const filler = Array.from({ length: 120 }, (_, i) => `entry${i}`).join(' ');
    expect(matchWorkflows(`new starter joins company ${filler}`, [starter])).toEqual([]);
    expect(matchWorkflows(`new starter joins company ${filler.split(' ').slice(0, 20).join(' ')}`, [starter]).length).toBe(1);
  });

  it('never matches a draft or an archived workflow', () => {
    const text = 'A new starter joins the company next week';
    expect(matchWorkflows(text, [workflow(starter.trigger, { status: 'draft' }), workflow(starter.trigger, { status: 'archived' })])).toEqual([]);
    expect(matchWorkflows(text, [workflow(starter.trigger, { status: 'active' })]).length).toBe(1);
  });

  it("puts the client's own workflows before the MSP-wide ones, then the better match first", () => {
    const mspWide = workflow('new starter joins the company', { name: 'A MSP-wide' });
    const clients = workflow('new starter joins the sales team of the company', { clientId: 'c1', name: 'Z client' });
    const exact = workflow('new starter', { clientId: 'c1', name: 'Y client' });
    const matches = matchWorkflows('A new starter joins the company on Monday', [mspWide, clients, exact]);
    expect(matches.map((m) => m.workflow.name)).toEqual(['Y client', 'Z client', 'A MSP-wide']);
  });
});
