import type { AuthenticatedUser } from './auth.ts';

/**
 * What `msp_billing` reads: what happened to a request and what it changed (its state, the plan's
 * tools and arguments, approvals and steps with their times), never why. The diagnosis (a user's MFA
 * methods, groups, sign-ins), the planner's reasons and summary, the employee's message, notes,
 * replies, step results, errors and comments stay with the technicians. Built from allowlists, so a
 * field added to a row later is not shown to billing until someone decides it should be.
 */
export function readsDiagnosis(user: Pick<AuthenticatedUser, 'role'>): boolean {
  return user.role !== 'msp_billing';
}

type Row = Record<string, unknown>;

function pick(row: Row | null | undefined, fields: readonly string[]): Row | null {
  if (!row) return null;
  return Object.fromEntries(fields.filter((field) => field in row).map((field) => [field, row[field]]));
}

/** A plan's steps as tool and arguments only (no reason, which the planner draws from the diagnosis). */
function stepsOnly(steps: unknown): { tool: unknown; args: unknown }[] {
  return Array.isArray(steps) ? steps.map((step: Row) => ({ tool: step['tool'], args: step['args'] })) : [];
}

const REQUEST_FIELDS = ['id', 'client', 'channel', 'externalRef', 'requesterEmail', 'subject', 'state', 'outcome', 'operatingMode', 'createdAt', 'updatedAt'];
const PLAN_FIELDS = ['id', 'outcome', 'hash', 'operatingMode', 'needsTechnician', 'needsManager', 'stepPolicies', 'createdAt'];
const APPROVAL_FIELDS = ['id', 'kind', 'status', 'planHash', 'requestId', 'approverEmail', 'approverName', 'decidedBy', 'decidedAt', 'createdAt', 'expiresAt'];
const STEP_FIELDS = ['stepIndex', 'tool', 'status', 'attempts', 'startedAt', 'finishedAt'];
const MESSAGE_FIELDS = ['kind', 'status', 'attempts', 'createdAt', 'deliveredAt'];
const AUDIT_FIELDS = ['seq', 'actor', 'event', 'at', 'hash'];

export function billingStory(story: { request: Row; plan?: Row | null | undefined; approvals: Row[]; steps: Row[]; messages: Row[]; audit: Row[] }) {
  const plan = pick(story.plan, PLAN_FIELDS);
  return {
    request: pick(story.request, REQUEST_FIELDS),
    diagnosis: null,
    plan: plan ? { ...plan, steps: stepsOnly(story.plan?.['steps']) } : null,
    approvals: story.approvals.map((row) => pick(row, APPROVAL_FIELDS)),
    steps: story.steps.map((row) => pick(row, STEP_FIELDS)),
    messages: story.messages.map((row) => pick(row, MESSAGE_FIELDS)),
    audit: story.audit.map((row) => pick(row, AUDIT_FIELDS)),
  };
}

const LISTED_APPROVAL_FIELDS = [...APPROVAL_FIELDS, 'requesterEmail', 'subject', 'requestState', 'client'];

/** An approval as billing sees it: who decides what, on which tools; not the reasons or comments. */
export function billingApproval(row: Row): Row {
  return { ...pick(row, LISTED_APPROVAL_FIELDS), steps: stepsOnly(row['steps']), ...('stepPolicies' in row ? { stepPolicies: row['stepPolicies'] } : {}) };
}
