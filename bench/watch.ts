import type pg from 'pg';
import { benchQueries } from './support.ts';

/**
 * Watches many requests at once with one query every `intervalMs` on the bench's own connection
 * pool (never the service's, so that the driver's statements do not count as the engine's). The
 * engine and the baseline are watched the same way, so both pay the same polling delay.
 */
export interface RequestStatus {
  /** `<source>/<ticket id>`: unique across MSPs (ticket ids are per ConnectWise instance). */
  key: string;
  state: string;
  outcome: string | null;
  lastError: string | null;
  /** When the internal note with the diagnosis was delivered (server-side timestamp). */
  noteAt: Date | null;
  /** The pending technician approval, when there is one. */
  approvalId: string | null;
  planHash: string | null;
}

/** Statuses of the requests with these keys (`<source>/<ticket id>`). */
export type StatusQuery = (pool: pg.Pool, keys: string[]) => Promise<RequestStatus[]>;

/** Splits keys into parallel arrays of sources and ticket ids (for `unnest`, so that lookups use the unique index). */
export function splitKeys(keys: string[]): [string[], string[]] {
  return [keys.map((key) => key.slice(0, key.lastIndexOf('/'))), keys.map((key) => key.slice(key.lastIndexOf('/') + 1))];
}

interface Waiter {
  key: string;
  done: (status: RequestStatus) => boolean;
  fail: (status: RequestStatus) => string | null;
  deadline: number;
  what: string;
  resolve: (status: RequestStatus) => void;
  reject: (error: Error) => void;
  last: RequestStatus | null;
}

export class RequestWatcher {
  private readonly waiters = new Set<Waiter>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private stopped = false;
  private queryErrors = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly query: StatusQuery,
    private readonly intervalMs = 50,
  ) {}

  /**
   * Resolves when the request of `key` satisfies `done`; rejects when `fail` returns a reason, or at
   * the deadline (with the last status seen).
   */
  waitFor(
    key: string,
    what: string,
    done: (status: RequestStatus) => boolean,
    options: { timeoutMs: number; fail?: (status: RequestStatus) => string | null },
  ): Promise<RequestStatus> {
    if (this.stopped) return Promise.reject(new Error('the watcher was stopped'));
    return new Promise<RequestStatus>((resolve, reject) => {
      this.waiters.add({
        key,
        done,
        fail: options.fail ?? (() => null),
        deadline: Date.now() + options.timeoutMs,
        what,
        resolve,
        reject,
        last: null,
      });
      this.schedule();
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const waiter of this.waiters) waiter.reject(new Error(`stopped while waiting for ${waiter.what}`));
    this.waiters.clear();
  }

  private schedule(): void {
    if (this.timer || this.stopped || this.waiters.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.poll().finally(() => this.schedule());
    }, this.intervalMs);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const keys = [...new Set([...this.waiters].map((w) => w.key))];
      let statuses: RequestStatus[] = [];
      try {
        benchQueries.count++;
        statuses = await this.query(this.pool, keys);
        this.queryErrors = 0;
      } catch (error) {
        // A few failed polls are tolerated (the server is busy); many are a failure of the run.
        if (++this.queryErrors >= 20) {
          for (const waiter of this.waiters) waiter.reject(new Error(`watching requests failed 20 times in a row: ${(error as Error).message}`));
          this.waiters.clear();
        }
        return;
      }
      const byKey = new Map(statuses.map((s) => [s.key, s]));
      const now = Date.now();
      for (const waiter of [...this.waiters]) {
        const status = byKey.get(waiter.key);
        if (status) waiter.last = status;
        if (status && waiter.done(status)) {
          this.waiters.delete(waiter);
          waiter.resolve(status);
          continue;
        }
        const failure = status ? waiter.fail(status) : null;
        if (failure) {
          this.waiters.delete(waiter);
          waiter.reject(new Error(`${waiter.what}: ${failure} (${describe(status!)})`));
          continue;
        }
        if (now > waiter.deadline) {
          this.waiters.delete(waiter);
          waiter.reject(new Error(`${waiter.what}: not reached in time (${waiter.last ? describe(waiter.last) : 'no request was created for the ticket'})`));
        }
      }
    } finally {
      this.polling = false;
    }
  }
}

function describe(status: RequestStatus): string {
  return `request for ${status.key}: state ${status.state}, outcome ${status.outcome ?? 'none'}${status.lastError ? `, last error: ${status.lastError}` : ''}`;
}

/** The engine's tables: requests, the first delivered internal note, the pending technician approval. */
export const engineStatusQuery: StatusQuery = async (pool, keys) => {
  const result = await pool.query<{
    key: string;
    state: string;
    outcome: string | null;
    last_error: string | null;
    note_at: Date | null;
    approval_id: string | null;
    plan_hash: string | null;
  }>(
    `SELECT r.source_integration_id::text || '/' || r.external_ref AS key, r.state, r.outcome, r.last_error,
            (SELECT min(o.delivered_at) FROM outbox o
              WHERE o.request_id = r.id AND o.status = 'delivered' AND o.payload->>'visibility' = 'internal') AS note_at,
            a.id::text AS approval_id, a.plan_hash
       FROM unnest($1::uuid[], $2::text[]) AS w(source, ref)
       JOIN requests r ON r.source_integration_id = w.source AND r.external_ref = w.ref
       LEFT JOIN approvals a ON a.request_id = r.id AND a.kind = 'technician' AND a.status = 'pending'`,
    splitKeys(keys),
  );
  return result.rows.map((r) => ({
    key: r.key,
    state: r.state,
    outcome: r.outcome,
    lastError: r.last_error,
    noteAt: r.note_at,
    approvalId: r.approval_id,
    planHash: r.plan_hash,
  }));
};
