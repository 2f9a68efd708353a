import { z } from 'zod';
import { canonicalJson, sha256Hex } from './canonical.ts';

/** One write-tool call the agent proposes. */
export interface PlanStep {
  tool: string;
  /** Human-readable values: a UPN (`user`), a group display name (`group`), a SKU part number (`sku`). */
  args: Record<string, string>;
  /** The object ids those values resolved to, kept beside them and hashed with them. */
  resolved: Record<string, string>;
  reason: string;
  /** The planner asks for the requester's manager to approve this step too (e.g. a runbook says so). */
  requireManagerApproval?: boolean;
}

export type PlanOutcome = 'plan' | 'no_action' | 'escalate';

/** What a planner returns. Only `plan` carries steps. */
export interface ProposedPlan {
  outcome: PlanOutcome;
  /** One sentence for the note's headline and the employee's reply. */
  summary: string;
  /** Why this outcome: evidence from the diagnosis, runbook lines, rules applied. */
  reasons: string[];
  steps: PlanStep[];
  /** For `no_action`: what the employee is told (e.g. "you already have Zendesk"). */
  replyToEmployee?: string;
  /** What a model-backed planner spent on this request (absent for the built-in planner). */
  usage?: PlannerUsage;
}

/** What the planner was given besides the request: the prompts' tiers a model read, the workflows that matched. Shown in the story. */
export interface PlannerContext {
  prompts: { msp: string | null; client: string | null } | null;
  workflows: { id: string; name: string; scope: 'msp' | 'client' }[];
}

/** A model-backed planner's spending on one request: calls, tokens, cost, as the provider reported them. */
export interface PlannerUsage {
  /** `provider:model`, e.g. `openai:gpt-4.1-mini`. */
  model: string;
  modelCalls: number;
  inputTokens: number;
  outputTokens: number;
  /** US dollars at the model's list price; null when the price is unknown. */
  costUsd: number | null;
}

export interface FrozenPlan {
  requestId: string;
  steps: PlanStep[];
  canonical: string;
  hash: string;
}

/**
 * Freeze a plan: the request it belongs to and its ordered steps (tool, args, resolved ids, reason,
 * extra approvals asked for) become canonical JSON, and its SHA-256 is the plan's identity. An
 * approval carries this hash; executing anything else needs a new approval.
 */
export function freezePlan(requestId: string, steps: readonly PlanStep[]): FrozenPlan {
  const normalised = steps.map((step) => ({
    tool: step.tool,
    args: { ...step.args },
    resolved: { ...step.resolved },
    reason: step.reason,
    requireManagerApproval: step.requireManagerApproval === true,
  }));
  const canonical = canonicalJson({ version: 1, requestId, steps: normalised });
  return { requestId, steps: normalised, canonical, hash: sha256Hex(canonical) };
}

/** Recompute the hash of a stored plan and compare: a plan changed in the database is refused. */
export function planMatchesHash(canonical: string, hash: string): boolean {
  return sha256Hex(canonical) === hash;
}

export function stepIdempotencyKey(requestId: string, planHash: string, index: number): string {
  return `${requestId}:${planHash.slice(0, 16)}:step-${index}`;
}

const frozenStepSchema = z.strictObject({
  tool: z.string().min(1),
  args: z.record(z.string(), z.string()),
  resolved: z.record(z.string(), z.string()),
  reason: z.string(),
  requireManagerApproval: z.boolean(),
});

const frozenPlanSchema = z.strictObject({
  version: z.literal(1),
  requestId: z.string(),
  steps: z.array(frozenStepSchema),
});

export type FrozenPlanCheck = { ok: true; steps: PlanStep[] } | { ok: false; problem: string };

/**
 * The steps to act on, read from the canonical plan that was hashed (never from a copy beside it):
 * the canonical text must still hash to the plan's hash, be a plan of this request, and freeze back
 * to exactly itself. A copy of the steps kept for display (`shownSteps`) must say the same, so
 * that what people read is what runs.
 */
export function readFrozenPlan(input: { requestId: string; canonical: string; hash: string; shownSteps?: unknown }): FrozenPlanCheck {
  if (!planMatchesHash(input.canonical, input.hash)) return { ok: false, problem: 'the stored plan does not match its hash' };
  let parsed: z.infer<typeof frozenPlanSchema>;
  try {
    parsed = frozenPlanSchema.parse(JSON.parse(input.canonical));
  } catch {
    return { ok: false, problem: 'the stored plan is not a plan deskhand froze' };
  }
  if (parsed.requestId !== input.requestId) return { ok: false, problem: 'the stored plan belongs to another request' };
  const refrozen = freezePlan(input.requestId, parsed.steps);
  if (refrozen.canonical !== input.canonical) return { ok: false, problem: 'the stored plan is not in canonical form' };
  if (input.shownSteps !== undefined && canonicalJson(input.shownSteps) !== canonicalJson(refrozen.steps)) {
    return { ok: false, problem: 'the plan shown to technicians differs from the plan that was hashed' };
  }
  return { ok: true, steps: refrozen.steps };
}
