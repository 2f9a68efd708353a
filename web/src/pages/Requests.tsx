import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useSearch } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import type { ClientList, RequestList, RequestRow } from '../../../src/api/contract.ts';
import { OUTCOMES, REQUEST_STATES } from '../../../src/core/lifecycle.ts';
import { api } from '../api.ts';
import { queryKeys } from '../live.ts';
import { EmptyState, ErrorNote, Loading, PageHeader, formatTime } from '../components/ui.tsx';

/**
 * The request queue: every request of the MSP, newest first, narrowed by the filters in the URL
 * (so a filtered list can be reloaded and shared), with the count per state and "Load more" paging
 * by the API's keyset cursor (rows never shift or repeat while new requests arrive).
 */

export interface RequestFilters {
  client?: string;
  channel?: string;
  state?: string;
  outcome?: string;
  /** Dates (YYYY-MM-DD, the user's day): from the start of `from` to the end of `to`. */
  from?: string;
  to?: string;
  q?: string;
}

const FILTER_KEYS = ['client', 'channel', 'state', 'outcome', 'from', 'to', 'q'] as const;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The route's search params: only known filters, only text. */
export function requestFiltersFromSearch(search: Record<string, unknown>): RequestFilters {
  const filters: RequestFilters = {};
  for (const key of FILTER_KEYS) {
    const value = search[key];
    if (typeof value !== 'string' || value.trim() === '') continue;
    if ((key === 'from' || key === 'to') && !DATE.test(value)) continue;
    filters[key] = value.trim();
  }
  return filters;
}

export const CHANNEL_LABEL: Record<string, string> = { psa: 'PSA ticket', voice: 'Voice call', slack: 'Slack', teams: 'Teams' };
export const humanize = (value: string | null | undefined): string => (value ? value.replaceAll('_', ' ') : '—');

/** A state as a badge: green when done, amber while it waits for someone, red when it went wrong. */
export function StateBadge(props: { state: string }) {
  const tone = props.state === 'replied' || props.state === 'planned' ? 'ok' : props.state === 'awaiting_approval' ? 'warn' : props.state === 'failed' || props.state === 'escalated' ? 'bad' : 'info';
  return <span className={`badge badge-${tone}`}>{humanize(props.state)}</span>;
}

/** The API's query for these filters (dates become the user's day boundaries, as instants). */
function apiQuery(filters: RequestFilters, cursor: string | null): string {
  const params = new URLSearchParams();
  for (const key of ['client', 'channel', 'state', 'outcome', 'q'] as const) if (filters[key]) params.set(key, filters[key]);
  if (filters.from) params.set('from', new Date(`${filters.from}T00:00:00`).toISOString());
  if (filters.to) {
    const end = new Date(`${filters.to}T00:00:00`);
    end.setDate(end.getDate() + 1);
    params.set('to', end.toISOString());
  }
  params.set('limit', '25');
  if (cursor) params.set('cursor', cursor);
  return params.toString();
}

