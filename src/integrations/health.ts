import { sql } from 'kysely';
import type { Clock } from '../core/clock.ts';
import { describeError, isDeskhandError } from '../core/errors.ts';
import type { Logger } from '../logger.ts';
import type { Db } from '../store/db.ts';
import type { IntegrationStatus } from '../store/schema.ts';
import type { CapabilityName, Connection } from './module.ts';

/**
 * Each integration's health, as an admin reads it: `healthy` once a call to the system succeeded or
 * its doctor found everything in place, `unhealthy` when the system refused its credentials or
 * configuration (with the reason and when), `unknown` before either. Real traffic sets it (every
 * call through a connection's capabilities, see `observedConnection`), and so does the doctor
 * (`deskhand doctor`, the API's test). The latest observation wins; the last error and its time stay
 * visible after a later success. Transient failures (429, 5xx, timeouts) change nothing here: they
 * are the circuit breaker's (breaker.ts), whose columns share the row.
 */

export interface IntegrationHealthView {
  status: IntegrationStatus;
  /** When the status was last set, and by what. */
  checkedAt: string | null;
  checkedBy: 'traffic' | 'doctor' | null;
  lastSuccessAt: string | null;
  /** The last refusal of its credentials or configuration (kept after a later success), never a secret. */
  lastError: string | null;
  lastErrorAt: string | null;
}

export const UNKNOWN_HEALTH: IntegrationHealthView = { status: 'unknown', checkedAt: null, checkedBy: null, lastSuccessAt: null, lastError: null, lastErrorAt: null };

/**
 * A refusal that no retry fixes and that an admin fixes in the integration's configuration: a
 * configuration error (a missing or malformed setting, credentials the sign-in endpoint refused), or
 * the system answering 401 (credentials rejected) or 403 (the account may not do this).
 */
export function isCredentialFailure(error: unknown): boolean {
  if (!isDeskhandError(error)) return false;
  if (error.code === 'config') return true;
  const status = error.details?.['status'];
  return error.code === 'upstream' && (status === 401 || status === 403);
}

/** A success is written at most this often per integration and process while it stays healthy. */
const SUCCESS_WRITE_EVERY_MS = 30_000;
const MAX_ERROR_LENGTH = 1_000;

export class IntegrationHealth {
  /** What this process last wrote per integration: a success while healthy writes nothing more for a while. */
  private readonly written = new Map<string, { status: IntegrationStatus; at: number }>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** A call through the integration answered. */
  async succeeded(integrationId: string, source: 'traffic' | 'doctor' = 'traffic'): Promise<void> {
    const known = this.written.get(integrationId);
    if (source === 'traffic' && known?.status === 'healthy' && Date.now() - known.at < SUCCESS_WRITE_EVERY_MS) return;
    const now = this.clock.now();
    await this.write(integrationId, 'healthy', async () => {
      await sql`
        INSERT INTO integration_health (integration_id, updated_at, status, status_at, status_source, last_success_at)
        VALUES (${integrationId}, ${now}, 'healthy', ${now}, ${source}, ${now})
        ON CONFLICT (integration_id) DO UPDATE SET
          status = 'healthy', status_at = EXCLUDED.status_at, status_source = EXCLUDED.status_source, last_success_at = EXCLUDED.last_success_at
        WHERE integration_health.status_at IS NULL OR integration_health.status_at <= EXCLUDED.status_at`.execute(this.db);
    });
  }

  /** The integration's credentials or configuration were refused: `reason` is a safe description. */
  async failed(integrationId: string, reason: string, source: 'traffic' | 'doctor' = 'traffic'): Promise<void> {
    const now = this.clock.now();
    const error = reason.slice(0, MAX_ERROR_LENGTH);
    await this.write(integrationId, 'unhealthy', async () => {
      await sql`
        INSERT INTO integration_health (integration_id, updated_at, status, status_at, status_source, status_error, status_error_at)
        VALUES (${integrationId}, ${now}, 'unhealthy', ${now}, ${source}, ${error}, ${now})
        ON CONFLICT (integration_id) DO UPDATE SET
          status = 'unhealthy', status_at = EXCLUDED.status_at, status_source = EXCLUDED.status_source,
          status_error = EXCLUDED.status_error, status_error_at = EXCLUDED.status_error_at
        WHERE integration_health.status_at IS NULL OR integration_health.status_at <= EXCLUDED.status_at`.execute(this.db);
    });
  }

