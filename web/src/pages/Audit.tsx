import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import type { AuditList, AuditRow, AuditVerification } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { can, useMe } from '../auth.ts';
import { EmptyState, ErrorNote, formatTime, Loading, PageHeader } from '../components/ui.tsx';

const PAGE_SIZE = 50;

/**
 * The MSP's audit log: every event deskhand recorded, newest first, searchable, with the hash
 * chain's verification on top (where it breaks, when a row was changed or removed).
 */
export function AuditPage() {
  const me = useMe();
  if (me.data && !can.readDetails(me.data.user.role)) {
    return (
      <>
        <PageHeader title="Audit log" />
        <p className="note note-info">The audit log is for admins and technicians: it holds the reasons and comments of every decision.</p>
      </>
    );
  }
  return (
    <>
      <PageHeader title="Audit log" subtitle="Every event deskhand recorded for your MSP, newest first. Each row's hash covers the one before it: a changed row breaks the chain." />
      <ChainVerification />
      <AuditTable />
    </>
  );
}

function ChainVerification() {
  const verify = useQuery({ queryKey: ['audit', 'verify'], queryFn: () => api.get<AuditVerification>('/api/audit/verify') });
  return (
    <section className="card audit-verify" aria-labelledby="verify-title">
      <div className="card-title-row">
        <h2 id="verify-title">Chain verification</h2>
        <button type="button" className="button button-small" disabled={verify.isFetching} onClick={() => void verify.refetch()}>
          Verify again
        </button>
      </div>
      {verify.isPending ? <Loading what="the verification" /> : null}
      <ErrorNote error={verify.error} title="The chain could not be verified" />
      {verify.data ? (
        verify.data.ok ? (
          <p className="note note-ok" role="status" data-testid="chain-result">
            Verified: {verify.data.rows} rows, the chain is intact.
          </p>
        ) : (
          <p className="note note-error" role="status" data-testid="chain-result">
            Broken{verify.data.brokenAt !== undefined ? ` at seq ${verify.data.brokenAt}` : ''}: {verify.data.reason ?? 'the chain does not verify'} ({verify.data.rows} rows verified before it).
          </p>
        )
      ) : null}
    </section>
  );
}

function AuditTable() {
  const [search, setSearch] = useState({ q: '', event: '' });
  const [draft, setDraft] = useState(search);
  // Keyset paging: the `before` of each page shown so far (the first page has none).
  const [pages, setPages] = useState<string[]>([]);
  const before = pages.at(-1);
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (search.q) params.set('q', search.q);
  if (search.event) params.set('event', search.event);
  if (before) params.set('before', before);
  const list = useQuery({
    queryKey: ['audit', 'list', search.q, search.event, before ?? null],
    queryFn: () => api.get<AuditList>(`/api/audit?${params.toString()}`),
    placeholderData: keepPreviousData,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSearch({ q: draft.q.trim(), event: draft.event.trim() });
    setPages([]);
  };
  return (
    <section aria-labelledby="log-title">
      <h2 id="log-title">Events</h2>
      <form className="audit-search" aria-label="Search the audit log" onSubmit={submit}>
        <div className="field">
          <label htmlFor="audit-q">Search</label>
          <input id="audit-q" type="search" value={draft.q} placeholder="event, actor or data" onChange={(event) => setDraft({ ...draft, q: event.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="audit-event">Event</label>
          <input id="audit-event" type="text" value={draft.event} placeholder="e.g. approval.decided" onChange={(event) => setDraft({ ...draft, event: event.target.value })} />
        </div>
        <button type="submit" className="button">
          Search
        </button>
      </form>
      {list.isPending ? <Loading what="the audit log" /> : null}
      <ErrorNote error={list.error} title="The audit log could not be loaded" />
      {list.data && list.data.rows.length === 0 ? <EmptyState title="No events">{search.q || search.event ? 'Nothing matches this search.' : 'deskhand has recorded nothing yet.'}</EmptyState> : null}
      {list.data && list.data.rows.length > 0 ? (
        <div className="table-wrap">
          <table className="table audit-table">
            <caption className="visually-hidden">Audit events, newest first</caption>
            <thead>
              <tr>
                <th scope="col" className="num">
                  Seq
                </th>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Event</th>
                <th scope="col">Request</th>
                <th scope="col">Data</th>
              </tr>
            </thead>
            <tbody>
              {list.data.rows.map((row) => (
                <AuditLine key={row.seq} row={row} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <nav className="pager" aria-label="Audit pages">
        <button type="button" className="button" disabled={pages.length === 0} onClick={() => setPages(pages.slice(0, -1))}>
          Newer
        </button>
        <span className="hint">Page {pages.length + 1}</span>
        <button type="button" className="button" disabled={!list.data?.nextBefore} onClick={() => list.data?.nextBefore && setPages([...pages, list.data.nextBefore])}>
          Older
        </button>
      </nav>
    </section>
  );
}

function dataSummary(data: unknown): string {
  if (data === null || data === undefined) return '';
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function AuditLine(props: { row: AuditRow }) {
  const { row } = props;
  const summary = dataSummary(row.data);
  return (
    <tr data-seq={row.seq}>
      <td className="num">{row.seq}</td>
      <td className="nowrap">{formatTime(row.at)}</td>
      <td className="audit-actor">{row.actor}</td>
      <td>
        <code>{row.event}</code>
      </td>
      <td>{row.requestId ? <a href={`/requests/${encodeURIComponent(row.requestId)}`}>{row.requestId.slice(0, 8)}</a> : null}</td>
      <td className="audit-data">
        {summary && summary !== '{}' ? (
          <details>
            <summary>{summary}</summary>
            <pre>{JSON.stringify(row.data, null, 2)}</pre>
          </details>
        ) : null}
      </td>
    </tr>
  );
}
