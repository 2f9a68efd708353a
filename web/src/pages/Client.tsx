import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, Outlet, useParams } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import type { ClientDetail, ClientOperatingMode, ClientPatchBody, IntegrationList, RequestList, ToolCallList } from '../../../src/api/contract.ts';
import { ApiError, api } from '../api.ts';
import { can, useMe } from '../auth.ts';
import { queryKeys } from '../live.ts';
import { ClientLinks, ConnectOwn } from '../components/client-links.tsx';
import { PlannerPromptCard } from '../components/planner-prompt.tsx';
import { EmptyState, ErrorNote, Field, formatTime, HealthBadge, Loading, ModeBadge, NotFound, PageHeader, SuccessNote, Tabs } from '../components/ui.tsx';

/** A client's page: its header and tabs (Overview, Integrations, Activity); each tab is a URL. */

function useClientId(): string {
  return (useParams({ strict: false }) as { clientId: string }).clientId;
}

export function useClient(clientId: string) {
  return useQuery({ queryKey: ['client', clientId], queryFn: () => api.get<ClientDetail>(`/api/clients/${encodeURIComponent(clientId)}`) });
}

export function ClientPage() {
  const clientId = useClientId();
  const client = useClient(clientId);
  const me = useMe();
  if (client.isPending) return <Loading what="the client" />;
  if (client.error instanceof ApiError && (client.error.status === 404 || client.error.status === 400)) return <NotFound />;
  if (client.error) return <ErrorNote error={client.error} title="The client could not load" />;
  const data = client.data;
  return (
    <div>
      <PageHeader
        title={data.name}
        back={{ to: '/clients', label: 'Clients' }}
        subtitle={data.domain || undefined}
        actions={<ModeBadge mode={data.effectiveOperatingMode} inherited={data.inherited} />}
      />
      <Tabs
        label="Client"
        tabs={[
          { to: '/clients/$clientId', label: 'Overview', params: { clientId } },
          { to: '/clients/$clientId/integrations', label: 'Integrations', params: { clientId } },
          { to: '/clients/$clientId/activity', label: 'Activity', params: { clientId } },
          ...(can.readDetails(me.data?.user.role) ? [{ to: '/clients/$clientId/planner', label: 'Planner', params: { clientId } }] : []),
        ]}
      />
      <Outlet />
    </div>
  );
}

const MODE_LABEL = { plan: 'Plan', execute: 'Execute' } as const;

export function ClientOverviewTab() {
  const clientId = useClientId();
  const client = useClient(clientId);
  const me = useMe();
  const admin = can.configure(me.data?.user.role);
  if (!client.data) return null;
  const data = client.data;
  return (
    <div className="grid-2 overview-grid">
      <OperatingModeCard client={data} admin={admin} />
      <ClientDetailsCard client={data} admin={admin} />
      {data.effectiveOperatingMode === 'plan' && can.readDetails(me.data?.user.role) ? (
        <p className="note note-info plan-review-link">
          In Plan Mode the agent only writes internal notes. <Link to="/clients/$clientId/plan-review" params={{ clientId }}>Review its Plan Mode notes</Link> to decide on switching to Execute Mode.
        </p>
      ) : null}
    </div>
  );
}

