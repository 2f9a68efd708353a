import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { type FormEvent, useEffect, useMemo, useState } from 'react';
import type { Integration, IntegrationList, PsaBoards, TicketStatusMap } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { can, useMe } from '../auth.ts';
import { EmptyState, ErrorNote, HealthBadge, Loading, SuccessNote } from './ui.tsx';

/** The phases of a request's ticket whose status deskhand sets, in the order a request meets them. */
const PHASES = [
  { key: 'waiting', label: 'Waiting on approval' },
  { key: 'inProgress', label: 'In progress' },
  { key: 'resolved', label: 'Resolved' },
] as const;
type Phase = (typeof PHASES)[number]['key'];
type Row = Record<Phase, string>;

/**
 * Ticket statuses: for each PSA integration, the status each board's tickets take while a request
 * waits on approval, is in progress, and is resolved. Admins pick them from the PSA's own boards and
 * statuses; everyone else reads the map.
 */
export function MspStatusesTab() {
  const me = useMe();
  const admin = can.configure(me.data?.user.role);
  const integrations = useQuery({ queryKey: ['integrations'], queryFn: () => api.get<IntegrationList>('/api/integrations') });
  if (integrations.isPending) return <Loading what="the integrations" />;
  if (integrations.error) return <ErrorNote error={integrations.error} title="The integrations could not be loaded" />;
  const psas = integrations.data.integrations.filter((integration) => integration.provides.includes('ticket'));
  return (
    <>
      <p className="hint tab-intro">
        deskhand moves a request's ticket through these statuses. A phase left on <em>Not moved</em> leaves the ticket's status as it is.
      </p>
      {psas.length === 0 ? (
        <EmptyState title="No PSA connected">
          Ticket statuses belong to a PSA (ConnectWise, HaloPSA, Autotask).
          {admin ? (
            <>
              {' '}
              Connect one on the <Link to="/msp/integrations">Integrations tab</Link>.
            </>
          ) : (
            ' An admin of your MSP connects it.'
          )}
        </EmptyState>
      ) : (
        psas.map((psa) => <PsaStatuses key={psa.id} psa={psa} admin={admin} />)
      )}
    </>
  );
}

function PsaStatuses(props: { psa: Integration; admin: boolean }) {
  const { psa } = props;
  const map = useQuery({ queryKey: ['ticket-statuses', psa.id], queryFn: () => api.get<TicketStatusMap>(`/api/integrations/${psa.id}/ticket-statuses`) });
  const boards = useQuery({ queryKey: ['boards', psa.id], queryFn: () => api.get<PsaBoards>(`/api/integrations/${psa.id}/boards`), enabled: props.admin, retry: false });
  const titleId = `psa-${psa.id}-title`;
  return (
    <section className="card" aria-labelledby={titleId}>
      <div className="card-title-row">
        <h2 id={titleId}>{psa.name}</h2>
        <span className="hint">{psa.label}</span>
        <HealthBadge status={psa.health.status} />
      </div>
      {map.isPending ? <Loading what="the status map" /> : null}
      <ErrorNote error={map.error} title="The status map could not be loaded" />
      {map.data && props.admin && boards.data ? <StatusForm psa={psa} map={map.data} boards={boards.data} /> : null}
      {map.data && props.admin && boards.isPending ? <Loading what={`the boards of ${psa.name}`} /> : null}
      {map.data && props.admin && boards.error ? <ErrorNote error={boards.error} title={`${psa.name}'s boards could not be read, so the map cannot be changed now`} /> : null}
      {map.data && (!props.admin || boards.error) ? <StatusTable map={map.data} admin={props.admin} /> : null}
    </section>
  );
}

