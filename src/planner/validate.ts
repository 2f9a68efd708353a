import { z } from 'zod';
import { canonicalJson } from '../core/canonical.ts';
import type { PlanStep, ProposedPlan } from '../core/plan.ts';
import type { ArgumentObject, ToolDefinition } from '../core/tool.ts';

/**
 * Plan validation, the same for every planner (the built-in one and any LLM): a plan is executed
 * only if every step names a known, offered write tool with arguments that pass the tool's schema
 * and resolve to real objects. The planner's own `resolved` ids are never trusted: validation asks
 * the integration to resolve the human-readable values and keeps only its answer.
 */

export type ResolveArgs = (
  argObjects: Readonly<Record<string, ArgumentObject>>,
  args: Record<string, string>,
) => Promise<{ resolved: Record<string, string>; problems: string[] }>;

export interface ValidationContext {
  /** The tools the policies offer for this client (never a disabled one). */
  tools: readonly ToolDefinition[];
  /** The whole catalog, to tell an unknown tool from a disabled one. */
  allTools: readonly ToolDefinition[];
  /** Resolves UPNs, group names and SKU part numbers to object ids (the identity integration). */
  resolve: ResolveArgs;
}

export type ValidationResult = { ok: true; plan: ProposedPlan } | { ok: false; problems: string[] };

/** The shape of a proposed plan, checked because an LLM planner's output is outside input. */
const proposedStepSchema = z.object({
  tool: z.string().min(1),
  args: z.record(z.string(), z.string()),
  resolved: z.record(z.string(), z.string()).optional(),
  reason: z.string().trim().min(1, 'every step needs a reason'),
  requireManagerApproval: z.boolean().optional(),
});

const proposedPlanSchema = z.object({
  outcome: z.enum(['plan', 'no_action', 'escalate']),
  summary: z.string().trim().min(1, 'a plan needs a summary'),
  reasons: z.array(z.string()),
  steps: z.array(proposedStepSchema),
  replyToEmployee: z.string().optional(),
  usage: z
    .object({ model: z.string(), modelCalls: z.number().int().min(0), inputTokens: z.number().min(0), outputTokens: z.number().min(0), costUsd: z.number().min(0).nullable() })
    .optional(),
});

type ProposedStepInput = z.infer<typeof proposedStepSchema>;

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
}

/** Steps are compared case-insensitively on their values: "SG-App-Zendesk" and "sg-app-zendesk" are one group. */
function stepIdentity(step: Pick<PlanStep, 'tool' | 'args'>): string {
  const args = Object.fromEntries(Object.entries(step.args).map(([k, v]) => [k, v.trim().toLowerCase()]));
  return canonicalJson({ tool: step.tool, args });
}

function outcomeProblems(plan: z.infer<typeof proposedPlanSchema>): string[] {
  const problems: string[] = [];
  if (plan.outcome === 'plan' && plan.steps.length === 0) problems.push('a plan must have at least one step');
  if (plan.outcome !== 'plan' && plan.steps.length > 0) {
    problems.push(`a ${plan.outcome} outcome must not carry steps (it has ${plan.steps.length})`);
  }
  if (plan.outcome === 'escalate' && plan.reasons.length === 0) problems.push('an escalation must say why');
  return problems;
}

/** The checks that need no outside system: the tool, its kind, its policy and its schema. */
function staticStepProblems(step: ProposedStepInput, ctx: ValidationContext): { tool?: ToolDefinition; args?: Record<string, string>; problems: string[] } {
  const known = ctx.allTools.find((t) => t.name === step.tool);
  if (!known) return { problems: [`unknown tool ${step.tool}`] };
  if (known.kind !== 'write') return { problems: [`${step.tool} is a read tool; reads belong to the diagnosis, not to a plan`] };
  const offered = ctx.tools.find((t) => t.name === step.tool);
  if (!offered) return { problems: [`${step.tool} is disabled for this client and cannot be part of a plan`] };
  const unexpected = Object.keys(step.args).filter((k) => !(k in offered.argObjects));
  if (unexpected.length > 0) return { problems: [`unexpected argument ${unexpected.join(', ')}`] };
  const parsed = offered.args.safeParse(step.args);
  if (!parsed.success) return { problems: [`arguments rejected: ${describeIssues(parsed.error)}`] };
  return { tool: offered, args: parsed.data, problems: [] };
}

/** Object arguments (user, group, sku, id) must each resolve to an object id. */
function unresolvedObjects(tool: ToolDefinition, args: Record<string, string>, resolved: Record<string, string>): string[] {
  return Object.entries(tool.argObjects)
    .filter(([name, kind]) => kind !== 'text' && args[name] !== undefined && !resolved[name])
    .map(([name]) => `${name} "${args[name]}" did not resolve to an object`);
}

async function validateStep(step: ProposedStepInput, ctx: ValidationContext): Promise<{ step?: PlanStep; problems: string[] }> {
  const checked = staticStepProblems(step, ctx);
  if (!checked.tool || !checked.args) return { problems: checked.problems };
  const { resolved, problems } = await ctx.resolve(checked.tool.argObjects, checked.args);
  const missing = problems.length === 0 ? unresolvedObjects(checked.tool, checked.args, resolved) : [];
  if (problems.length > 0 || missing.length > 0) return { problems: [...problems, ...missing] };
  return {
    step: {
      tool: step.tool,
      args: checked.args,
      resolved,
      reason: step.reason,
      ...(step.requireManagerApproval ? { requireManagerApproval: true } : {}),
    },
    problems: [],
  };
}

/**
 * Validate a proposed plan. On success the plan's steps carry the ids resolved here; on failure the
 * problems say, step by step, what was wrong, for the note the engine escalates with.
 */
export async function validatePlan(proposed: unknown, ctx: ValidationContext): Promise<ValidationResult> {
  const shape = proposedPlanSchema.safeParse(proposed);
  if (!shape.success) return { ok: false, problems: [`the planner's answer is malformed: ${describeIssues(shape.error)}`] };
  const plan = shape.data;
  const problems = outcomeProblems(plan);
  const seen = new Map<string, number>();
  const steps: PlanStep[] = [];
  for (const [index, candidate] of plan.steps.entries()) {
    const label = `step ${index + 1} (${candidate.tool})`;
    const identity = stepIdentity(candidate);
    const first = seen.get(identity);
    if (first !== undefined) {
      problems.push(`${label}: duplicates step ${first + 1}`);
      continue;
    }
    seen.set(identity, index);
    const checked = await validateStep(candidate, ctx);
    problems.push(...checked.problems.map((p) => `${label}: ${p}`));
    if (checked.step) steps.push(checked.step);
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    plan: {
      outcome: plan.outcome,
      summary: plan.summary,
      reasons: plan.reasons,
      steps,
      ...(plan.replyToEmployee !== undefined ? { replyToEmployee: plan.replyToEmployee } : {}),
      ...(plan.usage !== undefined ? { usage: plan.usage } : {}),
    },
  };
}
