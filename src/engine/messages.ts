import type { PlanStep } from '../core/plan.ts';
import type { ToolPolicy } from '../core/tool.ts';
import { findTool } from '../integrations/catalog.ts';

/**
 * The words deskhand writes: internal notes for technicians, replies for employees, approval
 * notifications and the manager's email. Pure functions, so they are easy to read and test.
 * Nothing here ever receives a secret (the temporary password never reaches a message).
 */
export interface NoteInput {
  requestId: string;
  requesterEmail: string;
  requesterName: string | null;
  clientName: string;
  operatingMode: 'plan' | 'execute';
  outcome: 'plan' | 'no_action' | 'escalate';
  summary: string;
  reasons: string[];
  findings: string[];
  steps: PlanStep[];
  stepPolicies: ToolPolicy[];
  planHash: string;
  needsTechnician: boolean;
  needsManager: boolean;
  managerName: string | null;
  rejectedProblems: string[] | null;
  replyToEmployee: string | null;
}

/**
 * The marker that names one message of deskhand's (its outbox key) for reconciliation after a crash.
 * Ticket notes get it from the outbox, and their module decides where it lives (an internal note
 * may show it; a reply never does): the texts below carry none, except the approval notice's.
 */
export function marker(key: string): string {
  return `[deskhand ref ${key}]`;
}

export function describeStep(step: PlanStep): string {
  const args = Object.entries(step.args)
    .map(([name, value]) => {
      const id = step.resolved[name];
      return id && id !== value ? `${name}=${value} (${id})` : `${name}=${value}`;
    })
    .join(', ');
  return `${step.tool}(${args})`;
}

function policyText(policy: ToolPolicy, plannerAsksManager: boolean): string {
  if (policy.policy === 'auto' && !plannerAsksManager) return 'auto: runs without approval';
  if (policy.policy === 'disabled') return 'disabled: never run';
  const manager = policy.requireManagerApproval || plannerAsksManager;
  const extra = plannerAsksManager && !policy.requireManagerApproval ? ' (the runbook asks for the manager)' : '';
  return manager ? `approval_needed: technician + manager approval${extra}` : 'approval_needed: technician approval';
}

export function internalNote(input: NoteInput): string {
  const lines: string[] = [];
  const who = input.requesterName ? `${input.requesterName} <${input.requesterEmail}>` : input.requesterEmail;
  const modeLabel = input.operatingMode === 'plan' ? 'Plan Mode (note only: nothing will be changed or sent)' : 'Execute Mode';
  lines.push(`deskhand diagnosis for ${who} at ${input.clientName} — ${modeLabel}`);
  lines.push('');
  lines.push(`Outcome: ${outcomeLabel(input.outcome)} — ${input.summary}`);
  if (input.findings.length > 0) {
    lines.push('');
    lines.push('What the read-only checks found:');
    for (const finding of input.findings) lines.push(`- ${finding}`);
  }
  if (input.reasons.length > 0) {
    lines.push('');
    lines.push('Reasoning:');
    for (const reason of input.reasons) lines.push(`- ${reason}`);
  }
  if (input.rejectedProblems && input.rejectedProblems.length > 0) {
    lines.push('');
    lines.push('The proposed plan was rejected by validation and nothing will run:');
    for (const problem of input.rejectedProblems) lines.push(`- ${problem}`);
  }
  if (input.outcome === 'plan') {
    lines.push('');
    lines.push(input.operatingMode === 'plan' ? 'The plan it would execute:' : 'Plan:');
    input.steps.forEach((step, index) => {
      const policy = input.stepPolicies[index] ?? { policy: 'approval_needed', requireManagerApproval: false };
      lines.push(`${index + 1}. ${describeStep(step)} — ${policyText(policy, step.requireManagerApproval === true)}`);
      lines.push(`   why: ${step.reason}`);
    });
    lines.push(`Plan hash (SHA-256): ${input.planHash}`);
  }
  lines.push('');
  lines.push(`Next: ${nextStepText(input)}`);
  return lines.join('\n');
}

function outcomeLabel(outcome: NoteInput['outcome']): string {
  return outcome === 'plan' ? 'plan' : outcome === 'no_action' ? 'no action needed' : 'escalate to a technician';
}

