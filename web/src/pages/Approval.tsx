import { useQuery } from '@tanstack/react-query';
import { useParams } from '@tanstack/react-router';
import type { ApprovalDetailAnswer } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { Badge, ErrorNote, formatTime, Loading, PageHeader } from '../components/ui.tsx';
import { queryKeys } from '../live.ts';

/**
 * One approval: where the link in the ticket's note leads (`/approvals/<id>`, through sign-in when
 * needed). A minimal view of GET /api/approvals/:id, which the approvals work replaces.
 */
export function ApprovalPage() {
  const { approvalId } = useParams({ strict: false }) as { approvalId: string };
  const approval = useQuery({ queryKey: queryKeys.approval(approvalId), queryFn: () => api.get<ApprovalDetailAnswer>(`/api/approvals/${encodeURIComponent(approvalId)}`) });
  if (approval.error) return <ErrorNote error={approval.error} title="This approval could not be loaded" />;
  if (!approval.data) return <Loading what="the approval" />;
  const data = approval.data;
  return (
    <>
      <PageHeader title="Approval" subtitle={<Badge tone={data.status === 'pending' ? 'warn' : data.status === 'approved' ? 'ok' : 'neutral'}>{data.status}</Badge>} />
      <section className="card" aria-labelledby="approval-plan">
        <h2 id="approval-plan">The plan to approve</h2>
        <ol>
          {data.steps.map((step, index) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: a frozen plan's steps never move
            <li key={index}>
              <code>{step.tool}</code>
            </li>
          ))}
        </ol>
        <dl className="facts">
          <dt>Kind</dt>
          <dd>{data.kind}</dd>
          <dt>Plan hash</dt>
          <dd className="wrap-anywhere">
            <code>{data.planHash}</code>
          </dd>
          <dt>Expires</dt>
          <dd>{formatTime(data.expiresAt)}</dd>
          {data.decidedBy ? (
            <>
              <dt>Decided by</dt>
              <dd>
                {data.decidedBy} {formatTime(data.decidedAt)}
              </dd>
            </>
          ) : null}
        </dl>
      </section>
    </>
  );
}
