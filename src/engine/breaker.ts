import { sql } from 'kysely';
import type { Clock } from '../core/clock.ts';
import type { Db } from '../store/db.ts';

/**
 * A circuit breaker per integration, kept in the database so that every worker sees it: after
 * `threshold` consecutive transient failures the integration is left alone until `open_until`
 * (10 s, doubling up to 5 min); work for it is postponed without calling it, and the first call
 * after that (half-open) closes the breaker on success or opens it longer on failure.
 */
export interface BreakerOptions {
  threshold?: number;
  baseOpenMs?: number;
  maxOpenMs?: number;
  /** How long a worker trusts what it last read (keeps the hot path free of a query per call). */
  cacheMs?: number;
}

interface Known {
  failures: number;
  openUntil: Date | null;
  readAt: number;
}

export class CircuitBreakers {
  private readonly known = new Map<string, Known>();
  private readonly options: Required<BreakerOptions>;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    options: BreakerOptions = {},
  ) {
    this.options = { threshold: 5, baseOpenMs: 10_000, maxOpenMs: 5 * 60_000, cacheMs: 1_000, ...options };
  }

  /** When the breaker of this integration is open, the time it may be tried again; otherwise null. */
  async openUntil(integrationId: string): Promise<Date | null> {
    const known = await this.read(integrationId);
    return known.openUntil && known.openUntil > this.clock.now() ? known.openUntil : null;
  }

  async recordSuccess(integrationId: string): Promise<void> {
    const known = this.known.get(integrationId);
    // Nothing to close: no write on the hot path.
    if (known && known.failures === 0 && !known.openUntil) return;
    if (!known) {
      const current = await this.read(integrationId);
      if (current.failures === 0 && !current.openUntil) return;
    }
    await this.db
      .updateTable('integration_health')
      .set({ consecutive_failures: 0, open_until: null, last_error: null, updated_at: this.clock.now() })
      .where('integration_id', '=', integrationId)
      .execute();
    this.known.set(integrationId, { failures: 0, openUntil: null, readAt: Date.now() });
  }

  async recordFailure(integrationId: string, error: string): Promise<Date | null> {
    const now = this.clock.now();
    const { threshold, baseOpenMs, maxOpenMs } = this.options;
    const result = await sql<{ consecutive_failures: number; open_until: Date | null }>`
      INSERT INTO integration_health (integration_id, consecutive_failures, open_until, last_error, updated_at)
      VALUES (${integrationId}, 1, NULL, ${error.slice(0, 500)}, ${now})
      ON CONFLICT (integration_id) DO UPDATE SET
        consecutive_failures = integration_health.consecutive_failures + 1,
        last_error = EXCLUDED.last_error,
        updated_at = EXCLUDED.updated_at,
        open_until = CASE
          WHEN integration_health.consecutive_failures + 1 >= ${threshold}
          THEN ${now}::timestamptz + make_interval(secs => LEAST(${maxOpenMs}::float8,
                 ${baseOpenMs}::float8 * power(2, integration_health.consecutive_failures + 1 - ${threshold})) / 1000)
          ELSE integration_health.open_until END
      RETURNING consecutive_failures, open_until`.execute(this.db);
    const row = result.rows[0]!;
    this.known.set(integrationId, { failures: row.consecutive_failures, openUntil: row.open_until, readAt: Date.now() });
    return row.open_until && row.open_until > now ? row.open_until : null;
  }

  private async read(integrationId: string): Promise<Known> {
    const cached = this.known.get(integrationId);
    if (cached && Date.now() - cached.readAt < this.options.cacheMs) return cached;
    const row = await this.db
      .selectFrom('integration_health')
      .select(['consecutive_failures', 'open_until'])
      .where('integration_id', '=', integrationId)
      .executeTakeFirst();
    const known = { failures: row?.consecutive_failures ?? 0, openUntil: row?.open_until ?? null, readAt: Date.now() };
    this.known.set(integrationId, known);
    return known;
  }
}
