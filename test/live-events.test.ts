import { Writable } from 'node:stream';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/demo/sandbox.ts';
import { FINAL } from '../src/demo/stories.ts';
import { sql } from 'kysely';
import { createLogger } from '../src/logger.ts';
import { appendAudit } from '../src/store/audit.ts';
import { createTestDatabase } from './support/db.ts';

/**
 * Live updates over HTTP (issue 12): `GET /api/events` streams what changes in the caller's MSP,
 * from the database's notifications, to every role, and to nobody of another MSP.
 */
let sb: Sandbox | undefined;
const TOM = 'tom.rivera@northwind-it.example';
const BEN = 'ben.okafor@northwind-it.example';
const KIM = 'kim.lee@tailspin-ms.example';

/** The service's log lines (JSON), to find the access lines. */
const logLines: Record<string, unknown>[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
    done();
  },
});

beforeAll(async () => {
  sb = await startSandbox({ databaseUrl: await createTestDatabase(), logger: createLogger({ level: 'info', destination: capture }) });
}, 120_000);

afterAll(async () => {
  await sb?.close();
});

interface Stream {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every `data:` event so far, parsed. */
  events: Record<string, unknown>[];
  /** Every raw line so far (comments and `retry:` included). */
  lines: string[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  waitFor(match: (event: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): void;
}

/** A stream read over its own connection (node:http, no pooled agent), as an EventSource holds one. */
async function openStream(token: string | null, query = ''): Promise<Stream> {
  const events: Record<string, unknown>[] = [];
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const call = http.get(`${sb!.service.url}/api/events${query}`, { agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} }, resolve);
    call.on('error', reject);
  });
  let buffer = '';
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    buffer += chunk;
    let at = buffer.indexOf('\n');
    while (at >= 0) {
      const line = buffer.slice(0, at);
      buffer = buffer.slice(at + 1);
      lines.push(line);
      if (line.startsWith('data: ')) events.push(JSON.parse(line.slice(6)));
      at = buffer.indexOf('\n');
    }
    for (const wake of waiters) wake();
  });
  const ended = new Promise<void>((resolve) => {
    response.on('end', resolve);
    response.on('close', resolve);
  });
  return {
    status: response.statusCode ?? 0,
    headers: response.headers,
    events,
    lines,
    ended,
    async waitFor(match, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no such event within ${timeoutMs} ms; got ${JSON.stringify(events).slice(0, 1500)}`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, 200);
          waiters.add(wake);
        });
      }
    },
    stop: () => response.destroy(),
  };
}

describe('GET /api/events', () => {
  it('answers a signed-out caller 401, and ?once=1 the first event then closes, with the security headers', async () => {
    const signedOut = await fetch(`${sb!.service.url}/api/events`);
    expect(signedOut.status).toBe(401);
    const once = await openStream(await sb!.tokenFor(TOM), '?once=1');
    await once.ended;
    expect(once.status).toBe(200);
    expect(once.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(once.headers['content-security-policy']).toContain("default-src 'none'");
    expect(once.headers['x-frame-options']).toBe('DENY');
    expect(once.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(once.lines).toContain('retry: 3000');
    expect(once.events).toEqual([{ type: 'connected' }]);
    // Answered on the raw socket, it still has its access line (route pattern, status, caller).
    await expect
      .poll(() => logLines.find((line) => line['msg'] === 'request' && line['requestId'] === once.headers['x-request-id']))
      .toMatchObject({ route: '/api/events', method: 'GET', status: 200, userId: expect.any(String) });
    const bad = await fetch(`${sb!.service.url}/api/events?once=maybe`, { headers: { authorization: `Bearer ${await sb!.tokenFor(TOM)}` } });
    expect(bad.status).toBe(400);
  });

  it("streams a ticket's request, approval and step events up to its final state to its MSP only; billing gets ids and states, never the text", async () => {
    const technician = await openStream(await sb!.tokenFor(TOM));
    const billing = await openStream(await sb!.tokenFor(BEN));
    const other = await openStream(await sb!.tokenFor(KIM));
    try {
      for (const stream of [technician, billing, other]) await stream.waitFor((e) => e.type === 'connected', 10_000);
      const text = 'Could you give me Zendesk access, please? (live events test)';
      const ticket = await sb!.openTicket('contoso', 'alex.wilber@contoso.example', text);
      const request = await sb!.requestForTicket(ticket);
      const waiting = await sb!.waitForRequest(request.id, ['awaiting_approval', ...FINAL], 30_000);
      expect(waiting.state, String(waiting.last_error)).toBe('awaiting_approval');

      await technician.waitFor((e) => e.type === 'request' && e.id === request.id && e.state === 'awaiting_approval');
      const pending = await technician.waitFor((e) => e.type === 'approval' && e.requestId === request.id && e.status === 'pending');
      const approval = await sb!.service.ctx.db.selectFrom('approvals').select(['plan_hash']).where('id', '=', pending.id as string).executeTakeFirstOrThrow();
      const decided = await sb!.api('POST', `/api/approvals/${pending.id}/decision`, { token: await sb!.tokenFor(TOM), body: { decision: 'approve', planHash: approval.plan_hash } });
      expect(decided.status).toBe(200);
      const done = await sb!.waitForRequest(request.id, FINAL, 60_000);
      expect(done.state).toBe('replied');

      await technician.waitFor((e) => e.type === 'approval' && e.id === pending.id && e.status === 'approved');
      await technician.waitFor((e) => e.type === 'step' && e.requestId === request.id && e.status === 'succeeded');
      const final = await technician.waitFor((e) => e.type === 'request' && e.id === request.id && e.state === 'replied');
      expect(final).toMatchObject({ outcome: done.outcome, clientId: done.client_id });
      await technician.waitFor((e) => e.type === 'audit' && e.requestId === request.id);
      // The states in the order they were taken, ending with the final one.
      const states = technician.events.filter((e) => e.type === 'request' && e.id === request.id).map((e) => e.state);
      expect(states.at(-1)).toBe('replied');
      expect(states).toContain('awaiting_approval');

      await billing.waitFor((e) => e.type === 'request' && e.id === request.id && e.state === 'replied');
      const billingText = JSON.stringify(billing.events);
      expect(billingText).not.toContain('Zendesk');
      expect(billingText).not.toContain('alex.wilber');
      for (const event of billing.events) {
        expect(Object.keys(event)).not.toContain('subject');
        expect(Object.keys(event)).not.toContain('body');
        expect(Object.keys(event)).not.toContain('mspId');
      }

      // Tailspin's admin saw the whole story happen in Northwind and heard nothing of it.
      expect(other.events.filter((e) => e.type !== 'connected')).toEqual([]);
      expect(JSON.stringify(other.events)).not.toContain(request.id);
    } finally {
      for (const stream of [technician, billing, other]) stream.stop();
    }
  }, 120_000);

  it("survives the loss of its database connection: open streams are told to resync, and events flow again", async () => {
    const stream = await openStream(await sb!.tokenFor(TOM));
    try {
      await stream.waitFor((e) => e.type === 'connected', 10_000);
      const killed = await sql<{ pid: number }>`SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'deskhand-events'`.execute(sb!.service.ctx.db);
      expect(killed.rows).toHaveLength(1);
      await stream.waitFor((e) => e.type === 'resync', 20_000);
      // A change after the reconnection arrives (an audit row is the smallest change there is).
      const before = stream.events.length;
      await sb!.service.ctx.db.transaction().execute((tx) => appendAudit(tx, { mspId: 'northwind', actor: 'test', event: 'live_events_test', data: {}, at: new Date() }));
      await stream.waitFor((e) => e.type === 'audit' && stream.events.indexOf(e) >= before, 10_000);
    } finally {
      stream.stop();
    }
  }, 60_000);

  it('ends every open stream when the service closes, and the service closes promptly', async () => {
    const stream = await openStream(await sb!.tokenFor(TOM));
    await stream.waitFor((e) => e.type === 'connected', 10_000);
    const started = Date.now();
    const service = sb!;
    sb = undefined;
    const closing = service.close();
    await stream.ended;
    await closing;
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);
});
