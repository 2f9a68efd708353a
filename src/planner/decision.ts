import type { PlanStep, ProposedPlan } from '../core/plan.ts';

/**
 * What the planner concludes about one ask of a request ("add Alex to Zendesk", "reset the MFA of
 * Henrietta"). A request may hold several asks; `combine` turns their decisions into one plan.
 */
export type Decision =
  | { kind: 'steps'; summary: string; reasons: string[]; steps: PlanStep[] }
  | { kind: 'no_action'; summary: string; reasons: string[]; reply: string }
  | { kind: 'escalate'; summary: string; reasons: string[] };

export function escalate(summary: string, reasons: readonly string[]): Decision {
  return { kind: 'escalate', summary, reasons: [...reasons] };
}

export function noAction(summary: string, reasons: readonly string[], reply: string): Decision {
  return { kind: 'no_action', summary, reasons: [...reasons], reply };
}

export function steps(summary: string, reasons: readonly string[], planned: readonly PlanStep[]): Decision {
  return { kind: 'steps', summary, reasons: [...reasons], steps: [...planned] };
}

/** A step with its human-readable arguments; validation resolves the object ids. */
export function step(tool: string, args: Record<string, string>, reason: string, requireManagerApproval = false): PlanStep {
  return { tool, args, resolved: {}, reason, ...(requireManagerApproval ? { requireManagerApproval: true } : {}) };
}

function sentence(text: string): string {
  const trimmed = text.trim();
  const capitalised = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

function sameStep(a: PlanStep, b: PlanStep): boolean {
  return a.tool === b.tool && JSON.stringify(Object.entries(a.args).sort()) === JSON.stringify(Object.entries(b.args).sort());
}

/**
 * One outcome for the whole request. Anything a person must handle makes the whole request an
 * escalation (a half-done request confuses the employee); the note still says what the agent would
 * have done for the rest. Otherwise the steps of every ask form the plan, and asks that needed no
 * change are explained beside them.
 */
export function combine(decisions: readonly Decision[]): ProposedPlan {
  const escalations = decisions.filter((d) => d.kind === 'escalate');
  const planned = decisions.filter((d) => d.kind === 'steps');
  const nothing = decisions.filter((d) => d.kind === 'no_action');
  if (escalations.length > 0 || decisions.length === 0) {
    const reasons = [
      ...escalations.flatMap((d) => d.reasons),
      ...planned.map((d) => `Not proposed on its own while the rest needs a technician: ${d.summary}.`),
      ...nothing.flatMap((d) => d.reasons),
    ];
    return {
      outcome: 'escalate',
      summary: sentence(`Escalate to a technician: ${unique(escalations.map((d) => d.summary)).join('; ') || 'nothing the agent can act on was found'}`),
      reasons: unique(reasons),
      steps: [],
    };
  }
  if (planned.length === 0) {
    return {
      outcome: 'no_action',
      summary: sentence(`No change needed: ${unique(nothing.map((d) => d.summary)).join('; ')}`),
      reasons: unique(nothing.flatMap((d) => d.reasons)),
      steps: [],
      replyToEmployee: unique(nothing.map((d) => d.reply)).join(' '),
    };
  }
  const allSteps: PlanStep[] = [];
  for (const s of planned.flatMap((d) => d.steps)) if (!allSteps.some((t) => sameStep(s, t))) allSteps.push(s);
  return {
    outcome: 'plan',
    summary: sentence(unique(planned.map((d) => d.summary)).join('; ')),
    reasons: unique([...planned.flatMap((d) => d.reasons), ...nothing.flatMap((d) => d.reasons)]),
    steps: allSteps,
  };
}
