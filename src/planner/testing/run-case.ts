import type { ProposedPlan } from '../../core/plan.ts';
import type { ArgumentObject, ToolDefinition } from '../../core/tool.ts';
import { m365Tools } from '../../integrations/m365/tools.ts';
import { findClient, loadDemoWorld, type World } from '../../world/fixture.ts';
import { deterministicUuid } from '../../world/ids.ts';
import { BuiltinPlanner } from '../builtin.ts';
import { type CaseScore, type EvalCase, scoreCase } from '../eval.ts';
import type { Planner } from '../types.ts';
import { type ValidationResult, validatePlan } from '../validate.ts';
import { createFixtureReader, type FixtureReader } from './fixture-reader.ts';

/**
 * Runs one evaluation case the way `deskhand eval` does, minus HTTP: the planner reads the fixture
 * through a DiagnosisReader, its plan goes through validation, and the result is scored.
 */
export interface CaseRun {
  proposed: ProposedPlan;
  validation: ValidationResult;
  score: CaseScore;
  reader: FixtureReader;
}

/** Resolves human-readable values to the ids the emulator derives from the fixture. */
export function fixtureResolver(world: World, clientId: string) {
  const client = findClient(world, clientId);
  return async (argObjects: Readonly<Record<string, ArgumentObject>>, args: Record<string, string>) => {
    const resolved: Record<string, string> = {};
    const problems: string[] = [];
    for (const [name, kind] of Object.entries(argObjects)) {
      const value = args[name];
      if (value === undefined) continue;
      const lower = value.toLowerCase();
      if (kind === 'user') {
        const e = client.employees.find((x) => x.upn.toLowerCase() === lower);
        if (e) resolved[name] = deterministicUuid('m365', 'user', client.id, lower);
        else problems.push(`no user ${value} in ${client.name}'s tenant`);
      } else if (kind === 'group') {
        const g = client.groups.find((x) => x.name.toLowerCase() === lower);
        if (g) resolved[name] = deterministicUuid('m365', 'group', client.id, g.name);
        else problems.push(`no group named ${value} in ${client.name}'s tenant`);
      } else if (kind === 'sku') {
        const l = client.licenses.find((x) => x.sku.toLowerCase() === lower);
        if (l) resolved[name] = deterministicUuid('m365', 'sku', l.sku);
        else problems.push(`${client.name} has no subscription ${value}`);
      }
    }
    return { resolved, problems };
  };
}

export function clientOf(world: World, clientId: string): { slug: string; name: string; domain: string } {
  const client = findClient(world, clientId);
  return { slug: client.id, name: client.name, domain: client.domain };
}

export async function runCase(
  c: EvalCase,
  options: { planner?: Planner; world?: World; tools?: readonly ToolDefinition[] } = {},
): Promise<CaseRun> {
  const world = options.world ?? loadDemoWorld();
  const tools = options.tools ?? m365Tools;
  const reader = createFixtureReader(world, c.client);
  const planner = options.planner ?? new BuiltinPlanner();
  const proposed = await planner.plan({
    request: { text: c.text, channel: c.channel },
    client: clientOf(world, c.client),
    requesterEmail: c.requester,
    tools,
    reader,
  });
  const validation = await validatePlan(proposed, { tools, allTools: m365Tools, resolve: fixtureResolver(world, c.client) });
  const result = validation.ok ? validation.plan : { ...proposed, outcome: 'escalate' as const, steps: [] };
  const writeSteps = result.steps.map((s) => ({ tool: s.tool, args: s.args }));
  return { proposed, validation, score: scoreCase(c.expect, { outcome: result.outcome, steps: writeSteps }), reader };
}