function nextStepText(input: NoteInput): string {
  if (input.outcome === 'escalate') return 'a technician needs to take this ticket; the agent will not reply or change anything.';
  if (input.operatingMode === 'plan') {
    if (input.outcome === 'no_action') return 'in Execute Mode the agent would reply to the employee; in Plan Mode nothing is sent.';
    const approvals = approvalText(input);
    return `in Execute Mode this plan would ${input.needsTechnician ? `need ${approvals}` : approvals}. In Plan Mode nothing else happens.`;
  }
  if (input.outcome === 'no_action') return 'the agent replies to the employee; nothing is changed.';
  if (!input.needsTechnician) return 'every step is auto: the agent executes the plan now and replies to the employee.';
  return `the agent waits: the plan needs ${approvalText(input)}. Approvals expire after 24 hours. The employee hears nothing until then.`;
}

function approvalText(input: NoteInput): string {
  if (!input.needsTechnician) return 'run at once (every step is auto)';
  if (input.needsManager) {
    return `a technician's approval and the approval of ${input.managerName ?? "the requester's manager"}`;
  }
  return "a technician's approval";
}

export function approvalNotification(input: {
  requestId: string;
  /** The message's key (one per round of approvals), for its marker. */
  key?: string;
  steps: PlanStep[];
  planHash: string;
  /** Where a technician decides; null when only the manager's approval is asked for. */
  approvalUrl: string | null;
  /** False when a technician already approved this plan and only the manager is asked now. */
  technicianMustDecide?: boolean;
  needsManager: boolean;
  managerName: string | null;
  expiresAt: Date;
  /** The tool policies tightened after the plan was frozen: what changed. */
  policyChange?: string | null;
}): string {
  const technician = input.technicianMustDecide !== false;
  const manager = input.managerName ?? "the requester's manager";
  const lines = [
    technician
      ? 'deskhand approval request: a technician (msp_technician or msp_admin) must approve or deny this plan.'
      : `deskhand approval request: ${manager} must approve this plan too; a technician already approved it.`,
    ...(input.policyChange ? [`The tool policies changed after this plan was frozen (${input.policyChange}), so it needs this approval before it runs.`] : []),
    ...input.steps.map((step, index) => `${index + 1}. ${describeStep(step)}`),
    `Plan hash (SHA-256): ${input.planHash}`,
    input.needsManager ? `Dual approval: ${manager} has been emailed a link and must approve too.` : 'Technician approval only.',
    ...(technician && input.approvalUrl ? [`Decide in deskhand: ${input.approvalUrl}`] : []),
    `Expires: ${input.expiresAt.toISOString()} (24 hours, fixed). Approving runs exactly this plan, once.`,
    marker(`${input.requestId}:${input.key ?? 'approval-notice'}`),
  ];
  return lines.join('\n');
}

export function managerEmail(input: {
  managerName: string;
  requesterName: string;
  clientName: string;
  steps: PlanStep[];
  link: string;
  expiresAt: Date;
}): { subject: string; text: string } {
  const subject = `Approval needed: IT request from ${input.requesterName}`;
  const text = [
    `Hello ${input.managerName},`,
    '',
    `${input.requesterName} asked the ${input.clientName} IT helpdesk for something that needs your approval as their manager:`,
    ...input.steps.map((step) => `- ${humanStep(step)}`),
    '',
    `Review and approve or deny: ${input.link}`,
    '',
    `The link works once and expires on ${input.expiresAt.toUTCString()}. A technician must approve as well.`,
  ].join('\n');
  return { subject, text };
}

/** A step in plain words for employees and managers, in its tool's own words. */
export function humanStep(step: PlanStep): string {
  return findTool(step.tool)?.ask(step.args) ?? `${step.tool} for ${step.args['user'] ?? 'the user'}`;
}

/** A completed step in plain words, for the employee's reply. */
export function doneStep(step: PlanStep): string {
  return findTool(step.tool)?.done(step.args) ?? `${step.tool} ran for ${step.args['user'] ?? 'the user'}`;
}

export function executedReply(input: { requestId: string; steps: PlanStep[]; hasTemporaryPassword: boolean; partials?: ReadonlyMap<number, string> }): string {
  const lines = ['Hello, your IT request has been handled. What was done:'];
  input.steps.forEach((step, index) => {
    const partial = input.partials?.get(index);
    lines.push(partial ? `- Partly done: ${doneStep(step)}, but ${partial}` : `- ${doneStep(step)}`);
  });
  if (input.hasTemporaryPassword) {
    lines.push('');
    lines.push('A technician will give you your temporary password by phone or in person; you will choose a new one when you sign in.');
  }
  lines.push('');
  lines.push('If anything still does not work, reply to this ticket.');
  return lines.join('\n');
}

