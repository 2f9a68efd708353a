import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import type { Workflow, WorkflowList, WorkflowMatchBody, WorkflowMatchList, WorkflowPatchBody, WorkflowStatus } from '../../../src/api/contract.ts';
import { ApiError, api } from '../api.ts';
import { can, useMe } from '../auth.ts';
import { Badge, EmptyState, ErrorNote, Field, formatTime, Loading, NotFound, PageHeader } from '../components/ui.tsx';
import { STATUS_LABEL, useClients, WorkflowForm, workflowsKey } from '../components/workflow-form.tsx';

/**
 * Workflows (issue 14): what the MSP wrote down once so that the planner handles a kind of request
 * its way. The list with its filters and a "Try it" box (which workflows a request would bring to
 * the planner), a workflow's own page to change it, and a page to write a new one. Admins change
 * them; technicians read them; billing is not shown them (the API refuses it too).
 */

type StatusFilter = WorkflowStatus | 'current' | 'all';
const STATUS_FILTERS: { value: StatusFilter; label: string }[] = [
  { value: 'current', label: 'Active and draft' },
  { value: 'active', label: 'Active' },
  { value: 'draft', label: 'Draft' },
  { value: 'archived', label: 'Archived' },
  { value: 'all', label: 'All' },
];

const STATUS_TONE: Record<WorkflowStatus, 'ok' | 'neutral' | 'warn'> = { active: 'ok', draft: 'neutral', archived: 'warn' };

export function StatusBadge(props: { status: WorkflowStatus }) {
  return <Badge tone={STATUS_TONE[props.status]}>{STATUS_LABEL[props.status]}</Badge>;
}

function scopeLabel(workflow: Workflow): string {
  return workflow.client ? workflow.client.name : 'MSP-wide';
}

/** `?status=…&client=…` of GET /api/workflows; `current` is the API's default (active and draft). */
function listPath(status: StatusFilter, client: string): string {
  const query = new URLSearchParams();
  if (status !== 'current') query.set('status', status);
  if (client !== '') query.set('client', client);
  const text = query.toString();
  return text ? `/api/workflows?${text}` : '/api/workflows';
}

function BillingNotice() {
  return <p className="note note-info">Workflows are for admins and technicians.</p>;
}

