import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { CONNECTWISE_ACCEPT } from '../src/integrations/connectwise/api-version.ts';
import { DEMO_TICKET_STATUSES } from '../src/integrations/connectwise/demo.ts';
import { emulatorApiCredentials, emulatorPortalCredentials } from '../src/integrations/connectwise/emulator/data.ts';
import { callbackSignature, SIGNATURE_HEADER } from '../src/integrations/connectwise/webhook.ts';
import { emulatorAppCredentials } from '../src/integrations/m365/emulator/credentials.ts';
import type { World } from '../src/world/fixture.ts';
import { FREELY_GRANTED_APPS } from '../src/world/generate.ts';
import type { Ask } from './asks.ts';
import { type BenchEmulators, startBenchEmulators } from './emulators.ts';
import type { Target } from './drive.ts';
import { type RequestStatus, RequestWatcher, type StatusQuery, splitKeys } from './watch.ts';

/**
 * The baseline: the least code that does the same outside work as the engine, to measure what the
 * engine costs on top. Its own emulators (same world, same latency), a plain node:http server for
 * the signed ConnectWise callbacks and the technician's decision, an in-memory queue worked by as
 * many lanes as the engine's worker has, plain `pg` queries (no Kysely, no engine), and exactly the
 * HTTP calls the engine makes per request (see bench/README.md):
 *
 *   intake   webhook → verify signature → INSERT request
 *            GET ticket, GET its notes, the engine's seven Graph reads, INSERT plan,
 *            POST internal note, UPDATE state (noted),
 *            INSERT approval + UPDATE state (one transaction), POST approval notice
 *   decision POST /decision/:id → UPDATE approval + UPDATE state (one transaction)
 *   execute  SELECT plan, Graph POST members/$ref, INSERT step, POST reply note, UPDATE state (replied)
 */
export interface Baseline {
  target: Target;
  emulators: BenchEmulators;
  counters: { statements: number; transactions: number };
  close(): Promise<void>;
}

const SCHEMA = 'bench_baseline';
const USER_SELECT = 'id,userPrincipalName,displayName,givenName,surname,mail,jobTitle,department,accountEnabled,usageLocation';
const GROUP_SELECT = 'id,displayName,description,mail,groupTypes,mailEnabled,securityEnabled,isAssignableToRole';

interface Job {
  kind: 'diagnose' | 'execute';
  requestId: string;
}