function OperatingModeCard(props: { client: ClientDetail; admin: boolean }) {
  const { client } = props;
  const queryClient = useQueryClient();
  const [mode, setMode] = useState<ClientOperatingMode>(client.operatingMode);
  useEffect(() => setMode(client.operatingMode), [client.operatingMode]);
  const save = useMutation({
    mutationFn: (body: ClientPatchBody) => api.patch<ClientDetail>(`/api/clients/${encodeURIComponent(client.id)}`, body),
    onSuccess: (answer) => {
      queryClient.setQueryData(['client', client.id], answer);
      void queryClient.invalidateQueries({ queryKey: ['clients'] });
    },
  });
  const options: { value: ClientOperatingMode; label: string; hint: string }[] = [
    { value: 'plan', label: 'Plan', hint: 'The agent works out what it would do and writes it as an internal note on the ticket only; a technician does the work.' },
    { value: 'execute', label: 'Execute', hint: 'The agent acts within the tool policies: it calls the tools set to auto, and the others once approved.' },
    { value: 'inherit', label: `Inherit — the MSP's default: ${MODE_LABEL[client.mspDefaultOperatingMode]}`, hint: "Follows the MSP's default Operating Mode, now and when it changes." },
  ];
  return (
    <section className="card" aria-labelledby="mode-heading">
      <h2 id="mode-heading">Operating Mode</h2>
      <p className="hint">
        Now: <ModeBadge mode={client.effectiveOperatingMode} inherited={client.inherited} />
      </p>
      {props.admin ? (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            save.mutate({ operatingMode: mode });
          }}
        >
          <fieldset className="client-mode-options">
            <legend className="visually-hidden">Operating Mode of {client.name}</legend>
            {options.map((option) => (
              <label key={option.value} className="client-mode-option">
                <input type="radio" name="operating-mode" value={option.value} checked={mode === option.value} onChange={() => setMode(option.value)} aria-describedby={`mode-${option.value}-hint`} />
                <span>
                  <strong>{option.label}</strong>
                  <span className="hint" id={`mode-${option.value}-hint`}>
                    {option.hint}
                  </span>
                </span>
              </label>
            ))}
          </fieldset>
          <ErrorNote error={save.error} title="Not saved" />
          {save.isSuccess && mode === client.operatingMode ? <SuccessNote>Saved: new requests of {client.name} run in {MODE_LABEL[client.effectiveOperatingMode]} Mode.</SuccessNote> : null}
          <div className="form-actions">
            <button type="submit" className="button button-primary" disabled={save.isPending || mode === client.operatingMode}>
              {save.isPending ? 'Saving…' : 'Save Operating Mode'}
            </button>
          </div>
        </form>
      ) : (
        <p>
          {client.operatingMode === 'inherit'
            ? `Inherits the MSP's default (${MODE_LABEL[client.mspDefaultOperatingMode]}).`
            : `${MODE_LABEL[client.operatingMode]} Mode, set for this client.`}{' '}
          <span className="muted">Only an admin changes it.</span>
        </p>
      )}
    </section>
  );
}

function ClientDetailsCard(props: { client: ClientDetail; admin: boolean }) {
  const { client } = props;
  const queryClient = useQueryClient();
  const [name, setName] = useState(client.name);
  const [domain, setDomain] = useState(client.domain);
  useEffect(() => {
    setName(client.name);
    setDomain(client.domain);
  }, [client.name, client.domain]);
  const save = useMutation({
    mutationFn: (body: ClientPatchBody) => api.patch<ClientDetail>(`/api/clients/${encodeURIComponent(client.id)}`, body),
    onSuccess: (answer) => {
      queryClient.setQueryData(['client', client.id], answer);
      void queryClient.invalidateQueries({ queryKey: ['clients'] });
    },
  });
  if (!props.admin) {
    return (
      <section className="card" aria-labelledby="details-heading">
        <h2 id="details-heading">Details</h2>
        <dl className="details-list">
          <dt>Name</dt>
          <dd>{client.name}</dd>
          <dt>Domain</dt>
          <dd>{client.domain || '—'}</dd>
          <dt>Open requests</dt>
          <dd>{client.openRequests}</dd>
          <dt>Pending approvals</dt>
          <dd>{client.pendingApprovals}</dd>
        </dl>
      </section>
    );
  }
  const changed = name !== client.name || domain !== client.domain;
  return (
    <section className="card" aria-labelledby="details-heading">
      <h2 id="details-heading">Details</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate({ name, domain });
        }}
      >
        <Field id="client-name" label="Name">
          <input id="client-name" type="text" required value={name} onChange={(event) => setName(event.target.value)} />
        </Field>
        <Field id="client-domain" label="Domain" hint="The client's email domain: requests from it are recognised as this client's.">
          <input id="client-domain" type="text" value={domain} onChange={(event) => setDomain(event.target.value)} />
        </Field>
        <p className="muted">
          {client.openRequests} open request{client.openRequests === 1 ? '' : 's'} · {client.pendingApprovals} pending approval{client.pendingApprovals === 1 ? '' : 's'}
        </p>
        <ErrorNote error={save.error} title="Not saved" />
        <div className="form-actions">
          <button type="submit" className="button" disabled={!changed || save.isPending}>
            Save details
          </button>
        </div>
      </form>
    </section>
  );
}

