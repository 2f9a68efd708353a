/** The request lifecycle of DESIGN.md. */
export const REQUEST_STATES = [
  'received',
  'diagnosing',
  'noted',
  'awaiting_approval',
  'executing',
  'planned',
  'replied',
  'escalated',
  'failed',
] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

export const FINAL_STATES: readonly RequestState[] = ['planned', 'replied', 'escalated', 'failed'];

export const OUTCOMES = ['executed', 'no_action', 'denied', 'expired', 'escalated', 'failed', 'planned'] as const;
export type Outcome = (typeof OUTCOMES)[number];

const transitions: Record<RequestState, readonly RequestState[]> = {
  received: ['diagnosing', 'escalated', 'failed'],
  // A diagnosis ends with its note on the ticket (`noted`); when the note itself cannot be
  // delivered the request escalates (nothing changed) or, as before, fails.
  diagnosing: ['noted', 'escalated', 'failed'],
  noted: ['planned', 'replied', 'escalated', 'awaiting_approval', 'executing', 'failed'],
  awaiting_approval: ['executing', 'replied', 'escalated', 'failed'],
  // Before the first step: the frozen plan no longer checks out or a tool became disabled
  // (escalated), or a policy tightened since the plan was frozen (back to awaiting_approval).
  executing: ['replied', 'failed', 'escalated', 'awaiting_approval'],
  planned: [],
  replied: [],
  escalated: [],
  failed: [],
};

export function isFinal(state: RequestState): boolean {
  return FINAL_STATES.includes(state);
}

export function canTransition(from: RequestState, to: RequestState): boolean {
  return transitions[from].includes(to);
}

export function assertTransition(from: RequestState, to: RequestState): void {
  if (!canTransition(from, to)) throw new Error(`illegal request transition ${from} -> ${to}`);
}
