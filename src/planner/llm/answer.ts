import { z } from 'zod';
import type { ProposedPlan } from '../../core/plan.ts';
import type { ToolDefinition } from '../../core/tool.ts';
import { EMAIL_ADDRESS } from '../text.ts';

/**
 * The model's structured answer, and what deskhand makes of it. The model proposes; only a plan of
 * offered write tools with schema-valid arguments goes on (then the engine's validation resolves
 * every name to an id). What the employee reads is built from the validated outcome: the model's
 * words are limited to a short reason, cleaned of anything internal.
 */
export const MAX_REASON_CHARS = 400;

export const answerSchema = z.object({
  outcome: z.enum(['plan', 'no_action', 'escalate']),
  reason: z.string().min(1).max(2_000),
  steps: z
    .array(
      z.object({
        tool: z.string().min(1).max(100),
        args: z.record(z.string(), z.string().max(500)),
        reason: z.string().min(1).max(1_000),
      }),
    )
    .max(20)
    .default([]),
});

export type ModelAnswer = z.infer<typeof answerSchema>;

/** Problems with an answer before any name is resolved: tools not offered, arguments the tool refuses, a plan without steps. */
export function answerProblems(answer: ModelAnswer, offered: readonly ToolDefinition[]): string[] {
  const problems: string[] = [];
  if (answer.outcome === 'plan' && answer.steps.length === 0) problems.push('outcome "plan" needs at least one step');
  if (answer.outcome !== 'plan' && answer.steps.length > 0) problems.push(`outcome "${answer.outcome}" takes no steps; use "plan" for changes`);
  for (const [i, step] of answer.steps.entries()) {
    const tool = offered.find((t) => t.name === step.tool);
    if (!tool) {
      problems.push(`step ${i + 1}: "${step.tool}" is not a write tool offered for this client`);
      continue;
    }
    if (tool.kind !== 'write') {
      problems.push(`step ${i + 1}: ${step.tool} is a read tool; plans hold write tools only`);
      continue;
    }
    const parsed = tool.args.safeParse(step.args);
    if (!parsed.success) problems.push(`step ${i + 1} (${step.tool}): ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'arguments'}: ${issue.message}`).join('; ')}`);
  }
  return problems;
}

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const TOOL_NAME = /\b[a-z][a-z0-9]*\.[a-z]+(?:_[a-z]+)+\b/g;

/** Words that show a reason speaks of deskhand's inside: such a reason is never shown, a plain sentence is. */
const INTERNAL = /<|>|```|\binternal\b|\bnote\b|\bsystem prompt\b|\binstructions?\b|\btool\b|\brunbook\b|\bpolic(y|ies)\b|\bapprov/i;
const PLAIN_REASON = 'What you asked for is already in place.';

/**
 * A model's reason as an employee may read it: one paragraph, no tool names, no ids, no addresses
 * other than the employee's own, no fenced data or markup, at most `MAX_REASON_CHARS` characters.
 * A reason that speaks of anything internal at all (the note, tools, runbooks, policies, markup) is
 * replaced by a plain sentence rather than trimmed: a model's words never reach the employee unchecked.
 */
export function employeeReason(reason: string, employeeEmail: string): string {
  const own = employeeEmail.toLowerCase();
  const others = [...reason.matchAll(EMAIL_ADDRESS)].some((m) => m[0].toLowerCase() !== own);
  // `search` ignores a global pattern's position, unlike `test`.
  if (INTERNAL.test(reason) || reason.search(TOOL_NAME) >= 0 || others || reason.search(UUID) >= 0) return PLAIN_REASON;
  let text = reason
    .replace(/<[^>]{0,200}>/g, ' ')
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(UUID, '[id]')
    .replace(TOOL_NAME, 'a change')
    .replace(EMAIL_ADDRESS, (address) => (address.toLowerCase() === own ? address : 'a colleague'))
    .replace(/\s+/g, ' ')
    .trim();
  if (text.length > MAX_REASON_CHARS) text = `${text.slice(0, MAX_REASON_CHARS - 1).replace(/\s+\S*$/, '')}…`;
  return text;
}

/** The answer as a plan for validation, the note and the policies; `replyToEmployee` is built from the outcome. */
export function toProposedPlan(answer: ModelAnswer, context: { model: string; employeeEmail: string }): ProposedPlan {
  const reason = answer.reason.trim();
  const noted = `The model (${context.model}) answered: ${reason}`;
  if (answer.outcome === 'plan') {
    return {
      outcome: 'plan',
      summary: reason.length > 300 ? `${reason.slice(0, 297)}...` : reason,
      reasons: [noted],
      steps: answer.steps.map((s) => ({ tool: s.tool, args: { ...s.args }, resolved: {}, reason: s.reason.trim() })),
    };
  }
  if (answer.outcome === 'no_action') {
    return {
      outcome: 'no_action',
      summary: `No change needed: ${reason.length > 280 ? `${reason.slice(0, 277)}...` : reason}`,
      reasons: [noted],
      steps: [],
      replyToEmployee: `Nothing needed changing. ${employeeReason(reason, context.employeeEmail)} If it still does not work, reply to this ticket and a technician will look into it.`,
    };
  }
  return { outcome: 'escalate', summary: `Escalate to a technician: ${reason.length > 280 ? `${reason.slice(0, 277)}...` : reason}`, reasons: [noted], steps: [] };
}
