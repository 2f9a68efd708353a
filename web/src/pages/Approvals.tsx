import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useEffect, useId, useState } from 'react';
import type { ApprovalList, ApprovalRow, Decision, PlanStep } from '../../../src/api/contract.ts';
import { ApiError, api, errorMessage } from '../api.ts';
import { can, useMe } from '../auth.ts';
import { Badge, EmptyState, ErrorNote, formatTime, Loading, PageHeader } from '../components/ui.tsx';

/**
 * The approvals queue: every pending approval of the MSP, with the plan it approves, and Approve /
 * Deny. The query keys start with 'approvals' so the live events (GET /api/events) refresh them the
 * moment a decision is made elsewhere (PSA, manager link, another technician); a slow poll covers a
 * dropped event stream.
 */
export const pendingApprovalsKey = ['approvals', 'pending'] as const;

export function usePendingApprovals() {
  return useQuery({ queryKey: pendingApprovalsKey, queryFn: () => api.get<ApprovalList>('/api/approvals?status=pending'), refetchInterval: 30_000 });
}

export function ApprovalsPage() {
  const approvals = usePendingApprovals();
  const rows = approvals.data?.approvals as ApprovalRow[] | undefined;
  // Decisions made here: their card leaves the queue, their answer stays in view.
  const [answers, setAnswers] = useState<{ id: string; title: string; decision: Decision }[]>([]);
  return (
    <>
      <PageHeader title="Approvals" subtitle="Plans waiting for a technician: read each step, then approve or deny it. A decision made elsewhere leaves this list at once." />
      {answers.length > 0 ? (
        <div className="note note-ok" role="status">
          <ul className="decision-answers">
            {answers.map((answer) => (
              <li key={answer.id}>
                <Link to="/approvals/$approvalId" params={{ approvalId: answer.id }}>
                  {answer.title}
                </Link>
                : {NEXT_STATE[answer.decision.requestState]}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {approvals.isPending ? <Loading what="the approvals" /> : null}
      <ErrorNote error={approvals.error} title="The approvals could not be loaded" />
      {rows && rows.filter((row) => row.kind === 'technician').length === 0 ? (
        <EmptyState title="Nothing waits for approval">New plans that need a technician appear here as soon as deskhand makes them.</EmptyState>
      ) : null}
      <ul className="approval-list">
        {rows
          ?.filter((row) => row.kind === 'technician')
          .map((row) => (
            <li key={row.id}>
              <ApprovalCard
                approval={row}
                headingLevel={2}
                onDecided={(decision) => setAnswers((list) => [{ id: row.id, title: row.subject, decision }, ...list.filter((answer) => answer.id !== row.id)])}
              />
            </li>
          ))}
      </ul>
    </>
  );
}

/** The top bar's link, with how many approvals wait (the same query as the queue). */
export function ApprovalsNavLink() {
  const approvals = usePendingApprovals();
  const count = approvals.data?.approvals.filter((row) => row.kind === 'technician').length ?? 0;
  return (
    <Link to="/approvals" className="nav-link" activeProps={{ className: 'nav-link active', 'aria-current': 'page' }}>
      Approvals{count > 0 ? <span className="nav-count">
          {count}
          <span className="visually-hidden"> pending</span>
        </span> : null}
    </Link>
  );
}

/** A step as words: the tool, then each argument as "name: value". */
export function stepInWords(step: Pick<PlanStep, 'tool' | 'args'>): string {
  const args = Object.entries(step.args)
    .map(([name, value]) => `${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
  return args ? `${step.tool} (${args})` : step.tool;
}

/** Time left until `expiresAt`, ticking every second. */
export function TimeLeft(props: { expiresAt: string }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const left = new Date(props.expiresAt).getTime() - now;
  if (left <= 0) return <Badge tone="bad">expired</Badge>;
  const hours = Math.floor(left / 3_600_000);
  const minutes = Math.floor((left % 3_600_000) / 60_000);
  const seconds = Math.floor((left % 60_000) / 1000);
  const text = `${hours}h ${String(minutes).padStart(2, '0')}m ${String(seconds).padStart(2, '0')}s left`;
  return (
    <span className="time-left" title={`Expires ${formatTime(props.expiresAt)}`}>
      {text}
    </span>
  );
}

const STATUS_TONE = { pending: 'warn', approved: 'ok', denied: 'bad', expired: 'neutral', cancelled: 'neutral' } as const;

const NEXT_STATE: Record<Decision['requestState'], string> = {
  executing: 'Approved: the plan runs now.',
  replied: 'Denied: the employee is told, nothing was changed.',
  awaiting_approval: 'Approved: the manager’s approval is still awaited.',
};

/** What is shown of an approval: the queue's rows and the approval page share it. */
export interface ApprovalCardData {
  id: string;
  kind: ApprovalRow['kind'];
  status: ApprovalRow['status'];
  planHash: string;
  requestId: string;
  decidedBy: string | null;
  decidedAt: string | null;
  comment?: string | null;
  expiresAt: string;
  steps: Pick<PlanStep, 'tool' | 'args'>[];
  summary?: string;
  requesterEmail?: string;
  subject?: string;
  client?: ApprovalRow['client'];
  manager?: ApprovalRow['manager'];
}

/** One approval: who asks, the plan (steps, hash), the manager's part, time left, and the decision. */
export function ApprovalCard(props: { approval: ApprovalCardData; headingLevel: 2 | 3; onDecided?: (decision: Decision) => void }) {
  const { approval } = props;
  const titleId = useId();
  const Heading = props.headingLevel === 2 ? 'h2' : 'h3';
  const title = approval.subject ?? 'Plan awaiting approval';
  return (
    <article className="card approval-card" aria-labelledby={titleId}>
      <div className="card-title-row">
        <Heading id={titleId}>
          <Link to="/approvals/$approvalId" params={{ approvalId: approval.id }}>
            {title}
          </Link>
        </Heading>
        <Badge tone={STATUS_TONE[approval.status]}>{approval.status}</Badge>
      </div>
      <dl className="approval-facts">
        {approval.client ? (
          <div>
            <dt>Client</dt>
            <dd>{approval.client.name}</dd>
          </div>
        ) : null}
        {approval.requesterEmail ? (
          <div>
            <dt>Requester</dt>
            <dd>{approval.requesterEmail}</dd>
          </div>
        ) : null}
        <div>
          <dt>Plan hash</dt>
          <dd>
            <code title={approval.planHash}>{approval.planHash.slice(0, 12)}</code>
          </dd>
        </div>
        {approval.status === 'pending' ? (
          <div>
            <dt>Time left</dt>
            <dd>
              <TimeLeft expiresAt={approval.expiresAt} />
            </dd>
          </div>
        ) : null}
        {approval.manager ? (
          <div>
            <dt>Manager</dt>
            <dd>
              {approval.manager.approverEmail ?? 'the employee’s manager'}: <Badge tone={STATUS_TONE[approval.manager.status]}>{approval.manager.status}</Badge>
            </dd>
          </div>
        ) : null}
      </dl>
      {approval.summary ? <p className="approval-summary">{approval.summary}</p> : null}
      <p className="steps-title">Steps</p>
      <ol className="approval-steps">
        {approval.steps.map((step, index) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: a frozen plan's steps never move
          <li key={index}>
            <code>{step.tool}</code> {Object.keys(step.args).length > 0 ? <span className="step-args">{stepInWords({ tool: '', args: step.args }).trim()}</span> : null}
          </li>
        ))}
      </ol>
      {approval.status === 'pending' ? (
        <DecisionForm approval={approval} onDecided={props.onDecided} />
      ) : (
        <p className="decided" role="status">
          Already {approval.status}
          {approval.decidedBy ? ` by ${approval.decidedBy}` : ''}
          {approval.decidedAt ? ` at ${formatTime(approval.decidedAt)}` : ''}
          {approval.comment ? `: “${approval.comment}”` : '.'}
        </p>
      )}
    </article>
  );
}

function DecisionForm(props: { approval: ApprovalCardData; onDecided?: ((decision: Decision) => void) | undefined }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const commentId = useId();
  const [comment, setComment] = useState('');
  const [confirmDeny, setConfirmDeny] = useState(false);
  const [answer, setAnswer] = useState<Decision | null>(null);
  const decide = useMutation({
    mutationFn: (decision: 'approve' | 'deny') =>
      api.post<Decision>(`/api/approvals/${encodeURIComponent(props.approval.id)}/decision`, {
        decision,
        planHash: props.approval.planHash,
        ...(comment.trim() ? { comment: comment.trim() } : {}),
      }),
    onSuccess: (decision) => {
      setAnswer(decision);
      props.onDecided?.(decision);
    },
    onSettled: () => {
      // The answer stays on screen; the lists and the request's story are asked again.
      void queryClient.invalidateQueries({ queryKey: ['approvals'] });
      void queryClient.invalidateQueries({ queryKey: ['approval', props.approval.id] });
      void queryClient.invalidateQueries({ queryKey: ['request', props.approval.requestId] });
    },
  });
  if (!can.approve(me.data?.user.role)) return <p className="hint">Technicians and admins decide approvals.</p>;
  if (answer) {
    return (
      <p className="note note-ok" role="status">
        {NEXT_STATE[answer.requestState]} (combined: {answer.combined})
      </p>
    );
  }
  const conflict = decide.error instanceof ApiError && decide.error.status === 409;
  return (
    <form className="decision-form" onSubmit={(event) => event.preventDefault()}>
      <div className="field">
        <label htmlFor={commentId}>Comment (optional)</label>
        <textarea id={commentId} rows={2} maxLength={2000} value={comment} onChange={(event) => setComment(event.target.value)} />
      </div>
      {decide.error ? (
        <div className="note note-error" role="alert">
          <strong>{conflict ? 'Already decided: ' : 'The decision was not recorded: '}</strong>
          {errorMessage(decide.error)}
        </div>
      ) : null}
      {confirmDeny ? (
        <div className="confirm-row">
          <span>Deny this plan? Nothing will be changed and the employee is told.</span>
          <button type="button" className="button button-danger" disabled={decide.isPending} onClick={() => decide.mutate('deny')}>
            Yes, deny
          </button>
          <button type="button" className="button" onClick={() => setConfirmDeny(false)}>
            Keep it pending
          </button>
        </div>
      ) : (
        <div className="decision-buttons">
          <button type="button" className="button button-primary" disabled={decide.isPending} onClick={() => decide.mutate('approve')}>
            Approve
          </button>
          <button type="button" className="button button-danger" disabled={decide.isPending} onClick={() => setConfirmDeny(true)}>
            Deny
          </button>
        </div>
      )}
    </form>
  );
}
