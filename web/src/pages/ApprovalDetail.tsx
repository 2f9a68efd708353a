import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useParams } from '@tanstack/react-router';
import { useState } from 'react';
import type { ApprovalDetail, Decision, RequestStory, TemporaryPassword } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { useMe } from '../auth.ts';
import { Badge, ErrorNote, formatTime, Loading, PageHeader } from '../components/ui.tsx';
import { ApprovalCard, type ApprovalCardData } from './Approvals.tsx';

/**
 * One approval: the page the ticket's note links to. The same card as the queue, the request's
 * summary, and once a password reset has run, its temporary password for the technician who
 * approved it (shown once: the API destroys its copy when it answers).
 */
export function ApprovalDetailPage() {
  const { approvalId } = useParams({ strict: false }) as { approvalId: string };
  const approval = useQuery({
    queryKey: ['approval', approvalId],
    queryFn: () => api.get<ApprovalDetail>(`/api/approvals/${encodeURIComponent(approvalId)}`),
    refetchInterval: 30_000,
  });
  const requestId = approval.data?.requestId;
  const story = useQuery({
    queryKey: ['request', requestId],
    queryFn: () => api.get<RequestStory>(`/api/requests/${encodeURIComponent(requestId ?? '')}`),
    enabled: Boolean(requestId),
    // While the plan runs, its steps (and a temporary password) arrive: ask again until it settles.
    refetchInterval: (query) => (query.state.data?.request.state === 'executing' || query.state.data?.request.state === 'awaiting_approval' ? 3000 : false),
  });
  const [answer, setAnswer] = useState<Decision | null>(null);
  return (
    <>
      <PageHeader title="Approval" back={{ to: '/approvals', label: 'Approvals' }} />
      {approval.isPending ? <Loading what="the approval" /> : null}
      <ErrorNote error={approval.error} title="The approval could not be loaded" />
      {approval.data ? <ApprovalCard approval={cardData(approval.data, story.data)} headingLevel={2} onDecided={setAnswer} /> : null}
      {answer ? (
        <p className="note note-ok" role="status">
          Your decision is recorded: the request {answer.requestState === 'executing' ? 'runs its plan now' : answer.requestState === 'replied' ? 'was answered and nothing was changed' : 'waits for the manager’s approval'}.
        </p>
      ) : null}
      {requestId && story.isPending ? <Loading what="the request" /> : null}
      <ErrorNote error={story.error} title="The request could not be loaded" />
      {story.data ? <RequestSummary story={story.data} /> : null}
      {story.data ? <TemporaryPasswords story={story.data} /> : null}
    </>
  );
}

function cardData(approval: ApprovalDetail, story: RequestStory | undefined): ApprovalCardData {
  const manager = story?.approvals.filter((row) => row.kind === 'manager').at(-1);
  return {
    ...approval,
    ...(story ? { requesterEmail: story.request.requesterEmail, subject: story.request.subject, client: story.request.client } : {}),
    manager: approval.kind === 'technician' && manager ? { status: manager.status, approverEmail: manager.approverEmail, decidedAt: manager.decidedAt } : null,
  };
}

function RequestSummary(props: { story: RequestStory }) {
  const { request, plan } = props.story;
  return (
    <section className="card" aria-labelledby="request-title">
      <div className="card-title-row">
        <h2 id="request-title">The request</h2>
        <Badge tone={request.state === 'failed' ? 'bad' : request.state === 'replied' ? 'ok' : 'info'}>{request.state}</Badge>
      </div>
      <dl className="facts">
        <div className="facts-row">
          <dt>From</dt>
          <dd>
            {request.requesterEmail} through {request.channel} ({request.externalRef})
          </dd>
        </div>
        <div className="facts-row">
          <dt>Received</dt>
          <dd>{formatTime(request.createdAt)}</dd>
        </div>
        {request.outcome ? (
          <div className="facts-row">
            <dt>Outcome</dt>
            <dd>{request.outcome}</dd>
          </div>
        ) : null}
      </dl>
      <blockquote className="request-body">{request.body}</blockquote>
      {plan ? <p>{plan.summary}</p> : null}
      <p>
        <a href={`/requests/${encodeURIComponent(request.id)}`}>The request’s whole story</a>
      </p>
    </section>
  );
}

/** The reset steps whose temporary password is for the signed-in technician. */
function TemporaryPasswords(props: { story: RequestStory }) {
  const me = useMe();
  const mine = props.story.steps.filter((step) => step.secretForUserId !== null && step.secretForUserId === me.data?.user.id);
  if (mine.length === 0) return null;
  return (
    <section className="card" aria-labelledby="secret-title">
      <h2 id="secret-title">Temporary password</h2>
      {mine.map((step) => (
        <SecretReveal key={step.stepIndex} requestId={props.story.request.id} step={step} />
      ))}
    </section>
  );
}

function SecretReveal(props: { requestId: string; step: RequestStory['steps'][number] }) {
  const queryClient = useQueryClient();
  const reveal = useMutation({
    mutationFn: () => api.post<TemporaryPassword>(`/api/requests/${encodeURIComponent(props.requestId)}/steps/${props.step.stepIndex}/temporary-password`),
    // The story then says it was shown; the password stays only in this mutation's memory.
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['request', props.requestId] }),
  });
  if (reveal.data) {
    return (
      <div className="secret-shown">
        <p className="note note-warn" role="alert">
          Shown once: write it down now and give it to the employee by phone or in person. Leaving this page forgets it.
        </p>
        <p>
          Temporary password: <code className="secret" data-testid="temporary-password">{reveal.data.temporaryPassword}</code>
        </p>
        <p className="hint">{reveal.data.note}</p>
      </div>
    );
  }
  return (
    <div>
      <p>
        Step {props.step.stepIndex + 1}, <code>{props.step.tool}</code>:{' '}
        {props.step.secretRevealedAt ? `the temporary password was shown at ${formatTime(props.step.secretRevealedAt)}; it is not shown again.` : null}
        {!props.step.secretRevealedAt && props.step.secretAvailable ? 'a temporary password is ready for you. It can be shown once.' : null}
      </p>
      <ErrorNote error={reveal.error} title="Not shown" />
      {props.step.secretAvailable || !props.step.secretRevealedAt ? (
        <button type="button" className="button button-primary" disabled={reveal.isPending} onClick={() => reveal.mutate()}>
          Show the temporary password
        </button>
      ) : null}
    </div>
  );
}