/** For technicians: the plan ran, but some steps succeeded only in part (what remains, and why). */
export function partialNote(input: { requestId: string; steps: PlanStep[]; partials: ReadonlyMap<number, string> }): string {
  const lines = ['deskhand executed the approved plan, but some steps could only be done in part:'];
  for (const [index, partial] of [...input.partials].sort(([a], [b]) => a - b)) {
    const step = input.steps[index];
    lines.push(`- ${step ? describeStep(step) : `step ${index + 1}`}: ${partial}`);
  }
  lines.push('The request counts as executed; the employee was told what remains.');
  lines.push(marker(`${input.requestId}:partial-note`));
  return lines.join('\n');
}

export function noActionReply(input: { requestId: string; text: string }): string {
  return `${input.text}\n\nIf this does not solve it, reply to this ticket and a technician will look at it.`;
}

export function deniedReply(): string {
  return [
    'Hello, your IT request was reviewed and was not approved, so nothing was changed.',
    'If you think this is a mistake, reply to this ticket and a technician will follow up.',
  ].join('\n');
}

export function expiredReply(): string {
  return [
    'Hello, your IT request was not approved in time (approvals expire after 24 hours), so nothing was changed.',
    'If you still need help, please submit the request again.',
  ].join('\n');
}

export function failedReply(input: { requestId: string; doneSteps: PlanStep[] }): string {
  const lines = ['Hello, we started on your IT request but could not finish it automatically.'];
  if (input.doneSteps.length > 0) {
    lines.push('What was done:');
    for (const step of input.doneSteps) lines.push(`- ${doneStep(step)}`);
  } else {
    lines.push('Nothing was changed.');
  }
  lines.push('A technician has been told and will follow up on this ticket.');
  return lines.join('\n');
}

export function failedNote(input: { requestId: string; step: PlanStep | null; error: string; doneSteps: PlanStep[]; employeeTold?: boolean }): string {
  const lines = ['deskhand could not finish the approved plan: a technician must take over.'];
  if (input.step) lines.push(`Failed step: ${describeStep(input.step)}`);
  lines.push(`Error: ${input.error}`);
  lines.push(input.doneSteps.length > 0 ? `Done before the failure: ${input.doneSteps.map(describeStep).join('; ')}` : 'No step was completed.');
  lines.push(input.employeeTold === false ? 'No reply was sent to the employee.' : 'The employee was told that a technician will follow up.');
  return lines.join('\n');
}

export function escalationNote(input: { requestId: string; reason: string; key: string }): string {
  return [`deskhand escalates this ticket to a technician: ${input.reason}`, 'Nothing was changed and no reply was sent.'].join('\n');
}

export function deliveryFailedNote(input: { requestId: string; purpose: string; error: string; changed: boolean }): string {
  return [
    `deskhand could not deliver the ${input.purpose.replace(/_/g, ' ')} to this ticket after repeated attempts: ${input.error}`,
    input.changed ? 'The approved plan was executed; the employee has not been told: a technician must reply.' : 'Nothing was changed; a technician must take this ticket.',
  ].join('\n');
}

/**
 * The internal note that records a decision on an approval: who decided (or that nobody did before
 * it expired), when, their comment (a denial's reason reaches the ticket this way), and what follows.
 */
export function decisionNote(input: {
  kind: 'technician' | 'manager';
  status: 'approved' | 'denied' | 'expired';
  /** `Name <email>` of the technician or manager; null for an expiry. */
  by: string | null;
  role: string | null;
  at: Date;
  comment: string | null;
  /** What the decision leads to: the plan runs, another approval is awaited, or the request is answered. */
  next: 'executing' | 'awaiting_approval' | 'replied' | 'moved_on';
}): string {
  const approval = input.kind === 'technician' ? 'technician approval' : "manager's approval";
  const when = input.at.toISOString();
  const lines =
    input.status === 'expired'
      ? [`deskhand: the ${approval} expired at ${when}: nobody decided within 24 hours.`]
      : [`deskhand: the ${approval} was ${input.status} by ${input.by ?? 'unknown'}${input.role ? ` (${input.role})` : input.kind === 'manager' ? " (the requester's manager)" : ''} at ${when}.`];
  if (input.status !== 'expired') lines.push(input.comment ? `Comment: ${input.comment}` : 'No comment was given.');
  const next = {
    executing: 'Next: the approved plan runs now, exactly as frozen.',
    awaiting_approval: 'Next: the plan still waits for the other approval it needs.',
    replied:
      input.status === 'expired'
        ? 'Next: nothing was changed; the employee is asked to submit the request again.'
        : 'Next: nothing is changed; the employee is told the request was not approved.',
    moved_on: 'Next: nothing more: the request had already moved on without this approval.',
  }[input.next];
  lines.push(next);
  return lines.join('\n');
}
