import { Writable } from 'node:stream';
import { sql } from 'kysely';
import type { RunningEmulators } from '../../src/integrations/emulators.ts';
import type { Db } from '../../src/store/db.ts';
import type { Place } from './planted-search.ts';

/**
 * What the planted-secrets test searches, gathered from where it really goes: the service's log
 * lines, the HTTP answers the test received, the emulators' tickets, mail and records, and every row
 * of every table.
 */

/** A destination for the real logger that keeps every line. */
export function captureLines(): { destination: Writable; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { destination, lines };
}

export interface RecordedResponse {
  id: number;
  method: string;
  /** The request path with secrets in it (a manager link, a webhook secret) replaced by their names. */
  route: string;
  status: number;
  headers: [string, string][];
  body: string;
}

/**
 * Every answer `fetch` gets from the service (the sandbox's API helper, the manager's link pages and
 * the test's own calls all use it): status, headers and body, read from a clone so callers see the
 * response untouched.
 */
export function recordResponses(isService: (url: URL) => boolean): { responses: RecordedResponse[]; restore(): void } {
  const original = globalThis.fetch;
  const responses: RecordedResponse[] = [];
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const response = await original(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!isService(url)) return response;
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    responses.push({
      id: responses.length + 1,
      method,
      route: url.pathname.replace(/(\/approvals\/manager\/)[^/]+/, '$1:link').replace(/(\/webhooks\/connectwise\/[^/]+\/)[^/]+/, '$1:secret'),
      status: response.status,
      headers: [...response.headers],
      body: await response.clone().text(),
    });
    return response;
  };
  return {
    responses,
    restore() {
      globalThis.fetch = original;
    },
  };
}

export function responsePlace(response: RecordedResponse): Place {
  return {
    kind: 'response',
    where: `response #${response.id}: ${response.method} ${response.route} → ${response.status}`,
    text: `${response.status}\n${response.headers.map(([name, value]) => `${name}: ${value}`).join('\n')}\n\n${response.body}`,
  };
}

/** Every row of every table of the schema, each column cast to text (bytea as hex, JSON as its text). */
export async function tablePlaces(db: Db): Promise<{ places: Place[]; tables: number }> {
  const columns = await sql<{ table_name: string; column_name: string }>`
    SELECT c.table_name, c.column_name FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
    ORDER BY c.table_name, c.ordinal_position`.execute(db);
  const byTable = new Map<string, string[]>();
  for (const { table_name, column_name } of columns.rows) byTable.set(table_name, [...(byTable.get(table_name) ?? []), column_name]);
  const places: Place[] = [];
  for (const [table, names] of byTable) {
    const cells = names.map((name) => sql`coalesce(${sql.ref(name)}::text, '')`);
    const rows = await sql<{ row: string }>`SELECT concat_ws(E'\t', ${sql.join(cells)}) AS row FROM ${sql.table(table)}`.execute(db);
    for (const [index, row] of rows.rows.entries()) places.push({ kind: 'row', where: `${table} row ${index + 1} (${names.join(', ')})`, text: row.row });
  }
  return { places, tables: byTable.size };
}

/**
 * What the emulators were told: every ticket and note on ConnectWise, every mail Graph sent, their
 * request logs (paths and queries: they never record bodies), the callbacks ConnectWise sent (their
 * bodies; the URL they were sent to is where the webhook secret has to go), their effect logs and
 * the tenants' state.
 */
export function emulatorPlaces(emulators: RunningEmulators): Place[] {
  const places: Place[] = [];
  for (const view of emulators.connectwise.tickets()) {
    const { notes, ...ticket } = view;
    places.push({ kind: 'emulator record', where: `ConnectWise ticket ${view.ticket['id']}`, text: JSON.stringify(ticket) });
    for (const note of notes) places.push({ kind: 'note', where: `ConnectWise ticket ${view.ticket['id']} note ${note['id']}`, text: JSON.stringify(note) });
  }
  for (const mail of emulators.graph.mail()) {
    places.push({ kind: 'mail', where: `mail ${mail.id} to ${mail.to.join(', ')}`, text: `${mail.subject}\n${mail.from}\n${mail.to.join(',')}\n${mail.cc.join(',')}\n${mail.content}` });
  }
  for (const entry of emulators.connectwise.requests()) {
    places.push({ kind: 'emulator record', where: `ConnectWise request log: ${entry.method} ${entry.path}`, text: JSON.stringify(entry) });
  }
  for (const entry of emulators.graph.requests()) {
    places.push({ kind: 'emulator record', where: `Graph request log: ${entry.method} ${entry.path}`, text: JSON.stringify(entry) });
  }
  for (const delivery of emulators.connectwise.deliveries()) {
    const { url: _toTheWebhook, ...rest } = delivery;
    places.push({ kind: 'emulator record', where: `ConnectWise callback delivery ${delivery.id}`, text: JSON.stringify(rest) });
  }
  for (const effect of emulators.connectwise.effects()) places.push({ kind: 'emulator record', where: `ConnectWise effect ${effect.op}`, text: JSON.stringify(effect) });
  for (const effect of emulators.graph.effects()) places.push({ kind: 'emulator record', where: `Graph effect ${effect.op}`, text: JSON.stringify(effect) });
  for (const tenant of emulators.graph.tenants()) {
    places.push({ kind: 'emulator record', where: `Graph tenant ${tenant.clientId}`, text: JSON.stringify(emulators.graph.tenant(tenant.clientId)) });
  }
  return places;
}