export function ClientIntegrationsTab() {
  const clientId = useClientId();
  const client = useClient(clientId);
  const me = useMe();
  const admin = can.configure(me.data?.user.role);
  const integrations = useQuery({
    queryKey: ['integrations', 'client', clientId],
    queryFn: () => api.get<IntegrationList>(`/api/integrations?client=${encodeURIComponent(clientId)}`),
  });
  if (!client.data) return null;
  return (
    <div>
      <h2>Integrations</h2>
      <p className="hint">The systems deskhand uses for {client.data.name}: the MSP's, linked to this client, and the client's own. Open one for its tool policies.</p>
      {integrations.isPending ? (
        <Loading what="the integrations" />
      ) : integrations.error ? (
        <ErrorNote error={integrations.error} title="The integrations could not load" />
      ) : integrations.data.integrations.length === 0 ? (
        <EmptyState title="No integration yet">
          <p>
            Connect the MSP's systems under <Link to="/msp/integrations">MSP → Integrations</Link>, then link this client below.
          </p>
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">Integrations of {client.data.name}</caption>
            <thead>
              <tr>
                <th scope="col">Integration</th>
                <th scope="col">System</th>
                <th scope="col">Whose</th>
                <th scope="col">Health</th>
              </tr>
            </thead>
            <tbody>
              {integrations.data.integrations.map((integration) => (
                <tr key={integration.id}>
                  <td>
                    <Link to="/clients/$clientId/integrations/$integrationId" params={{ clientId, integrationId: integration.id }}>
                      {integration.name}
                    </Link>
                    {integration.enabled ? null : <span className="muted"> (disabled)</span>}
                  </td>
                  <td>{integration.label}</td>
                  <td>{integration.scope === 'msp' ? "The MSP's" : "The client's own"}</td>
                  <td>
                    <HealthBadge status={integration.health.status} />
                    {integration.health.status === 'unhealthy' && integration.health.lastError ? <div className="muted small truncate" title={integration.health.lastError}>{integration.health.lastError}</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ClientLinks clientId={clientId} admin={admin} />
      {admin ? <ConnectOwn clientId={clientId} clientName={client.data.name} /> : null}
    </div>
  );
}

export function ClientActivityTab() {
  const clientId = useClientId();
  const me = useMe();
  const client = useClient(clientId);
  const technician = can.readDetails(me.data?.user.role);
  const calls = useQuery({
    queryKey: [...queryKeys.client(clientId), 'tool-calls'],
    queryFn: () => api.get<ToolCallList>(`/api/clients/${encodeURIComponent(clientId)}/tool-calls`),
    enabled: technician,
  });
  const requests = useQuery({
    queryKey: queryKeys.requests({ client: clientId, limit: 200 }),
    queryFn: () => api.get<RequestList>(`/api/requests?client=${encodeURIComponent(clientId)}&limit=200`),
    enabled: me.data !== undefined && !technician,
  });
  if (!me.data) return null;
  if (!technician) {
    // Billing: which requests there were and how they ended; the tool calls are for technicians.
    return (
      <div>
        <h2>Activity</h2>
        <p className="hint">The tool calls (parameters and results) are for technicians; here are the client's requests.</p>
        {requests.isPending ? (
          <Loading what="the requests" />
        ) : requests.error ? (
          <ErrorNote error={requests.error} title="The requests could not load" />
        ) : requests.data.requests.length === 0 ? (
          <EmptyState title="No requests yet" />
        ) : (
          <ul className="plain-list">
            {requests.data.requests.map((request) => (
              <li key={request.id}>
                <Link to="/requests/$requestId" params={{ requestId: request.id }}>
                  {request.subject || '(no subject)'}
                </Link>{' '}
                <span className="muted small">
                  {formatTime(request.createdAt)} · {request.state.replaceAll('_', ' ')}
                </span>
              </li>
            ))}
          </ul>
        )}
      </div>
    );
  }
  return (
    <div>
      <div className="card-title-row">
        <h2>Activity: tool calls</h2>
        {client.data?.effectiveOperatingMode === 'plan' ? (
          <Link to="/clients/$clientId/plan-review" params={{ clientId }} className="button button-small">
            Plan Mode review
          </Link>
        ) : null}
      </div>
      <p className="hint">
        Every tool the agent called for this client: what it read to diagnose and each step it executed, with the request that triggered it and its approvals. All requests are under{' '}
        <Link to="/requests" search={{ client: client.data?.slug } as never}>
          Requests
        </Link>
        .
      </p>
      {calls.isPending ? (
        <Loading what="the tool calls" />
      ) : calls.error ? (
        <ErrorNote error={calls.error} title="The tool calls could not load" />
      ) : calls.data.toolCalls.length === 0 ? (
        <EmptyState title="No tool call yet">
          <p>A ticket from this client's users in the PSA becomes a request, and the agent's reads and steps are listed here.</p>
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table activity-table">
            <caption className="visually-hidden">Tool calls of {client.data?.name}</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Tool</th>
                <th scope="col">Parameters</th>
                <th scope="col">Result</th>
                <th scope="col">Status</th>
                <th scope="col">Triggered by</th>
                <th scope="col">Approvals</th>
              </tr>
            </thead>
            <tbody>
              {calls.data.toolCalls.map((call, index) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: a call has no id of its own (a read is part of its diagnosis)
                <tr key={index}>
                  <td className="nowrap">{formatTime(call.at)}</td>
                  <td>
                    <code className="tool-name">{call.tool}</code>
                    <div className="muted small">{call.kind === 'read' ? 'read (diagnosis)' : 'step'}</div>
                  </td>
                  <td className="wrap-anywhere params-cell">
                    {Object.entries(call.parameters).map(([key, value]) => (
                      <div key={key}>
                        <span className="muted">{key}:</span> {typeof value === 'string' ? value : JSON.stringify(value)}
                      </div>
                    ))}
                  </td>
                  <td className="result-cell">
                    {call.error ? <div className="field-error">{call.error}</div> : null}
                    {call.result === null || call.result === undefined ? (
                      <span className="muted">—</span>
                    ) : (
                      <details>
                        <summary>Show</summary>
                        <pre className="json">{JSON.stringify(call.result, null, 2)}</pre>
                      </details>
                    )}
                  </td>
                  <td>
                    <span className={`badge badge-${call.status === 'succeeded' ? 'ok' : call.status === 'failed' ? 'bad' : 'info'}`}>{call.status}</span>
                    {call.attempts > 1 ? <div className="muted small">{call.attempts} attempts</div> : null}
                  </td>
                  <td>
                    <Link to="/requests/$requestId" params={{ requestId: call.request.id }}>
                      {call.request.subject || '(no subject)'}
                    </Link>
                    <div className="muted small wrap-anywhere">{call.request.requesterEmail}</div>
                  </td>
                  <td>
                    {call.approvals.length === 0 ? (
                      <span className="muted">none</span>
                    ) : (
                      call.approvals.map((approval) => (
                        <div key={`${approval.kind}-${approval.decidedAt ?? approval.status}`} className="small">
                          {approval.kind}: {approval.status}
                          {approval.decidedBy ? ` by ${approval.decidedBy}` : ''}
                          {approval.decidedAt ? `, ${formatTime(approval.decidedAt)}` : ''}
                        </div>
                      ))
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** Planner: the client's own prompt to a language-model planner, read after the MSP's (admins edit, technicians read). */
export function ClientPlannerTab() {
  const clientId = useClientId();
  const client = useClient(clientId);
  const me = useMe();
  const role = me.data?.user.role;
  if (!client.data || !me.data) return null;
  if (!can.readDetails(role)) return <p className="note note-info">The planner's prompts are for admins and technicians.</p>;
  return (
    <>
      <PlannerPromptCard path={`/api/clients/${encodeURIComponent(client.data.id)}/prompt`} whose="client" name={client.data.name} admin={can.configure(role)} />
      <p className="hint planner-more">
        The MSP's own prompt is on <Link to="/msp/planner">MSP → Planner</Link>; this client's workflows are under <Link to="/workflows">Workflows</Link>.
      </p>
    </>
  );
}