  /** What a call's outcome says about the integration: only successes and refused credentials count. */
  async observe(integrationId: string, outcome: { ok: true } | { ok: false; error: unknown }): Promise<void> {
    if (outcome.ok) await this.succeeded(integrationId);
    else if (isCredentialFailure(outcome.error)) await this.failed(integrationId, describeError(outcome.error));
  }

  /** The health of these integrations (unknown for one never observed). */
  async of(integrationIds: readonly string[]): Promise<Map<string, IntegrationHealthView>> {
    const found = new Map<string, IntegrationHealthView>();
    if (integrationIds.length === 0) return found;
    const rows = await this.db.selectFrom('integration_health').selectAll().where('integration_id', 'in', [...integrationIds]).execute();
    for (const row of rows) {
      found.set(row.integration_id, {
        status: row.status,
        checkedAt: row.status_at?.toISOString() ?? null,
        checkedBy: row.status_source,
        lastSuccessAt: row.last_success_at?.toISOString() ?? null,
        lastError: row.status_error,
        lastErrorAt: row.status_error_at?.toISOString() ?? null,
      });
    }
    return found;
  }

  /** Recording health never fails the call it observes (the integration may have just been deleted). */
  private async write(integrationId: string, status: IntegrationStatus, run: () => Promise<void>): Promise<void> {
    try {
      await run();
      this.written.set(integrationId, { status, at: Date.now() });
    } catch (error) {
      this.written.delete(integrationId);
      this.logger.warn({ integration: integrationId, error: describeError(error) }, 'could not record the health of an integration');
    }
  }
}

const CAPABILITIES: readonly CapabilityName[] = ['ticket', 'approvalNotice', 'identity', 'tools', 'knowledge'];

type Observe = (outcome: { ok: true } | { ok: false; error: unknown }) => Promise<void>;

/**
 * The connection with every call through its capabilities observed: each promise a capability's
 * method returns reports whether it answered or failed, before the caller sees the outcome. Objects a
 * method returns synchronously (an identity provider's reader) are observed the same way. Anything
 * else on the connection (a module's own client) is passed through as it is.
 */
export function observedConnection(connection: Connection, observe: Observe): Connection {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(connection, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (!(CAPABILITIES as readonly PropertyKey[]).includes(property) || value === null || typeof value !== 'object') return value;
      if (!wrapped.has(property)) wrapped.set(property, observedObject(value, observe, 0));
      return wrapped.get(property);
    },
  });
}

function observedObject<T extends object>(target: T, observe: Observe, depth: number): T {
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property, object);
      if (typeof value === 'function') {
        return (...args: unknown[]) => observedResult((value as (...a: unknown[]) => unknown).apply(object, args), observe, depth);
      }
      // The parts of an object a method returned (the reader and its resolving twin) are observed too.
      if (depth > 0 && depth < 3 && value !== null && typeof value === 'object' && !Array.isArray(value)) return observedObject(value, observe, depth + 1);
      return value;
    },
  });
}

function observedResult(result: unknown, observe: Observe, depth: number): unknown {
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    return (result as Promise<unknown>).then(
      async (value) => {
        await observe({ ok: true });
        return value;
      },
      async (error: unknown) => {
        await observe({ ok: false, error });
        throw error;
      },
    );
  }
  if (depth < 2 && result !== null && typeof result === 'object' && !Array.isArray(result)) return observedObject(result, observe, depth + 1);
  return result;
}