export function RequestsPage() {
  const filters = requestFiltersFromSearch(useSearch({ strict: false }) as Record<string, unknown>);
  const navigate = useNavigate();
  const setFilters = (next: RequestFilters) => {
    void navigate({ to: '/requests', search: requestFiltersFromSearch(next as Record<string, unknown>) as never });
  };
  const list = useInfiniteQuery({
    queryKey: queryKeys.requests({ ...filters }),
    queryFn: ({ pageParam }) => api.get<RequestList>(`/api/requests?${apiQuery(filters, pageParam)}`),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
  });
  const first = list.data?.pages[0];
  const rows: RequestRow[] = list.data?.pages.flatMap((page) => page.requests) ?? [];
  const filtered = Object.keys(filters).length > 0;
  // A failed "Load more" keeps the rows already shown and says so under them.
  const nextPageError = list.isFetchNextPageError ? list.error : null;
  const firstPageError = list.isFetchNextPageError ? null : list.error;
  return (
    <div>
      <PageHeader title="Requests" subtitle="Every request of the MSP's clients, newest first: open one for its story." />
      <FilterBar filters={filters} onChange={setFilters} />
      {first ? <StateChips counts={first.stateCounts} state={filters.state} onChange={(state) => setFilters({ ...filters, state })} /> : null}
      {list.isPending ? (
        <Loading what="the requests" />
      ) : firstPageError ? (
        <ErrorNote error={firstPageError} title="The requests could not load" />
      ) : rows.length === 0 ? (
        <EmptyState title={filtered ? 'No request matches these filters' : 'No requests yet'}>
          {filtered ? (
            <p>
              <button type="button" className="link-button" onClick={() => setFilters({})}>
                Clear the filters
              </button>{' '}
              to see every request.
            </p>
          ) : (
            <p>A ticket from a client's user in the PSA becomes a request here, and the agent starts on it at once.</p>
          )}
        </EmptyState>
      ) : (
        <>
          <p className="muted" role="status">
            Showing {rows.length} of {first?.total ?? rows.length} request{first?.total === 1 ? '' : 's'}
          </p>
          <div className="table-wrap">
            <table className="table requests-table">
              <caption className="visually-hidden">Requests</caption>
              <thead>
                <tr>
                  <th scope="col">Date</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Client</th>
                  <th scope="col">Requester</th>
                  <th scope="col">State</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((request) => (
                  <tr key={request.id}>
                    <td className="nowrap">{formatTime(request.createdAt)}</td>
                    <td className="subject-cell">
                      <Link to="/requests/$requestId" params={{ requestId: request.id }}>
                        {request.subject || '(no subject)'}
                      </Link>
                      <div className="muted small">
                        {CHANNEL_LABEL[request.channel] ?? request.channel} {request.externalRef}
                      </div>
                    </td>
                    <td>{request.client ? request.client.name : <span className="muted">unknown</span>}</td>
                    <td className="wrap-anywhere">{request.requesterEmail ?? '—'}</td>
                    <td>
                      <StateBadge state={request.state} />
                    </td>
                    <td>{humanize(request.outcome)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.hasNextPage ? (
            <div className="form-actions">
              <button type="button" className="button" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
                {list.isFetchingNextPage ? 'Loading…' : 'Load more'}
              </button>
            </div>
          ) : null}
          <ErrorNote error={nextPageError} title="More requests could not load" />
        </>
      )}
    </div>
  );
}

function StateChips(props: { counts: RequestList['stateCounts']; state: string | undefined; onChange: (state: string | undefined) => void }) {
  const all = props.counts.reduce((sum, row) => sum + row.count, 0);
  const countOf = new Map(props.counts.map((row) => [row.state, row.count]));
  // In the lifecycle's order, then any state this dashboard does not know yet.
  const states = [...REQUEST_STATES.filter((state) => countOf.has(state)), ...props.counts.map((row) => row.state).filter((state) => !(REQUEST_STATES as readonly string[]).includes(state))];
  return (
    <fieldset className="state-chips">
      <legend className="visually-hidden">Requests per state</legend>
      <button type="button" className="chip" aria-pressed={!props.state} onClick={() => props.onChange(undefined)}>
        All <span className="chip-count">{all}</span>
      </button>
      {states.map((state) => (
        <button key={state} type="button" className="chip" aria-pressed={props.state === state} onClick={() => props.onChange(props.state === state ? undefined : state)}>
          {humanize(state)} <span className="chip-count">{countOf.get(state)}</span>
        </button>
      ))}
    </fieldset>
  );
}

function FilterBar(props: { filters: RequestFilters; onChange: (filters: RequestFilters) => void }) {
  const { filters } = props;
  const clients = useQuery({ queryKey: queryKeys.clients(), queryFn: () => api.get<ClientList>('/api/clients') });
  const [text, setText] = useState(filters.q ?? '');
  useEffect(() => setText(filters.q ?? ''), [filters.q]);
  const select = (key: keyof RequestFilters) => (event: { target: { value: string } }) => props.onChange({ ...filters, [key]: event.target.value || undefined });
  return (
    <form
      className="filter-bar"
      aria-label="Filter the requests"
      onSubmit={(event) => {
        event.preventDefault();
        props.onChange({ ...filters, q: text.trim() || undefined });
      }}
    >
      <div className="field filter-text">
        <label htmlFor="filter-q">Text</label>
        <input id="filter-q" type="search" value={text} placeholder="Subject, requester or ticket" onChange={(event) => setText(event.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="filter-client">Client</label>
        <select id="filter-client" value={filters.client ?? ''} onChange={select('client')}>
          <option value="">All clients</option>
          {clients.data?.clients.map((client) => (
            <option key={client.id} value={client.slug}>
              {client.name}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="filter-channel">Channel</label>
        <select id="filter-channel" value={filters.channel ?? ''} onChange={select('channel')}>
          <option value="">All channels</option>
          {Object.entries(CHANNEL_LABEL).map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="filter-state">State</label>
        <select id="filter-state" value={filters.state ?? ''} onChange={select('state')}>
          <option value="">All states</option>
          {REQUEST_STATES.map((state) => (
            <option key={state} value={state}>
              {humanize(state)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="filter-outcome">Outcome</label>
        <select id="filter-outcome" value={filters.outcome ?? ''} onChange={select('outcome')}>
          <option value="">All outcomes</option>
          {OUTCOMES.map((outcome) => (
            <option key={outcome} value={outcome}>
              {humanize(outcome)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="filter-from">From</label>
        <input id="filter-from" type="date" value={filters.from ?? ''} onChange={select('from')} />
      </div>
      <div className="field">
        <label htmlFor="filter-to">To</label>
        <input id="filter-to" type="date" value={filters.to ?? ''} onChange={select('to')} />
      </div>
      <div className="filter-actions">
        <button type="submit" className="button button-primary">
          Search
        </button>
        {Object.keys(filters).length > 0 ? (
          <button
            type="button"
            className="button button-quiet"
            onClick={() => {
              setText('');
              props.onChange({});
            }}
          >
            Clear
          </button>
        ) : null}
      </div>
    </form>
  );
}
