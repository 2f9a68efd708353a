import { HOUR_MS } from './clock.ts';

/** DESIGN rule 7: fixed, not configurable. */
export const APPROVAL_TTL_MS = 24 * HOUR_MS;

export type ApprovalKind = 'technician' | 'manager';
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
export type Decision = 'approve' | 'deny';

export const APPROVER_ROLES = ['msp_admin', 'msp_technician'] as const;
export const USER_ROLES = ['msp_admin', 'msp_technician', 'msp_billing'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export function approvalExpiresAt(createdAt: Date): Date {
  return new Date(createdAt.getTime() + APPROVAL_TTL_MS);
}

export function isExpired(expiresAt: Date, now: Date): boolean {
  return now.getTime() >= expiresAt.getTime();
}

export function mayApprove(role: string): boolean {
  return (APPROVER_ROLES as readonly string[]).includes(role);
}

/** Why a decision cannot be taken, or null when it can. Pure, so the rules read in one place. */
export function decisionRefusal(input: {
  status: ApprovalStatus;
  expiresAt: Date;
  now: Date;
  approvalPlanHash: string;
  currentPlanHash: string;
  presentedPlanHash?: string | undefined;
  /** Who decided it and when: a second decision is told (the dashboard shows it). */
  decidedBy?: string | null | undefined;
  decidedAt?: Date | null | undefined;
}): { code: 'conflict' | 'expired'; message: string } | null {
  if (input.status === 'expired' || (input.status === 'pending' && isExpired(input.expiresAt, input.now))) {
    return {
      code: 'expired',
      message: 'This approval request expired 24 hours after it was created; the employee was asked to resubmit.',
    };
  }
  if (input.status !== 'pending') {
    const by = input.decidedBy ? ` by ${input.decidedBy}` : '';
    const when = input.decidedAt ? ` at ${input.decidedAt.toISOString()}` : '';
    return { code: 'conflict', message: `This approval was already ${input.status}${by}${when}; a decision is taken once.` };
  }
  if (input.approvalPlanHash !== input.currentPlanHash) {
    return { code: 'conflict', message: 'The plan changed since this approval was requested; a new approval is needed.' };
  }
  if (input.presentedPlanHash !== undefined && input.presentedPlanHash !== input.approvalPlanHash) {
    return {
      code: 'conflict',
      message: 'The plan you reviewed is not the plan awaiting approval (hash mismatch); reload it and decide again.',
    };
  }
  return null;
}

/** Both must approve; either denial denies (DESIGN rule 6). */
export function combinedDecision(statuses: readonly ApprovalStatus[]): 'approved' | 'denied' | 'expired' | 'pending' {
  if (statuses.includes('denied')) return 'denied';
  if (statuses.includes('expired')) return 'expired';
  if (statuses.length > 0 && statuses.every((s) => s === 'approved')) return 'approved';
  return 'pending';
}
