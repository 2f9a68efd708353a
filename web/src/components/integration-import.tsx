import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useRouterState } from '@tanstack/react-router';
import { useState } from 'react';
import type { CompanyList, ImportClientsBody, ImportClientsResult } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { EmptyState, ErrorNote, Loading } from './ui.tsx';

/**
 * A PSA's companies, to import as clients: the admin picks which (a company already linked to a
 * client says so and cannot be picked again); each import creates the client and links it.
 */
export function ImportClients(props: { integrationId: string }) {
  // "Import from PSA" on the clients page links here with #import: the companies are shown at once.
  const hash = useRouterState({ select: (state) => state.location.hash });
  const [open, setOpen] = useState(hash === 'import');
  return (
    <section className="card" id="import" aria-labelledby="import-heading">
      <div className="card-head">
        <h2 id="import-heading">Import clients</h2>
        {open ? null : (
          <button type="button" className="button" onClick={() => setOpen(true)}>
            Show the PSA's companies
          </button>
        )}
      </div>
      <p className="hint">Each company you import becomes a client, linked to its company in the PSA so its tickets reach deskhand.</p>
      {open ? <CompanyPicker integrationId={props.integrationId} /> : null}
    </section>
  );
}

function CompanyPicker(props: { integrationId: string }) {
  const queryClient = useQueryClient();
  const base = `/api/integrations/${encodeURIComponent(props.integrationId)}`;
  const companies = useQuery({ queryKey: ['companies', props.integrationId], queryFn: () => api.get<CompanyList>(`${base}/companies`) });
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [filter, setFilter] = useState('');
  const importing = useMutation({
    mutationFn: (body: ImportClientsBody) => api.post<ImportClientsResult>(`${base}/import-clients`, body),
    onSuccess: () => {
      setPicked(new Set());
      void queryClient.invalidateQueries({ queryKey: ['companies', props.integrationId] });
      void queryClient.invalidateQueries({ queryKey: ['clients'] });
    },
  });
  if (companies.isPending) return <Loading what="the PSA's companies" />;
  if (companies.error) return <ErrorNote error={companies.error} title="The PSA's companies could not load" />;
  const list = companies.data.companies;
  if (list.length === 0) return <EmptyState title="The PSA has no company">Add the client's company in the PSA, then come back.</EmptyState>;
  const needle = filter.trim().toLowerCase();
  const shown = needle ? list.filter((c) => c.name.toLowerCase().includes(needle) || c.externalId.toLowerCase().includes(needle)) : list;
  const result = importing.data;
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        importing.mutate({ companies: [...picked] });
      }}
    >
      {list.length > 8 ? (
        <div className="field filter-field">
          <label htmlFor="company-filter">Filter companies</label>
          <input id="company-filter" type="search" value={filter} onChange={(event) => setFilter(event.target.value)} />
        </div>
      ) : null}
      <div className="table-wrap">
        <table className="table">
          <caption className="visually-hidden">The PSA's companies</caption>
          <thead>
            <tr>
              <th scope="col">
                <span className="visually-hidden">Import</span>
              </th>
              <th scope="col">Company</th>
              <th scope="col">Identifier</th>
              <th scope="col">Client in deskhand</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((company) => {
              const id = `company-${company.externalId}`;
              return (
                <tr key={company.externalId}>
                  <td className="check-cell">
                    <input
                      id={id}
                      type="checkbox"
                      disabled={company.client !== null}
                      checked={company.client !== null || picked.has(company.externalId)}
                      aria-label={company.client ? `${company.name}: already imported` : `Import ${company.name}`}
                      onChange={(event) =>
                        setPicked((current) => {
                          const next = new Set(current);
                          if (event.target.checked) next.add(company.externalId);
                          else next.delete(company.externalId);
                          return next;
                        })
                      }
                    />
                  </td>
                  <td>
                    <label htmlFor={id}>{company.name}</label>
                  </td>
                  <td>
                    <code>{company.externalId}</code>
                  </td>
                  <td>
                    {company.client ? (
                      <Link to="/clients/$clientId" params={{ clientId: company.client.id }}>
                        {company.client.name}
                      </Link>
                    ) : (
                      <span className="muted">not imported</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <ErrorNote error={importing.error} title="Nothing imported" />
      {result ? (
        <div className="note note-ok" role="status">
          <strong>
            Imported {result.created.length} client{result.created.length === 1 ? '' : 's'}
            {result.skipped.length > 0 ? `, skipped ${result.skipped.length}` : ''}.
          </strong>
          <ul className="import-result">
            {result.created.map((row) => (
              <li key={`c-${row.externalId}`}>
                <Link to="/clients/$clientId" params={{ clientId: row.client.id }}>
                  {row.client.name}
                </Link>{' '}
                created
              </li>
            ))}
            {result.skipped.map((row) => (
              <li key={`s-${row.externalId}`}>
                {row.name}: skipped{row.reason ? ` (${row.reason})` : ''}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={picked.size === 0 || importing.isPending}>
          {importing.isPending ? 'Importing…' : `Import ${picked.size} selected`}
        </button>
      </div>
    </form>
  );
}
