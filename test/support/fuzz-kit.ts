import { request as httpRequest } from 'node:http';
import { sql } from 'kysely';
import type { Db } from '../../src/store/db.ts';
import { databaseKind } from './db.ts';

/**
 * What every fuzz file shares: the seed and the number of cases (printed, so that a run can be
 * replayed), raw HTTP that sends exactly the bytes and headers a test chose, and a digest of the
 * database to prove that hostile input changed nothing.
 */

// --- budget and seed ---------------------------------------------------------------------------

/**
 * Fuzzing does not depend on the database: the embedded pass of CI runs the full budget, the pass
 * on a server named by DATABASE_URL a smoke budget. `FUZZ_RUNS` replaces every property's full
 * budget (raise it locally), `FUZZ_SEED` replays a run, `FUZZ_FULL=1` runs the full budget anywhere.
 */
export interface FuzzBudget {
  seed: number;
  mode: 'full' | 'smoke';
  /** Cases for one property whose full budget is `full`. */
  runs(full: number): number;
}

export function fuzzBudget(file: string): FuzzBudget {
  const seedText = process.env['FUZZ_SEED'];
  const seed = seedText !== undefined && /^-?\d+$/.test(seedText.trim()) ? Number(seedText.trim()) | 0 : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const mode = databaseKind() === 'embedded' || process.env['FUZZ_FULL'] === '1' ? 'full' : 'smoke';
  const override = Number(process.env['FUZZ_RUNS']);
  const runs = (full: number) => {
    const chosen = Number.isInteger(override) && override > 0 ? override : full;
    return mode === 'full' ? chosen : Math.max(3, Math.ceil(chosen / 15));
  };
  console.log(`[fuzz] ${file}: seed ${seed} (replay with FUZZ_SEED=${seed}), ${mode} budget on the ${databaseKind()} database${Number.isInteger(override) && override > 0 ? `, FUZZ_RUNS=${override}` : ''}`);
  return { seed, mode, runs };
}

/** Counts cases per property and how they were answered; printed when the file ends. */
export class FuzzTally {
  private readonly counts = new Map<string, { cases: number; statuses: Map<number, number> }>();
  constructor(private readonly file: string) {}

  record(property: string, status: number): void {
    const entry = this.counts.get(property) ?? { cases: 0, statuses: new Map<number, number>() };
    entry.cases++;
    entry.statuses.set(status, (entry.statuses.get(status) ?? 0) + 1);
    this.counts.set(property, entry);
  }

  total(): number {
    return [...this.counts.values()].reduce((sum, e) => sum + e.cases, 0);
  }

