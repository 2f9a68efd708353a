import { describe, expect, it } from 'vitest';
import type { ProposedPlan } from '../core/plan.ts';
import type { ArgumentObject } from '../core/tool.ts';
import { m365Tools } from '../integrations/m365/tools.ts';
import { validatePlan } from './validate.ts';

const ids: Record<string, string> = {
  'alex.wilber@contoso.example': 'user-alex',
  'sg-app-zendesk': 'group-zendesk',
  power_bi_pro: 'sku-pbi',
};

/** Resolves what the test tenant has; reports the rest the way the integration would. */
async function resolve(argObjects: Readonly<Record<string, ArgumentObject>>, args: Record<string, string>) {
  const resolved: Record<string, string> = {};
  const problems: string[] = [];
  for (const [name, kind] of Object.entries(argObjects)) {
    const value = args[name];
    if (value === undefined || kind === 'text') continue;
    const id = ids[value.toLowerCase()];
    if (id) resolved[name] = id;
    else problems.push(`no ${kind} ${value}`);
  }
  return { resolved, problems };
}

const offered = m365Tools;
const context = { tools: offered, allTools: m365Tools, resolve };

function planOf(steps: ProposedPlan['steps'], outcome: ProposedPlan['outcome'] = 'plan'): ProposedPlan {
  return { outcome, summary: 'test plan', reasons: ['because'], steps };
}

const addAlexToZendesk = {
  tool: 'm365.add_user_to_group',
  args: { user: 'alex.wilber@contoso.example', group: 'SG-App-Zendesk' },
  resolved: {},
  reason: 'runbook says so',
};

describe('validatePlan', () => {
  it('accepts a good plan and fills resolved ids itself', async () => {
    const result = await validatePlan(planOf([{ ...addAlexToZendesk, resolved: { user: 'forged', group: 'forged' } }]), context);
    expect(result).toMatchObject({ ok: true });
    if (result.ok) expect(result.plan.steps[0]?.resolved).toEqual({ user: 'user-alex', group: 'group-zendesk' });
  });

  it('keeps a manager approval the planner asked for', async () => {
    const result = await validatePlan(planOf([{ ...addAlexToZendesk, requireManagerApproval: true }]), context);
    expect(result.ok && result.plan.steps[0]?.requireManagerApproval).toBe(true);
  });

  it('rejects an unknown tool', async () => {
    const result = await validatePlan(planOf([{ ...addAlexToZendesk, tool: 'm365.delete_tenant' }]), context);
    expect(result).toEqual({ ok: false, problems: ['step 1 (m365.delete_tenant): unknown tool m365.delete_tenant'] });
  });

  it('rejects a read tool as a step', async () => {
    const result = await validatePlan(planOf([{ tool: 'm365.get_user', args: { user: 'alex.wilber@contoso.example' }, resolved: {}, reason: 'look' }]), context);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems[0]).toMatch(/read tool/);
  });

  it('rejects a disabled tool', async () => {
    const tools = offered.filter((t) => t.name !== 'm365.add_user_to_group');
    const result = await validatePlan(planOf([addAlexToZendesk]), { ...context, tools });
    expect(!result.ok && result.problems[0]).toMatch(/disabled/);
  });

  it('rejects arguments that fail the schema, and unexpected arguments', async () => {
    const bad = await validatePlan(planOf([{ ...addAlexToZendesk, args: { user: 'not an address', group: 'SG-App-Zendesk' } }]), context);
    expect(!bad.ok && bad.problems[0]).toMatch(/arguments rejected/);
    const extra = await validatePlan(planOf([{ ...addAlexToZendesk, args: { ...addAlexToZendesk.args, role: 'owner' } }]), context);
    expect(!extra.ok && extra.problems[0]).toMatch(/unexpected argument role/);
  });

  it('rejects a group that does not resolve', async () => {
    const result = await validatePlan(planOf([{ ...addAlexToZendesk, args: { ...addAlexToZendesk.args, group: 'SG-Made-Up' } }]), context);
    expect(result).toEqual({ ok: false, problems: ['step 1 (m365.add_user_to_group): no group SG-Made-Up'] });
  });

  it('rejects a resolver that returns no id without saying why', async () => {
    const silent = async () => ({ resolved: {}, problems: [] });
    const result = await validatePlan(planOf([addAlexToZendesk]), { ...context, resolve: silent });
    expect(!result.ok && result.problems).toEqual([
      'step 1 (m365.add_user_to_group): user "alex.wilber@contoso.example" did not resolve to an object',
      'step 1 (m365.add_user_to_group): group "SG-App-Zendesk" did not resolve to an object',
    ]);
  });

  it('rejects duplicate steps, whatever the case of their values', async () => {
    const copy = { ...addAlexToZendesk, args: { user: 'Alex.Wilber@contoso.example', group: 'sg-app-zendesk' } };
    const result = await validatePlan(planOf([addAlexToZendesk, copy]), context);
    expect(result).toEqual({ ok: false, problems: ['step 2 (m365.add_user_to_group): duplicates step 1'] });
  });

  it('rejects a plan without steps, and steps outside a plan', async () => {
    expect(await validatePlan(planOf([]), context)).toEqual({ ok: false, problems: ['a plan must have at least one step'] });
    const noAction = await validatePlan(planOf([addAlexToZendesk], 'no_action'), context);
    expect(!noAction.ok && noAction.problems[0]).toMatch(/no_action outcome must not carry steps/);
    const escalation = await validatePlan(planOf([addAlexToZendesk], 'escalate'), context);
    expect(escalation.ok).toBe(false);
  });

  it('accepts no_action and escalate without steps', async () => {
    expect((await validatePlan(planOf([], 'no_action'), context)).ok).toBe(true);
    expect((await validatePlan(planOf([], 'escalate'), context)).ok).toBe(true);
  });

  it('rejects malformed planner output (an LLM planner goes through here too)', async () => {
    const result = await validatePlan({ outcome: 'plan', steps: 'add alex' }, context);
    expect(!result.ok && result.problems[0]).toMatch(/malformed/);
  });

  it('lists every problem of every step', async () => {
    const result = await validatePlan(
      planOf([
        { ...addAlexToZendesk, tool: 'm365.nope' },
        { tool: 'm365.assign_license', args: { user: 'alex.wilber@contoso.example', sku: 'VISIOCLIENT' }, resolved: {}, reason: 'x' },
      ]),
      context,
    );
    expect(!result.ok && result.problems).toEqual(['step 1 (m365.nope): unknown tool m365.nope', 'step 2 (m365.assign_license): no sku VISIOCLIENT']);
  });
});
