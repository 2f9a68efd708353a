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
