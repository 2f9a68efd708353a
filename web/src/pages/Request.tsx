import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { Children, type ReactElement, type ReactNode, useEffect, useState } from 'react';
import type { RequestStory, RequestStoryAnswer, RequestStoryForBilling } from '../../../src/api/contract.ts';
import { ApiError, api } from '../api.ts';
import { can, useMe } from '../auth.ts';
import { queryKeys } from '../live.ts';
import { ErrorNote, Loading, NotFound, PageHeader, formatTime } from '../components/ui.tsx';
import { CHANNEL_LABEL, StateBadge, humanize } from './Requests.tsx';

/**
 * One request's story, as a timeline: how it came in, what the agent read, the internal note it
 * wrote, the plan it froze (with its SHA-256 and each step's policy), who approved what, each step it
 * executed, the replies and messages, and what went wrong. Billing reads what happened, not why.
 */

export function useRequestStory(requestId: string) {
  return useQuery({ queryKey: queryKeys.request(requestId), queryFn: () => api.get<RequestStoryAnswer>(`/api/requests/${encodeURIComponent(requestId)}`) });
}

export function RequestPage() {
  const { requestId } = useParams({ strict: false }) as { requestId: string };
  const story = useRequestStory(requestId);
  const me = useMe();
  if (story.isPending) return <Loading what="the request" />;
  if (story.error instanceof ApiError && (story.error.status === 404 || story.error.status === 400)) return <NotFound />;
  if (story.error) return <ErrorNote error={story.error} title="The request could not load" />;
  const data = story.data;
  const request = data.request;
  const full = can.readDetails(me.data?.user.role) && 'body' in request;
  return (
    <div>
      <PageHeader
        title={request.subject || '(no subject)'}
        back={{ to: '/requests', label: 'Requests' }}
        subtitle={
          <>
            {request.client ? (
              <Link to="/clients/$clientId" params={{ clientId: request.client.id }}>
                {request.client.name}
              </Link>
            ) : (
              'No client'
            )}{' '}
            · {request.requesterEmail} · {CHANNEL_LABEL[request.channel] ?? request.channel} {request.externalRef}
          </>
        }
        actions={
          <span className="request-state" aria-live="polite">
            <StateBadge state={request.state} />
            {request.outcome ? <span className="muted small"> {humanize(request.outcome)}</span> : null}
          </span>
        }
      />
      {full ? <FullStory story={data as RequestStory} approver={can.approve(me.data?.user.role)} /> : <BillingStory story={data as RequestStoryForBilling} />}
    </div>
  );
}

/** A timeline entry: a heading, when, and what happened (`sortAt`: where it falls in time). */
function Entry(props: { title: string; at?: string | null; sortAt?: string; tone?: 'ok' | 'warn' | 'bad' | 'info'; children: ReactNode }) {
  return (
    <li className={`timeline-entry timeline-${props.tone ?? 'info'}`}>
      <div className="timeline-head">
        <h2>{props.title}</h2>
        {props.at ? <time dateTime={props.at}>{formatTime(props.at)}</time> : null}
      </div>
      <div className="timeline-body">{props.children}</div>
    </li>
  );
}

/** JSON the systems wrote, shown as it is (wrapped, never wider than a phone). */
function Json(props: { value: unknown; label: string }) {
  return (
    <pre className="json" title={props.label}>
      {JSON.stringify(props.value, null, 2)}
    </pre>
  );
}