  print(): void {
    for (const [property, { cases, statuses }] of this.counts) {
      const answers = [...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ');
      console.log(`[fuzz] ${this.file}: ${property}: ${cases} cases (${answers})`);
    }
    console.log(`[fuzz] ${this.file}: ${this.total()} cases in all`);
  }
}

// --- HTTP --------------------------------------------------------------------------------------

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface RawRequest {
  method: string;
  /** Path and query exactly as sent (already encoded). */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

/**
 * One request with exactly these headers and bytes (fetch would add a content type, and refuses
 * some of the headers a hostile client sends). Resolves with the answer; rejects when the service
 * answered nothing at all (a reset connection is a failure of the property, not a 4xx).
 */
export function send(baseUrl: string, input: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    let settled = false;
    const request = httpRequest(
      {
        // A connection per request: the service closes one after refusing an oversized body, and a
        // reused socket would then fail the next, innocent case.
        agent: false,
        host: url.hostname,
        port: url.port,
        method: input.method,
        path: input.path,
        headers: { ...(input.body !== undefined ? { 'content-length': String(Buffer.byteLength(input.body)) } : {}), ...input.headers },
        timeout: 30_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          settled = true;
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('error', (error) => {
          if (!settled) reject(error);
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer to ${input.method} ${input.path.slice(0, 80)} within 30 s`)));
    request.on('error', (error: NodeJS.ErrnoException) => {
      // The service may answer (413) and close before an oversized body is all written: the answer
      // is what counts, and it arrives through the response callback; only report a silent failure.
      if (settled) return;
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') {
        setTimeout(() => {
          if (!settled) reject(error);
        }, 500);
        return;
      }
      reject(error);
    });
    if (input.body !== undefined) request.end(input.body);
    else request.end();
  });
}

/** `{"error": {"code", "message"}}` with a message a person can act on: what every refusal answers. */
export function isClearError(response: RawResponse): boolean {
  try {
    const body = JSON.parse(response.text) as { error?: { code?: unknown; message?: unknown } };
    return typeof body.error?.code === 'string' && typeof body.error.message === 'string' && body.error.message.trim().length >= 8;
  } catch {
    return false;
  }
}

// --- the database's state ----------------------------------------------------------------------

/**
 * Columns that record only that a credential was used (a token's last use, at most once a minute
 * of wall time): using the fuzzers' own tokens moves them, and they are not what the property is
 * about. Tables of sign-in throttling are excluded for the same reason (failed sign-ins are what
 * they count); `ignoreTables` names them.
 */
const USAGE_COLUMNS = /^last_(used|seen)_at$/;

/**
 * Observations of the outside systems, not product state: an integration's health and circuit
 * breaker are written by whatever calls the system (the worker's polls, an earlier request's
 * messages), whenever that finishes, so a fuzzed call would be blamed for them.
 */
const OBSERVATION_TABLES = /^integration_health$/;

export interface Digest {
  tables: Map<string, string>;
}

/**
 * Every table's row count and an MD5 of all its rows (each row as text, sorted), in one statement:
 * any insert, update or delete anywhere shows, including in the audit log and the outbox.
 */
export async function databaseDigest(db: Db, options: { ignoreTables?: RegExp } = {}): Promise<Digest> {
  const columns = await sql<{ table_name: string; column_name: string }>`
    SELECT table_name, column_name FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name IN (
      SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')
    ORDER BY table_name, ordinal_position`.execute(db);
  const byTable = new Map<string, string[]>();
  for (const { table_name, column_name } of columns.rows) {
    if (options.ignoreTables?.test(table_name) || OBSERVATION_TABLES.test(table_name)) continue;
    if (USAGE_COLUMNS.test(column_name)) continue;
    byTable.set(table_name, [...(byTable.get(table_name) ?? []), column_name]);
  }
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const parts = [...byTable].map(
    ([table, cols]) =>
      `SELECT ${sqlText(table)} AS t, count(*)::text || ':' || coalesce(md5(string_agg(r, E'\\n' ORDER BY r)), '') AS d FROM (SELECT ROW(${cols.map(quote).join(', ')})::text AS r FROM ${quote(table)}) x`,
  );
  const result = await sql<{ t: string; d: string }>`${sql.raw(parts.join('\nUNION ALL\n'))}`.execute(db);
  return { tables: new Map(result.rows.map((row) => [row.t, row.d])) };
}

function sqlText(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** The tables whose digest differs, with their row counts before and after; empty when nothing changed. */
export function digestChanges(before: Digest, after: Digest): string[] {
  const names = new Set([...before.tables.keys(), ...after.tables.keys()]);
  const changed: string[] = [];
  for (const name of [...names].sort()) {
    const a = before.tables.get(name);
    const b = after.tables.get(name);
    if (a !== b) changed.push(`${name} (rows ${a?.split(':')[0] ?? 'none'} -> ${b?.split(':')[0] ?? 'none'})`);
  }
  return changed;
}

/**
 * Waits until the database stops changing (the worker finished what setting up started): the same
 * digest three times in a row, 300 ms apart.
 */
export async function quiescentDigest(db: Db, options: { ignoreTables?: RegExp; timeoutMs?: number } = {}): Promise<Digest> {
  const started = Date.now();
  let last = await databaseDigest(db, options);
  let same = 0;
  while (same < 2) {
    if (Date.now() - started > (options.timeoutMs ?? 30_000)) throw new Error(`the database kept changing: ${digestChanges(last, await databaseDigest(db, options)).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const next = await databaseDigest(db, options);
    same = digestChanges(last, next).length === 0 ? same + 1 : 0;
    last = next;
  }
  return last;
}
