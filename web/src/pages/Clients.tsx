import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import type { ClientCreateBody, ClientDetail, ClientList, ClientOperatingMode, IntegrationList } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { can, useMe } from '../auth.ts';
import { EmptyState, ErrorNote, Field, Loading, ModeBadge, PageHeader } from '../components/ui.tsx';

/** The MSP's clients: each one's effective mode, open requests and pending approvals. */
export function ClientsPage() {
  const me = useMe();
  const admin = can.configure(me.data?.user.role);
  const clients = useQuery({ queryKey: ['clients'], queryFn: () => api.get<ClientList>('/api/clients') });
  const integrations = useQuery({ queryKey: ['integrations', 'msp'], queryFn: () => api.get<IntegrationList>('/api/integrations'), enabled: admin });
  const [filter, setFilter] = useState('');
  const [adding, setAdding] = useState(false);
  const psa = integrations.data?.integrations.find((i) => i.scope === 'msp' && i.provides.includes('ticket'));

  const actions = admin ? (
    <>
      {psa ? (
        <Link className="button" to="/integrations/$integrationId" params={{ integrationId: psa.id }} hash="import">
          Import from PSA
        </Link>
      ) : null}
      <button type="button" className="button button-primary" aria-expanded={adding} onClick={() => setAdding((open) => !open)}>
        Add client
      </button>
    </>
  ) : null;

  return (
    <div>
      <PageHeader title="Clients" subtitle="Each client's Operating Mode, open requests and approvals waiting." actions={actions} />
      {adding ? <AddClient mspDefault={clients.data?.mspDefaultOperatingMode} onDone={() => setAdding(false)} /> : null}
      {clients.isPending ? (
        <Loading what="the clients" />
      ) : clients.error ? (
        <ErrorNote error={clients.error} title="The clients could not load" />
      ) : clients.data.clients.length === 0 ? (
        <EmptyState title="No clients yet">
          <p>
            Clients usually come from your PSA: connect it under{' '}
            <Link to="/msp/integrations">MSP → Integrations</Link>, then use <em>Import clients</em> on its page and pick the companies deskhand serves.
            {admin ? ' A client without a PSA company can be added by hand with Add client.' : ' An admin does this.'}
          </p>
        </EmptyState>
      ) : (
        <ClientTable list={clients.data} filter={filter} setFilter={setFilter} />
      )}
    </div>
  );
}

function ClientTable(props: { list: ClientList; filter: string; setFilter: (value: string) => void }) {
  const needle = props.filter.trim().toLowerCase();
  const shown = needle ? props.list.clients.filter((c) => c.name.toLowerCase().includes(needle) || c.domain.toLowerCase().includes(needle)) : props.list.clients;
  return (
    <>
      <div className="toolbar">
        <label htmlFor="client-filter" className="visually-hidden">
          Filter clients
        </label>
        <input id="client-filter" type="search" placeholder="Filter by name or domain" value={props.filter} onChange={(event) => props.setFilter(event.target.value)} />
        <span className="muted" aria-live="polite">
          {shown.length} of {props.list.clients.length}
        </span>
      </div>
      <div className="table-wrap">
        <table className="table clients-table">
          <caption className="visually-hidden">Clients</caption>
          <thead>
            <tr>
              <th scope="col">Client</th>
              <th scope="col">Operating Mode</th>
              <th scope="col" className="num">
                Open requests
              </th>
              <th scope="col" className="num">
                Pending approvals
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.length === 0 ? (
              <tr>
                <td colSpan={4} className="muted">
                  No client matches “{props.filter}”.
                </td>
              </tr>
            ) : (
              shown.map((client) => (
                <tr key={client.id}>
                  <td>
                    <Link to="/clients/$clientId" params={{ clientId: client.id }} className="row-link">
                      {client.name}
                    </Link>
                    {client.domain ? <div className="muted small">{client.domain}</div> : null}
                  </td>
                  <td>
                    <ModeBadge mode={client.effectiveOperatingMode} inherited={client.inherited} />
                  </td>
                  <td className="num">{client.openRequests}</td>
                  <td className="num">{client.pendingApprovals > 0 ? <strong>{client.pendingApprovals}</strong> : client.pendingApprovals}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}

function AddClient(props: { mspDefault: 'plan' | 'execute' | undefined; onDone: () => void }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [domain, setDomain] = useState('');
  const [mode, setMode] = useState<ClientOperatingMode>('inherit');
  const create = useMutation({
    mutationFn: (body: ClientCreateBody) => api.post<ClientDetail>('/api/clients', body),
    onSuccess: async (client) => {
      await queryClient.invalidateQueries({ queryKey: ['clients'] });
      props.onDone();
      await navigate({ to: '/clients/$clientId', params: { clientId: client.id } });
    },
  });
  return (
    <form
      className="card add-client"
      aria-labelledby="add-client-heading"
      onSubmit={(event) => {
        event.preventDefault();
        create.mutate({ name, domain, operatingMode: mode });
      }}
    >
      <h2 id="add-client-heading">Add a client by hand</h2>
      <p className="hint">For a client without a company in your PSA; otherwise import it from the PSA so its tickets are linked.</p>
      <div className="grid-2">
        <Field id="new-client-name" label="Name">
          <input id="new-client-name" type="text" required value={name} onChange={(event) => setName(event.target.value)} />
        </Field>
        <Field id="new-client-domain" label="Domain" hint="Its email domain, e.g. contoso.com (optional).">
          <input id="new-client-domain" type="text" value={domain} onChange={(event) => setDomain(event.target.value)} />
        </Field>
      </div>
      <fieldset>
        <legend>Operating Mode</legend>
        <div className="radio-row">
          {(['inherit', 'plan', 'execute'] as const).map((value) => (
            <label key={value}>
              <input type="radio" name="new-client-mode" value={value} checked={mode === value} onChange={() => setMode(value)} />
              {value === 'inherit' ? `Inherit the MSP's default${props.mspDefault ? ` (${props.mspDefault === 'plan' ? 'Plan' : 'Execute'})` : ''}` : value === 'plan' ? 'Plan' : 'Execute'}
            </label>
          ))}
        </div>
      </fieldset>
      <ErrorNote error={create.error} title="The client was not added" />
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          {create.isPending ? 'Adding…' : 'Add client'}
        </button>
        <button type="button" className="button" onClick={props.onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