/** A tool's parameters as a human reads them: name, value. */
export function Args(props: { args: Record<string, unknown>; inline?: boolean }) {
  const entries = Object.entries(props.args);
  if (props.inline) {
    // On the tool's line: `user: alex@… · group: SG-…`.
    return (
      <span className="inline-args">
        {entries.map(([key, value], index) => (
          <span key={key}>
            {index > 0 ? ' · ' : ''}
            <span className="muted">{key}:</span> {typeof value === 'string' ? value : JSON.stringify(value)}
          </span>
        ))}
      </span>
    );
  }
  if (entries.length === 0) return <p className="muted small">No parameters.</p>;
  return (
    <dl className="step-args">
      {entries.map(([key, value]) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>{typeof value === 'string' ? value : JSON.stringify(value)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Time left until an instant, ticking each 30 s. */
function TimeLeft(props: { until: string }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);
  const ms = new Date(props.until).getTime() - now;
  if (ms <= 0) return <span className="badge badge-bad">expired</span>;
  const minutes = Math.round(ms / 60_000);
  const text = minutes < 60 ? `${minutes} min` : minutes < 48 * 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${Math.round(minutes / 1440)} days`;
  return <span className="badge badge-warn">{text} left</span>;
}

/** The entries in the order they happened (ties keep the order written: intake, diagnosis, note, plan, …). */
function Chronological(props: { children: ReactNode }) {
  const entries = (Children.toArray(props.children) as ReactElement<{ sortAt?: string; at?: string | null }>[]).map((element, index) => ({
    element,
    index,
    at: element.props.sortAt ?? element.props.at ?? '',
  }));
  entries.sort((a, b) => (a.at === b.at ? a.index - b.index : a.at < b.at ? -1 : 1));
  return (
    <ol className="timeline" aria-label="The request's story">
      {entries.map((entry) => entry.element)}
    </ol>
  );
}

/** "status_waiting" → "Status waiting". */
const sentence = (value: string): string => {
  const text = humanize(value);
  return text.charAt(0).toUpperCase() + text.slice(1);
};

type StoryPlan = NonNullable<RequestStory['plan']>;

/** "$0.0123": small costs keep their significant digits (a model call is often a fraction of a cent). */
function formatUsd(value: number): string {
  return `$${value === 0 || value >= 1 ? value.toFixed(2) : value.toPrecision(2)}`;
}

/**
 * Who planned, and with what: the built-in planner, or a language model with its calls, tokens and
 * cost; the prompts a model read (collapsed: they can be long) and the workflows that matched.
 */
function PlannerFacts(props: { plan: StoryPlan }) {
  const { usage, plannerContext: context } = props.plan;
  const builtIn = props.plan.planner === 'builtin';
  const prompts = context?.prompts ?? null;
  const workflows = context?.workflows ?? [];
  return (
    <div className="planner-facts">
      <dl className="details-list">
        <dt>Planner</dt>
        <dd>{builtIn ? 'Built-in planner' : usage ? `Language model ${usage.model}` : `Language model (${props.plan.planner})`}</dd>
        {usage ? (
          <>
            <dt>Model use</dt>
            <dd>
              {usage.modelCalls} call{usage.modelCalls === 1 ? '' : 's'} · {usage.inputTokens.toLocaleString()} input tokens · {usage.outputTokens.toLocaleString()} output tokens ·{' '}
              {usage.costUsd === null ? 'cost unknown' : `${formatUsd(usage.costUsd)} (US dollars)`}
            </dd>
          </>
        ) : null}
        <dt>Workflows</dt>
        <dd>
          {workflows.length === 0 ? (
            <span className="muted">None matched.</span>
          ) : (
            <ul className="plain-list">
              {workflows.map((workflow) => (
                <li key={workflow.id}>
                  <Link to="/workflows/$workflowId" params={{ workflowId: workflow.id }}>
                    {workflow.name}
                  </Link>{' '}
                  <span className="muted small">{workflow.scope === 'msp' ? 'MSP-wide' : "the client's own"}</span>
                </li>
              ))}
            </ul>
          )}
        </dd>
      </dl>
      {prompts ? (
        <>
          <details>
            <summary>The MSP's prompt the model read</summary>
            {prompts.msp ? <div className="note-text">{prompts.msp}</div> : <p className="muted small">None.</p>}
          </details>
          <details>
            <summary>The client's prompt the model read</summary>
            {prompts.client ? <div className="note-text">{prompts.client}</div> : <p className="muted small">None.</p>}
          </details>
        </>
      ) : null}
    </div>
  );
}

type Reads = { tool?: string; args?: Record<string, unknown>; result?: unknown; purpose?: string }[];
type NotePayload = { purpose?: string; visibility?: string; text?: string; ticketRef?: string; subject?: string; to?: string };
type StepPolicy = { policy?: string; requireManagerApproval?: boolean };

function FullStory(props: { story: RequestStory; approver: boolean }) {
  const { request, diagnosis, plan, approvals, steps, messages } = props.story;
  const reads = (Array.isArray(diagnosis?.reads) ? diagnosis.reads : []) as Reads;
  const payload = (m: (typeof messages)[number]) => (m.payload ?? {}) as NotePayload;
  const note = messages.find((m) => payload(m).purpose === 'internal_note');
  const policies = (Array.isArray(plan?.stepPolicies) ? plan.stepPolicies : []) as StepPolicy[];
  const reasons = plan?.reasons;
  const failed = request.state === 'failed' || request.state === 'escalated' || request.lastError;
  return (
    <Chronological>
      <Entry title="Intake" at={request.createdAt} sortAt={request.createdAt}>
        <dl className="details-list">
          <dt>Channel</dt>
          <dd>{CHANNEL_LABEL[request.channel] ?? request.channel}</dd>
          <dt>Ticket</dt>
          <dd>{request.externalRef}</dd>
          <dt>Requester</dt>
          <dd className="wrap-anywhere">{request.requesterEmail}</dd>
        </dl>
        <blockquote className="message-text">{request.body || request.subject}</blockquote>
      </Entry>
      {diagnosis ? (
        <Entry title={`Diagnosis: ${reads.length} read${reads.length === 1 ? '' : 's'}`} at={diagnosis.createdAt}>
          {reads.length === 0 ? <p className="muted">The agent read nothing.</p> : null}
          <ol className="call-list">
            {reads.map((read, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: reads are a fixed, ordered record
              <li key={index} className="call">
                <p>
                  <code className="tool-name">{read.tool}</code> <Args args={read.args ?? {}} inline />
                  {read.purpose === 'resolve' ? <span className="muted small"> (to resolve a step's names)</span> : null}
                </p>
                <details>
                  <summary>What it found</summary>
                  <Json value={read.result ?? null} label={`Result of ${read.tool}`} />
                </details>
              </li>
            ))}
          </ol>
        </Entry>
      ) : null}
      {note ? (
        <Entry title="Internal note" at={note.deliveredAt ?? note.createdAt} sortAt={note.createdAt} tone={note.status === 'failed' ? 'bad' : 'info'}>
          <p className="muted small">
            On ticket {payload(note).ticketRef ?? request.externalRef} · {note.status === 'delivered' ? 'posted' : humanize(note.status)}
          </p>
          <div className="note-text">{payload(note).text}</div>
        </Entry>
      ) : null}
      {plan ? (
        <Entry title={`Plan: ${humanize(plan.outcome)} (${plan.operatingMode === 'plan' ? 'Plan Mode' : 'Execute Mode'})`} at={plan.createdAt}>
          <p>{plan.summary}</p>
          <PlannerFacts plan={plan} />
          <p className="small">
            Frozen plan, SHA-256 <code className="hash wrap-anywhere">{plan.hash}</code>
          </p>
          {Array.isArray(reasons) && reasons.length ? (
            <ul>
              {reasons.map((reason, index) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: the planner's reasons, in order
                <li key={index}>{typeof reason === 'string' ? reason : JSON.stringify(reason)}</li>
              ))}
            </ul>
          ) : null}
          {plan.steps.length ? (
            <ol className="call-list">
              {plan.steps.map((step, index) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: a plan's steps are numbered by position
                <li key={index} className="call">
                  <p>
                    Step {index + 1}: <code className="tool-name">{step.tool}</code> <PolicyBadge policy={policies[index]} />
                  </p>
                  {step.reason ? <p className="muted small">{step.reason}</p> : null}
                  <Args args={step.args} />
                </li>
              ))}
            </ol>
          ) : (
            <p className="muted">No step: nothing to change.</p>
          )}
          {plan.replyToEmployee ? (
            <p className="small">
              <strong>Reply planned to the employee:</strong> {plan.replyToEmployee}
            </p>
          ) : null}
        </Entry>
      ) : null}
      {approvals.map((approval) => (
        <Entry
          key={approval.id}
          title={`${approval.kind === 'manager' ? "Manager's" : "Technician's"} approval: ${approval.status}`}
          at={approval.decidedAt ?? approval.createdAt}
          sortAt={approval.decidedAt ?? approval.createdAt}
          tone={approval.status === 'approved' ? 'ok' : approval.status === 'pending' ? 'warn' : 'bad'}
        >
          <p>
            {approval.status === 'pending' ? (
              <>
                Waiting for {approval.approverName ?? approval.approverEmail ?? 'a technician'} · <TimeLeft until={approval.expiresAt} />
                {approval.kind === 'technician' && props.approver ? (
                  <>
                    {' '}
                    ·{' '}
                    <Link to="/approvals/$approvalId" params={{ approvalId: approval.id }}>
                      Approve or deny
                    </Link>
                  </>
                ) : null}
              </>
            ) : (
              <>
                {humanize(approval.status)} by {approval.decidedBy ?? approval.approverEmail ?? 'deskhand'} {approval.decidedAt ? `at ${formatTime(approval.decidedAt)}` : ''}
              </>
            )}
          </p>
          {approval.comment ? <blockquote className="message-text">{approval.comment}</blockquote> : null}
          <p className="muted small">
            For plan <code className="hash">{approval.planHash.slice(0, 12)}…</code>
          </p>
        </Entry>
      ))}
      {steps.map((step) => (
        <Entry key={step.idempotencyKey} title={`Step ${step.stepIndex + 1} executed: ${step.tool}`} at={step.finishedAt ?? step.startedAt} sortAt={step.startedAt} tone={step.status === 'succeeded' ? 'ok' : step.status === 'failed' ? 'bad' : 'warn'}>
          <p>
            <span className={`badge badge-${step.status === 'succeeded' ? 'ok' : step.status === 'failed' ? 'bad' : 'info'}`}>{step.status}</span> · {step.attempts} attempt{step.attempts === 1 ? '' : 's'}
            {step.summary ? ` · ${step.summary}` : ''}
          </p>
          {step.error ? <p className="field-error">{step.error}</p> : null}
          {step.result !== null ? (
            <details>
              <summary>Result</summary>
              <Json value={step.result} label={`Result of step ${step.stepIndex + 1}`} />
            </details>
          ) : null}
          {step.secretRevealedAt ? <p className="muted small">The temporary password was shown to its technician at {formatTime(step.secretRevealedAt)}.</p> : step.secretAvailable ? <p className="muted small">A temporary password waits for the technician who approved.</p> : null}
        </Entry>
      ))}
      {messages
        .filter((m) => m !== note)
        .map((message) => {
          const p = payload(message);
          const title = p.purpose === 'reply' ? 'Reply to the employee' : sentence(p.purpose ?? message.kind);
          return (
            <Entry key={message.idempotencyKey} title={title} at={message.deliveredAt ?? message.createdAt} sortAt={message.createdAt} tone={message.status === 'failed' ? 'bad' : message.status === 'pending' ? 'warn' : 'ok'}>
              <p className="muted small">
                {message.kind}
                {p.visibility ? ` · ${p.visibility}` : ''}
                {p.to ? ` · to ${p.to}` : ''} · {message.status === 'delivered' ? 'delivered' : humanize(message.status)}
                {message.attempts > 1 ? ` after ${message.attempts} attempts` : ''}
              </p>
              {p.text ? <div className="note-text">{p.text}</div> : p.subject ? <p>{p.subject}</p> : null}
              {message.lastError ? <p className="field-error">{message.lastError}</p> : null}
            </Entry>
          );
        })}
      {failed ? (
        <Entry title={request.state === 'escalated' ? 'Escalated to a technician' : request.state === 'failed' ? 'Failed' : 'Last error'} at={request.updatedAt} tone="bad">
          {request.lastError ? <p className="field-error">{request.lastError}</p> : <p>The agent handed this request to a technician.</p>}
          {plan?.rejectedProblems ? <Json value={plan.rejectedProblems} label="Problems the plan was rejected for" /> : null}
        </Entry>
      ) : null}
    </Chronological>
  );
}

function PolicyBadge(props: { policy: StepPolicy | undefined }) {
  const policy = props.policy?.policy;
  if (!policy) return null;
  const tone = policy === 'auto' ? 'ok' : policy === 'approval_needed' ? 'warn' : 'bad';
  return (
    <span className={`badge badge-${tone}`}>
      policy: {humanize(policy)}
      {props.policy?.requireManagerApproval ? ' + manager' : ''}
    </span>
  );
}

/** What billing reads: what happened and when, never why. */
function BillingStory(props: { story: RequestStoryForBilling }) {
  const { request, plan, approvals, steps, messages } = props.story;
  const policies = (Array.isArray(plan?.stepPolicies) ? plan.stepPolicies : []) as StepPolicy[];
  return (
    <>
      <p className="note note-info">This is what happened and when. The details (what the agent read, its reasons, notes and replies) are for technicians.</p>
      <ol className="timeline" aria-label="The request's story">
        <Entry title="Intake" at={request.createdAt}>
          <p>
            {CHANNEL_LABEL[request.channel] ?? request.channel} {request.externalRef} from {request.requesterEmail}
          </p>
        </Entry>
        {plan ? (
          <Entry title={`Plan: ${humanize(plan.outcome)}`} at={plan.createdAt}>
            <p className="small">
              SHA-256 <code className="hash wrap-anywhere">{plan.hash}</code>
            </p>
            <ol className="call-list">
              {plan.steps.map((step, index) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: a plan's steps are numbered by position
                <li key={index} className="call">
                  <code className="tool-name">{step.tool}</code> <PolicyBadge policy={policies[index]} />
                  <Args args={step.args} />
                </li>
              ))}
            </ol>
          </Entry>
        ) : null}
        {approvals.map((approval) => (
          <Entry key={approval.id} title={`${approval.kind === 'manager' ? "Manager's" : "Technician's"} approval: ${approval.status}`} at={approval.decidedAt ?? approval.createdAt}>
            <p>{approval.decidedBy ? `By ${approval.decidedBy}` : approval.status === 'pending' ? <TimeLeft until={approval.expiresAt} /> : null}</p>
          </Entry>
        ))}
        {steps.map((step) => (
          <Entry key={step.stepIndex} title={`Step ${step.stepIndex + 1}: ${step.tool}`} at={step.finishedAt ?? step.startedAt}>
            <p>
              {step.status} · {step.attempts} attempt{step.attempts === 1 ? '' : 's'}
            </p>
          </Entry>
        ))}
        {messages.map((message, index) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: billing's messages carry no key
          <Entry key={index} title={`Message: ${message.kind}`} at={message.deliveredAt ?? message.createdAt}>
            <p>{message.status}</p>
          </Entry>
        ))}
      </ol>
    </>
  );
}
