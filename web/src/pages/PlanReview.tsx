import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import type { PlanReview } from '../../../src/api/contract.ts';
import { ApiError, api } from '../api.ts';
import { queryKeys } from '../live.ts';
import { EmptyState, ErrorNote, Loading, NotFound, PageHeader, formatTime } from '../components/ui.tsx';
import { useClient } from './Client.tsx';
import { StateBadge, humanize } from './Requests.tsx';

/**
 * A Plan Mode client's internal notes one after another, each with the plan behind it and the
 * policy each step met: what the agent would have done, read in a row, to decide whether to let it
 * act (switch the client to Execute Mode on its Overview).
 */

export function usePlanReview(clientId: string) {
  return useQuery({ queryKey: [...queryKeys.client(clientId), 'plan-review'], queryFn: () => api.get<PlanReview>(`/api/clients/${encodeURIComponent(clientId)}/plan-review`) });
}

const POLICY_TONE: Record<string, string> = { auto: 'ok', approval_needed: 'warn', disabled: 'bad' };

export function PlanReviewPage() {
  const { clientId } = useParams({ strict: false }) as { clientId: string };
  const client = useClient(clientId);
  const review = usePlanReview(clientId);
  if (review.isPending) return <Loading what="the Plan Mode review" />;
  if (review.error instanceof ApiError && (review.error.status === 404 || review.error.status === 400)) return <NotFound />;
  const name = review.data?.client.name ?? client.data?.name ?? 'Client';
  return (
    <div>
      <PageHeader
        title={`Plan Mode review: ${name}`}
        back={{ to: '/clients/$clientId', label: name, params: { clientId } }}
        subtitle={
          client.data?.effectiveOperatingMode === 'plan'
            ? 'The agent only writes what it would do, as internal notes. Read them in a row: when the plans are right, switch the client to Execute Mode on its Overview.'
            : 'This client runs in Execute Mode now; these are the notes it wrote while in Plan Mode.'
        }
      />
      {review.error ? (
        <ErrorNote error={review.error} title="The Plan Mode review could not load" />
      ) : review.data.requests.length === 0 ? (
        <EmptyState title="No Plan Mode note yet">
          <p>When this client's users open tickets while it is in Plan Mode, the agent's notes and plans appear here.</p>
        </EmptyState>
      ) : (
        <ol className="plan-review">
          {review.data.requests.map((item) => (
            <li key={item.id} className="card plan-review-item">
              <div className="card-title-row">
                <h2>
                  <Link to="/requests/$requestId" params={{ requestId: item.id }}>
                    {item.subject || '(no subject)'}
                  </Link>
                </h2>
                <StateBadge state={item.state} />
              </div>
              <p className="muted small">
                {item.requesterEmail} · ticket {item.externalRef} · {formatTime(item.createdAt)}
              </p>
              <h3>Internal note</h3>
              {item.note ? (
                <>
                  <div className="note-text">{item.note.text}</div>
                  <p className="muted small">{item.note.status === 'delivered' ? `Posted ${formatTime(item.note.postedAt)}` : `Not posted yet (${humanize(item.note.status)})`}</p>
                </>
              ) : (
                <p className="muted">No note was queued.</p>
              )}
              <h3>Plan: {humanize(item.plan.outcome)}</h3>
              <p>{item.plan.summary}</p>
              {item.plan.steps.length ? (
                <ol className="call-list" aria-label={`Steps of the plan for ${item.subject}`}>
                  {item.plan.steps.map((step, index) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: a plan's steps are numbered by position
                    <li key={index} className="call">
                      <p>
                        Step {index + 1}: <code className="tool-name">{step.tool}</code>{' '}
                        <span className={`badge badge-${POLICY_TONE[step.policy] ?? 'neutral'}`}>policy: {humanize(step.policy)}</span>
                        {step.requireManagerApproval ? <span className="muted small"> and the manager</span> : null}
                      </p>
                      <dl className="step-args">
                        {Object.entries(step.args).map(([key, value]) => (
                          <div key={key}>
                            <dt>{key}</dt>
                            <dd>{typeof value === 'string' ? value : JSON.stringify(value)}</dd>
                          </div>
                        ))}
                      </dl>
                    </li>
                  ))}
                </ol>
              ) : (
                <p className="muted">No step: the agent would change nothing.</p>
              )}
              <p className="muted small">
                Plan SHA-256 <code className="hash wrap-anywhere">{item.plan.hash}</code>
              </p>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