export function WorkflowsPage() {
  const me = useMe();
  const role = me.data?.user.role;
  const admin = can.configure(role);
  const [status, setStatus] = useState<StatusFilter>('current');
  const [client, setClient] = useState('');
  const clients = useClients();
  const reader = can.readDetails(role);
  const workflows = useQuery({ queryKey: [...workflowsKey, { status, client }], queryFn: () => api.get<WorkflowList>(listPath(status, client)), enabled: reader });
  return (
    <div>
      <PageHeader
        title="Workflows"
        subtitle="How your MSP wants a kind of request handled: a trigger sentence, instructions, and optional steps. The planner is given the ones whose trigger matches a request."
        actions={
          admin ? (
            <Link to="/workflows/new" className="button button-primary">
              New workflow
            </Link>
          ) : null
        }
      />
      {me.data && !reader ? (
        <BillingNotice />
      ) : (
        <>
          <form className="filter-bar" aria-label="Filter the workflows" onSubmit={(event) => event.preventDefault()}>
            <Field id="workflow-filter-status" label="Status">
              <select id="workflow-filter-status" value={status} onChange={(event) => setStatus(event.target.value as StatusFilter)}>
                {STATUS_FILTERS.map((filter) => (
                  <option key={filter.value} value={filter.value}>
                    {filter.label}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="workflow-filter-client" label="Scope">
              <select id="workflow-filter-client" value={client} onChange={(event) => setClient(event.target.value)}>
                <option value="">Every scope</option>
                <option value="msp">MSP-wide only</option>
                {(clients.data?.clients ?? []).map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </Field>
          </form>
          {workflows.isPending ? (
            <Loading what="the workflows" />
          ) : workflows.error ? (
            <ErrorNote error={workflows.error} title="The workflows could not load" />
          ) : workflows.data.workflows.length === 0 ? (
            <EmptyState title="No workflow here">{admin ? <p>Write one with New workflow: a trigger sentence and what to do.</p> : <p>An admin writes them.</p>}</EmptyState>
          ) : (
            <WorkflowTable workflows={workflows.data.workflows} admin={admin} />
          )}
          <TryIt />
        </>
      )}
    </div>
  );
}

function WorkflowTable(props: { workflows: Workflow[]; admin: boolean }) {
  return (
    <div className="table-wrap">
      <table className="table workflows-table">
        <caption className="visually-hidden">Workflows</caption>
        <thead>
          <tr>
            <th scope="col">Workflow</th>
            <th scope="col">Scope</th>
            <th scope="col">Status</th>
            <th scope="col">Trigger</th>
            <th scope="col" className="num">
              Steps
            </th>
            {props.admin ? (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {props.workflows.map((workflow) => (
            <tr key={workflow.id}>
              <td>
                <Link to="/workflows/$workflowId" params={{ workflowId: workflow.id }}>
                  {workflow.name}
                </Link>
              </td>
              <td>{scopeLabel(workflow)}</td>
              <td>
                <StatusBadge status={workflow.status} />
              </td>
              <td className="wrap-anywhere">{workflow.trigger}</td>
              <td className="num">{workflow.steps.length}</td>
              {props.admin ? (
                <td>
                  <ArchiveButton workflow={workflow} />
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Archive (no longer used, kept) or restore as a draft: a workflow is never deleted, since stories name it. */
function ArchiveButton(props: { workflow: Workflow }) {
  const { workflow } = props;
  const queryClient = useQueryClient();
  const archived = workflow.status === 'archived';
  const change = useMutation({
    mutationFn: (body: WorkflowPatchBody) => api.patch<Workflow>(`/api/workflows/${encodeURIComponent(workflow.id)}`, body),
    onSuccess: async (saved) => {
      queryClient.setQueryData(['workflow', saved.id], saved);
      await queryClient.invalidateQueries({ queryKey: workflowsKey });
    },
  });
  return (
    <>
      <button type="button" className="button button-small" disabled={change.isPending} onClick={() => change.mutate({ status: archived ? 'draft' : 'archived' })}>
        {archived ? 'Restore' : 'Archive'}
        <span className="visually-hidden"> {workflow.name}</span>
      </button>
      <ErrorNote error={change.error} />
    </>
  );
}

/** Try it: the workflows the planner would be given for a request with this text, for a client or MSP-wide only. */
function TryIt() {
  const clients = useClients();
  const [text, setText] = useState('');
  const [client, setClient] = useState('');
  const match = useMutation({
    mutationFn: (body: WorkflowMatchBody) => api.post<WorkflowMatchList>('/api/workflows/match', body),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    match.mutate({ text, client: client === '' ? null : client });
  };
  return (
    <section className="card try-it" aria-labelledby="try-it-title">
      <h2 id="try-it-title">Try it</h2>
      <p className="hint">Type a request as an employee would write it: these are the active workflows the planner would be given, the client's own first.</p>
      <form onSubmit={submit} noValidate>
        <Field id="try-it-text" label="Request">
          <textarea id="try-it-text" maxLength={20000} value={text} onChange={(event) => setText(event.target.value)} />
        </Field>
        <Field id="try-it-client" label="Client">
          <select id="try-it-client" value={client} onChange={(event) => setClient(event.target.value)}>
            <option value="">No client (MSP-wide workflows only)</option>
            {(clients.data?.clients ?? []).map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </Field>
        <ErrorNote error={match.error} title="Could not try it" />
        <div className="form-actions">
          <button type="submit" className="button" disabled={text.trim() === '' || match.isPending}>
            {match.isPending ? 'Matching…' : 'Find matching workflows'}
          </button>
        </div>
      </form>
      <div aria-live="polite">
        {match.data ? (
          match.data.matches.length === 0 ? (
            <p className="muted">No workflow matches: the planner would work from its own rules.</p>
          ) : (
            <ol className="match-list" aria-label="Matching workflows">
              {match.data.matches.map((found) => (
                <li key={found.workflow.id}>
                  <Link to="/workflows/$workflowId" params={{ workflowId: found.workflow.id }}>
                    {found.workflow.name}
                  </Link>{' '}
                  <span className="muted small">
                    {scopeLabel(found.workflow)} · score {found.score} · matched words: {found.words.join(', ')}
                  </span>
                </li>
              ))}
            </ol>
          )
        ) : null}
      </div>
    </section>
  );
}

export function NewWorkflowPage() {
  const me = useMe();
  if (me.data && !can.configure(me.data.user.role)) {
    return (
      <div>
        <PageHeader title="New workflow" back={{ to: '/workflows', label: 'Workflows' }} />
        <p className="note note-info">Only an admin writes workflows.</p>
      </div>
    );
  }
  return (
    <div>
      <PageHeader title="New workflow" back={{ to: '/workflows', label: 'Workflows' }} />
      <WorkflowForm />
    </div>
  );
}

export function WorkflowPage() {
  const { workflowId } = useParams({ strict: false }) as { workflowId: string };
  const me = useMe();
  const reader = can.readDetails(me.data?.user.role);
  const workflow = useQuery({ queryKey: ['workflow', workflowId], queryFn: () => api.get<Workflow>(`/api/workflows/${encodeURIComponent(workflowId)}`), enabled: reader });
  if (me.data && !reader) {
    return (
      <div>
        <PageHeader title="Workflow" back={{ to: '/workflows', label: 'Workflows' }} />
        <BillingNotice />
      </div>
    );
  }
  if (workflow.isPending) return <Loading what="the workflow" />;
  if (workflow.error instanceof ApiError && (workflow.error.status === 404 || workflow.error.status === 400)) return <NotFound />;
  if (workflow.error) return <ErrorNote error={workflow.error} title="The workflow could not load" />;
  const data = workflow.data;
  return (
    <div>
      <PageHeader
        title={data.name}
        back={{ to: '/workflows', label: 'Workflows' }}
        subtitle={`${scopeLabel(data)} · last changed ${formatTime(data.updatedAt)} by ${data.updatedBy.replace(/^user:/, '')}`}
        actions={<StatusBadge status={data.status} />}
      />
      {can.configure(me.data?.user.role) ? <WorkflowForm key={data.id} workflow={data} /> : <WorkflowRead workflow={data} />}
    </div>
  );
}

function WorkflowRead(props: { workflow: Workflow }) {
  const { workflow } = props;
  return (
    <section className="card" aria-labelledby="workflow-read-title">
      <h2 id="workflow-read-title">What it says</h2>
      <dl className="details-list">
        <dt>Scope</dt>
        <dd>{scopeLabel(workflow)}</dd>
        <dt>Trigger</dt>
        <dd>{workflow.trigger}</dd>
        <dt>Instructions</dt>
        <dd className="note-text">{workflow.instructions || '—'}</dd>
      </dl>
      <h3>Steps</h3>
      {workflow.steps.length === 0 ? (
        <p className="muted">No step: the planner follows the instructions.</p>
      ) : (
        <ol className="call-list">
          {workflow.steps.map((step, index) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: steps are numbered by position
            <li key={index} className="call">
              <code className="tool-name">{step.tool}</code>{' '}
              {Object.entries(step.args).map(([name, value]) => (
                <span key={name} className="inline-args">
                  <span className="muted">{name}:</span> {value}{' '}
                </span>
              ))}
            </li>
          ))}
        </ol>
      )}
      <p className="hint">Only an admin changes workflows.</p>
    </section>
  );
}