/** The map as it is, read-only. */
function StatusTable(props: { map: TicketStatusMap; admin: boolean }) {
  if (props.map.boards.length === 0) {
    return <EmptyState title="No statuses mapped">deskhand leaves the tickets' statuses as they are.{props.admin ? '' : ' An admin of your MSP sets the map.'}</EmptyState>;
  }
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Board</th>
            {PHASES.map((phase) => (
              <th key={phase.key} scope="col">
                {phase.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.map.boards.map((board) => (
            <tr key={board.board}>
              <th scope="row">{board.board}</th>
              {PHASES.map((phase) => (
                <td key={phase.key}>{board[phase.key] ?? <span className="hint">Not moved</span>}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function rowsOf(map: TicketStatusMap): Map<string, Row> {
  return new Map(map.boards.map((board) => [board.board, { waiting: board.waiting ?? '', inProgress: board.inProgress ?? '', resolved: board.resolved ?? '' }]));
}

/** The map as a form: one select per board and phase, from the PSA's own statuses; saved whole. */
function StatusForm(props: { psa: Integration; map: TicketStatusMap; boards: PsaBoards }) {
  const queryClient = useQueryClient();
  const saved = useMemo(() => rowsOf(props.map), [props.map]);
  const [draft, setDraft] = useState(saved);
  useEffect(() => setDraft(saved), [saved]);
  // Every board of the PSA, and a mapped board the PSA no longer has (shown so it can be cleared).
  const boardNames = [...new Set([...props.boards.boards.map((b) => b.name), ...saved.keys()])];
  const statusesOf = (board: string) => props.boards.boards.find((b) => b.name === board)?.statuses ?? [];
  const empty: Row = { waiting: '', inProgress: '', resolved: '' };
  const changed = boardNames.some((board) => PHASES.some((phase) => (draft.get(board) ?? empty)[phase.key] !== (saved.get(board) ?? empty)[phase.key]));

  const save = useMutation({
    mutationFn: () => {
      const boards = boardNames
        .map((board) => ({ board, ...(draft.get(board) ?? empty) }))
        .filter((row) => PHASES.some((phase) => row[phase.key] !== ''))
        .map((row) => ({ board: row.board, ...Object.fromEntries(PHASES.filter((phase) => row[phase.key] !== '').map((phase) => [phase.key, row[phase.key]])) }));
      return api.put<TicketStatusMap>(`/api/integrations/${props.psa.id}/ticket-statuses`, { boards });
    },
    onSuccess: (answer) => queryClient.setQueryData(['ticket-statuses', props.psa.id], answer),
  });

  const set = (board: string, phase: Phase, value: string) => {
    setDraft((current) => new Map(current).set(board, { ...(current.get(board) ?? empty), [phase]: value }));
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  if (boardNames.length === 0) return <EmptyState title="No boards">{props.psa.name} answered with no service boards to map.</EmptyState>;
  return (
    <form onSubmit={submit}>
      <div className="table-wrap">
        <table className="table statuses-table">
          <thead>
            <tr>
              <th scope="col">Board</th>
              {PHASES.map((phase) => (
                <th key={phase.key} scope="col">
                  {phase.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {boardNames.map((board) => {
              const statuses = statusesOf(board);
              const row = draft.get(board) ?? empty;
              return (
                <tr key={board}>
                  <th scope="row">
                    {board}
                    {statuses.length === 0 ? <span className="hint"> (not in the PSA any more)</span> : null}
                  </th>
                  {PHASES.map((phase) => (
                    <td key={phase.key}>
                      <select aria-label={`${board}: ${phase.label}`} value={row[phase.key]} onChange={(event) => set(board, phase.key, event.target.value)}>
                        <option value="">Not moved</option>
                        {statuses.map((status) => (
                          <option key={status} value={status}>
                            {status}
                          </option>
                        ))}
                        {row[phase.key] !== '' && !statuses.includes(row[phase.key]) ? <option value={row[phase.key]}>{row[phase.key]} (not in the PSA)</option> : null}
                      </select>
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <ErrorNote error={save.error} title="Not saved" />
      {save.isSuccess && !changed ? <SuccessNote>Saved: the next requests' tickets move through these statuses.</SuccessNote> : null}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={!changed || save.isPending}>
          {save.isPending ? 'Saving…' : 'Save the statuses'}
        </button>
        {changed ? (
          <button type="button" className="button" onClick={() => setDraft(saved)}>
            Undo changes
          </button>
        ) : null}
      </div>
    </form>
  );
}