export async function startBaseline(input: { world: World; databaseUrl: string; latency: boolean; concurrency: number }): Promise<Baseline> {
  const { world } = input;
  const counters = { statements: 0, transactions: 0 };
  const pool = new pg.Pool({ connectionString: input.databaseUrl, max: 20, application_name: 'deskhand-bench-baseline' });
  pool.on('error', () => {});
  const query = <R extends pg.QueryResultRow>(text: string, params: unknown[] = []) => {
    counters.statements++;
    return pool.query<R>(text, params);
  };
  const transaction = async (statements: [string, unknown[]][]): Promise<pg.QueryResult[]> => {
    const client = await pool.connect();
    try {
      counters.statements += statements.length + 2;
      await client.query('BEGIN');
      const results: pg.QueryResult[] = [];
      for (const [text, params] of statements) results.push(await client.query(text, params));
      await client.query('COMMIT');
      counters.transactions++;
      return results;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  };
  await pool.query(`
    CREATE SCHEMA IF NOT EXISTS ${SCHEMA};
    CREATE TABLE IF NOT EXISTS ${SCHEMA}.requests (
      id uuid PRIMARY KEY, msp_id text NOT NULL, ticket_id integer NOT NULL, client_slug text, requester text,
      state text NOT NULL, outcome text, last_error text, note_at timestamptz,
      created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, UNIQUE (msp_id, ticket_id));
    CREATE TABLE IF NOT EXISTS ${SCHEMA}.plans (
      request_id uuid PRIMARY KEY REFERENCES ${SCHEMA}.requests(id), diagnosis jsonb NOT NULL, steps jsonb NOT NULL, hash text NOT NULL, created_at timestamptz NOT NULL);
    CREATE TABLE IF NOT EXISTS ${SCHEMA}.approvals (
      id uuid PRIMARY KEY, request_id uuid NOT NULL REFERENCES ${SCHEMA}.requests(id), plan_hash text NOT NULL, status text NOT NULL,
      created_at timestamptz NOT NULL, decided_at timestamptz);
    CREATE INDEX IF NOT EXISTS approvals_request_idx ON ${SCHEMA}.approvals (request_id);
    CREATE TABLE IF NOT EXISTS ${SCHEMA}.steps (
      request_id uuid NOT NULL REFERENCES ${SCHEMA}.requests(id), step integer NOT NULL, status text NOT NULL, result jsonb, finished_at timestamptz NOT NULL,
      PRIMARY KEY (request_id, step));`);

  const emulators = await startBenchEmulators(world, input.latency);
  const cwBase = `${emulators.connectwise.url}/${emulators.connectwise.codebase}apis/3.0`;
  const graphBase = emulators.endpoints.graph;
  const cwHeaders = new Map(
    world.msps.map((m) => {
      const c = emulatorApiCredentials(m.id);
      return [m.id, { authorization: `Basic ${Buffer.from(`${c.companyId}+${c.publicKey}:${c.privateKey}`).toString('base64')}`, clientId: c.clientId, accept: CONNECTWISE_ACCEPT }];
    }),
  );
  const signingKeys = new Map<string, Promise<string>>();
  const graphTokens = new Map<string, Promise<string>>();

  const call = async (method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<unknown> => {
    const response = await fetch(url, {
      method,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : null,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) : null;
  };
  const cw = (mspId: string, method: string, path: string, body?: unknown) => call(method, `${cwBase}/${path}`, cwHeaders.get(mspId)!, body);
  const graphToken = (clientSlug: string): Promise<string> => {
    let token = graphTokens.get(clientSlug);
    if (!token) {
      const app = emulatorAppCredentials(clientSlug);
      token = (async () => {
        const response = await fetch(`${emulators.endpoints.login}/${app.tenantId}/oauth2/v2.0/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: app.clientId, client_secret: app.clientSecret, grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' }),
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await response.json()) as { access_token?: string };
        if (!response.ok || !body.access_token) throw new Error(`the Graph token endpoint answered ${response.status}`);
        return body.access_token;
      })();
      token.catch(() => graphTokens.delete(clientSlug));
      graphTokens.set(clientSlug, token);
    }
    return token;
  };
  // The ticket's status per the demo map, as the engine's ticket capability moves it: read the ticket
  // (its board and status), list the board's statuses, and PATCH the status (nothing when already there).
  const moveTicket = async (mspId: string, ticketId: number, phase: 'waiting' | 'in_progress' | 'resolved') => {
    const wanted = DEMO_TICKET_STATUSES[phase];
    const ticket = (await cw(mspId, 'GET', `service/tickets/${ticketId}`)) as { board?: { id: number; name: string }; status?: { name: string } };
    if (!ticket.board || ticket.board.name !== DEMO_TICKET_STATUSES.board || ticket.status?.name === wanted) return;
    const statuses = (await cw(mspId, 'GET', `service/boards/${ticket.board.id}/statuses?pageSize=1000&page=1`)) as { id: number; name: string }[];
    const status = statuses.find((s) => s.name === wanted);
    if (status) await cw(mspId, 'PATCH', `service/tickets/${ticketId}`, [{ op: 'replace', path: 'status/id', value: status.id }]);
  };
  const graph = async (clientSlug: string, method: string, path: string, body?: unknown) =>
    call(method, `${graphBase}/${path}`, { authorization: `Bearer ${await graphToken(clientSlug)}` }, body);

  // --- the queue ----------------------------------------------------------------------------------
  const queue: Job[] = [];
  const wakers: (() => void)[] = [];
  let running = true;
  const enqueue = (job: Job) => {
    queue.push(job);
    wakers.shift()?.();
  };
  const fail = async (requestId: string, error: unknown) => {
    await query(`UPDATE ${SCHEMA}.requests SET state = 'failed', last_error = $2, updated_at = $3 WHERE id = $1`, [requestId, String((error as Error)?.message ?? error), new Date()]).catch(() => {});
  };

  const diagnose = async (requestId: string) => {
    const { rows } = await query<{ msp_id: string; ticket_id: number }>(`SELECT msp_id, ticket_id FROM ${SCHEMA}.requests WHERE id = $1`, [requestId]);
    const request = rows[0]!;
    const ticket = (await cw(request.msp_id, 'GET', `service/tickets/${request.ticket_id}`)) as { summary: string; contactEmailAddress?: string; company?: { identifier?: string } };
    const notes = (await cw(request.msp_id, 'GET', `service/tickets/${request.ticket_id}/notes?orderBy=id+asc&page=1&pageSize=1000`)) as { text?: string }[];
    const text = `${ticket.summary}\n${notes[0]?.text ?? ''}`;
    const slug = ticket.company?.identifier ?? '';
    const upn = encodeURIComponent(ticket.contactEmailAddress ?? '');
    // The engine's reads, in its order and parallelism (from the Graph emulator's request log of one
    // engine request, and its prefetch in src/engine/diagnose.ts): the tenant's groups and licenses
    // and the requester (profile, then sign-in activity) at once; then the requester's groups,
    // licenses and manager at once. The group asked for is found in the tenant's groups.
    const tenantGroups = graph(slug, 'GET', `groups?$select=${GROUP_SELECT}&$top=999`) as Promise<{ value: { id: string; displayName: string }[] }>;
    const tenantSkus = graph(slug, 'GET', 'subscribedSkus?$select=skuId,skuPartNumber,prepaidUnits,consumedUnits');
    tenantGroups.catch(() => {});
    tenantSkus.catch(() => {});
    const user = (await graph(slug, 'GET', `users/${upn}?$select=${USER_SELECT}`)) as { id: string; displayName: string };
    await graph(slug, 'GET', `users/${user.id}?$select=id,signInActivity`);
    await Promise.all([
      graph(slug, 'GET', `users/${user.id}/memberOf?$select=${GROUP_SELECT}&$top=999`),
      graph(slug, 'GET', `users/${user.id}/licenseDetails?$select=skuId,skuPartNumber`),
      // No manager is a 404, as in Graph; the engine reads it as "none".
      graph(slug, 'GET', `users/${user.id}/manager?$select=${USER_SELECT}`).catch((error: Error) => {
        if (!/answered 404/.test(error.message)) throw error;
      }),
    ]);
    const [groups] = await Promise.all([tenantGroups, tenantSkus]);
    const groupName = groupAsked(text);
    const groupId = groupName ? (groups.value.find((g) => g.displayName === groupName)?.id ?? null) : null;
    const steps = groupId ? [{ tool: 'm365.add_group_member', args: { user: user.id, group: groupId } }] : [];
    const hash = `${requestId.replace(/-/g, '')}${requestId.replace(/-/g, '')}`;
    await query(`INSERT INTO ${SCHEMA}.plans (request_id, diagnosis, steps, hash, created_at) VALUES ($1, $2, $3, $4, $5)`, [
      requestId,
      JSON.stringify({ requester: user.displayName, text }),
      JSON.stringify(steps),
      hash,
      new Date(),
    ]);
    await cw(request.msp_id, 'POST', `service/tickets/${request.ticket_id}/notes`, {
      text: `Diagnosis and plan for ${user.displayName}: ${steps.length > 0 ? `add to ${groupName}` : 'escalate to a technician'}.`,
      internalAnalysisFlag: true,
      detailDescriptionFlag: false,
      processNotifications: false,
    });
    const notedAt = new Date();
    if (steps.length === 0) {
      await query(`UPDATE ${SCHEMA}.requests SET state = 'escalated', outcome = 'escalated', note_at = $2, updated_at = $2 WHERE id = $1`, [requestId, notedAt]);
      return;
    }
    await query(`UPDATE ${SCHEMA}.requests SET state = 'noted', note_at = $2, updated_at = $2 WHERE id = $1`, [requestId, notedAt]);
    const at = new Date();
    await transaction([
      [`INSERT INTO ${SCHEMA}.approvals (id, request_id, plan_hash, status, created_at) VALUES ($1, $2, $3, 'pending', $4)`, [crypto.randomUUID(), requestId, hash, at]],
      [`UPDATE ${SCHEMA}.requests SET state = 'awaiting_approval', updated_at = $2 WHERE id = $1`, [requestId, at]],
    ]);
    await cw(request.msp_id, 'POST', `service/tickets/${request.ticket_id}/notes`, {
      text: `Approval needed: add ${user.displayName} to ${groupName}.`,
      internalAnalysisFlag: true,
      detailDescriptionFlag: false,
      processNotifications: false,
    });
    await moveTicket(request.msp_id, request.ticket_id, 'waiting');
  };

  const execute = async (requestId: string) => {
    const { rows } = await query<{ msp_id: string; ticket_id: number; client_slug: string; steps: { args: { user: string; group: string } }[] }>(
      `SELECT r.msp_id, r.ticket_id, r.client_slug, p.steps FROM ${SCHEMA}.requests r JOIN ${SCHEMA}.plans p ON p.request_id = r.id WHERE r.id = $1`,
      [requestId],
    );
    const row = rows[0]!;
    // Who decided, when, with what comment: an internal note (the engine's decision note), then the
    // ticket moves to in progress.
    await cw(row.msp_id, 'POST', `service/tickets/${row.ticket_id}/notes`, {
      text: `Approved by a technician at ${new Date().toISOString()}.`,
      internalAnalysisFlag: true,
      detailDescriptionFlag: false,
      processNotifications: false,
    });
    await moveTicket(row.msp_id, row.ticket_id, 'in_progress');
    for (const [index, s] of row.steps.entries()) {
      await graph(row.client_slug, 'POST', `groups/${s.args.group}/members/$ref`, { '@odata.id': `${graphBase}/directoryObjects/${s.args.user}` });
      await query(`INSERT INTO ${SCHEMA}.steps (request_id, step, status, result, finished_at) VALUES ($1, $2, 'succeeded', $3, $4)`, [requestId, index, '{}', new Date()]);
    }
    await cw(row.msp_id, 'POST', `service/tickets/${row.ticket_id}/notes`, {
      text: 'Done: you now have access. Sign out and in again if you do not see it yet.',
      internalAnalysisFlag: false,
      detailDescriptionFlag: true,
      processNotifications: true,
    });
    await query(`UPDATE ${SCHEMA}.requests SET state = 'replied', outcome = 'executed', updated_at = $2 WHERE id = $1`, [requestId, new Date()]);
    await moveTicket(row.msp_id, row.ticket_id, 'resolved');
  };

  const lanes = Array.from({ length: input.concurrency }, async () => {
    while (running) {
      const job = queue.shift();
      if (!job) {
        await new Promise<void>((resolve) => wakers.push(resolve));
        continue;
      }
      try {
        if (job.kind === 'diagnose') await diagnose(job.requestId);
        else await execute(job.requestId);
      } catch (error) {
        await fail(job.requestId, error);
      }
    }
  });

  // --- the HTTP server: webhooks and decisions ------------------------------------------------------
  const handle = async (req: IncomingMessage): Promise<{ status: number; body: unknown }> => {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const webhook = /^\/cw\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'POST' && webhook) {
      const mspId = webhook[1]!;
      const payload = JSON.parse(raw) as { Action: string; MemberId: string; ID: number; Entity: string | Record<string, unknown>; Metadata: { key_url: string } };
      const keyUrl = payload.Metadata.key_url;
      let key = signingKeys.get(keyUrl);
      if (!key) {
        key = (call('GET', keyUrl, { clientId: cwHeaders.get(mspId)!.clientId }) as Promise<{ signing_key: string }>).then((b) => b.signing_key);
        key.catch(() => signingKeys.delete(keyUrl));
        signingKeys.set(keyUrl, key);
      }
      if (callbackSignature(await key, raw) !== req.headers[SIGNATURE_HEADER]) return { status: 401, body: { error: 'bad signature' } };
      if (payload.Action.toLowerCase() !== 'added' || payload.MemberId === 'deskhand') return { status: 202, body: { accepted: false } };
      const entity = (typeof payload.Entity === 'string' ? JSON.parse(payload.Entity) : payload.Entity) as { company?: { identifier?: string }; contactEmailAddress?: string };
      const at = new Date();
      const inserted = await query<{ id: string }>(
        `INSERT INTO ${SCHEMA}.requests (id, msp_id, ticket_id, client_slug, requester, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'received', $6, $6) ON CONFLICT (msp_id, ticket_id) DO NOTHING RETURNING id`,
        [crypto.randomUUID(), mspId, Number(payload.ID), entity.company?.identifier ?? null, entity.contactEmailAddress ?? null, at],
      );
      const id = inserted.rows[0]?.id;
      if (id) enqueue({ kind: 'diagnose', requestId: id });
      return { status: 202, body: { accepted: Boolean(id) } };
    }
    const decision = /^\/decision\/([0-9a-f-]{36})$/.exec(url.pathname);
    if (req.method === 'POST' && decision) {
      const at = new Date();
      const [approval] = await transaction([
        [`UPDATE ${SCHEMA}.approvals SET status = 'approved', decided_at = $2 WHERE id = $1 AND status = 'pending' RETURNING request_id`, [decision[1], at]],
        [
          `UPDATE ${SCHEMA}.requests SET state = 'executing', updated_at = $2 WHERE id = (SELECT request_id FROM ${SCHEMA}.approvals WHERE id = $1) AND state = 'awaiting_approval'`,
          [decision[1], at],
        ],
      ]);
      const requestId = (approval!.rows[0] as { request_id: string } | undefined)?.request_id;
      if (!requestId) return { status: 409, body: { error: 'not pending' } };
      enqueue({ kind: 'execute', requestId });
      return { status: 200, body: { approved: true } };
    }
    return { status: 404, body: { error: 'not found' } };
  };
  const server: Server = createServer((req, res) => {
    handle(req).then(
      ({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: String((error as Error)?.message ?? error) }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The baseline's own callback registrations (its emulators send tickets to it alone).
  for (const msp of world.msps.filter((m) => m.psa.toLowerCase() === 'connectwise')) {
    await cw(msp.id, 'POST', 'system/callbacks', { url: `${base}/cw/${msp.id}?recordId=`, description: 'bench baseline', type: 'ticket', level: 'owner', objectId: 1 });
  }

  const portalHeaders = new Map(
    world.msps.map((m) => {
      const c = emulatorPortalCredentialsOf(m.id);
      return [m.id, c];
    }),
  );
  const statusQuery: StatusQuery = async (p, keys) => {
    const result = await p.query<{ key: string; state: string; outcome: string | null; last_error: string | null; note_at: Date | null; approval_id: string | null; plan_hash: string | null }>(
      `SELECT r.msp_id || '/' || r.ticket_id AS key, r.state, r.outcome, r.last_error, r.note_at, a.id::text AS approval_id, a.plan_hash
         FROM unnest($1::text[], $2::int[]) AS w(msp, ticket)
         JOIN ${SCHEMA}.requests r ON r.msp_id = w.msp AND r.ticket_id = w.ticket
         LEFT JOIN ${SCHEMA}.approvals a ON a.request_id = r.id AND a.status = 'pending'`,
      splitKeys(keys),
    );
    return result.rows.map(
      (r): RequestStatus => ({ key: r.key, state: r.state, outcome: r.outcome, lastError: r.last_error, noteAt: r.note_at, approvalId: r.approval_id, planHash: r.plan_hash }),
    );
  };
  const watchPool = new pg.Pool({ connectionString: input.databaseUrl, max: 2, application_name: 'deskhand-bench-watch' });
  watchPool.on('error', () => {});
  const watcher = new RequestWatcher(watchPool, statusQuery);

  const target: Target = {
    name: 'baseline',
    watcher,
    emulators,
    async open(ask: Ask) {
      const ticket = (await call('POST', `${cwBase}/service/tickets`, portalHeaders.get(ask.mspId)!, {
        summary: ask.text.length > 100 ? `${ask.text.slice(0, 97)}...` : ask.text,
        company: { identifier: ask.clientId },
        contactEmailAddress: ask.email,
        initialDescription: ask.text,
      })) as { id: number };
      return `${ask.mspId}/${ticket.id}`;
    },
    async approve(_key, status) {
      const response = await fetch(`${base}/decision/${status.approvalId}`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`the baseline's decision answered ${response.status}`);
    },
  };

  return {
    target,
    emulators,
    counters,
    async close() {
      running = false;
      for (const wake of wakers.splice(0)) wake();
      watcher.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.race([Promise.allSettled(lanes), new Promise((r) => setTimeout(r, 10_000))]);
      await emulators.close();
      await watchPool.end().catch(() => {});
      await pool.end().catch(() => {});
    },
  };
}

function emulatorPortalCredentialsOf(mspId: string): Record<string, string> {
  // The portal member opens tickets as an employee would; same headers as the engine's driver uses.
  const c = emulatorPortalCredentials(mspId);
  return { authorization: `Basic ${Buffer.from(`${c.companyId}+${c.publicKey}:${c.privateKey}`).toString('base64')}`, clientId: c.clientId };
}

/** The application group a ticket asks for, the way the bench words its asks. */
function groupAsked(text: string): string | null {
  if (/accounts payable/i.test(text)) return 'SM-Accounts-Payable';
  const app = FREELY_GRANTED_APPS.find((a) => new RegExp(`\\b${a.app}\\b`, 'i').test(text));
  return app?.group ?? null;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
