import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import pg from 'pg';
import { z } from 'zod';
import { DeskhandError } from '../core/errors.ts';
import { backoffMs } from '../integrations/http.ts';
import type { Logger } from '../logger.ts';
import { requireUser } from './auth.ts';
import { zodSchema } from './schema.ts';

/** The channel the triggers of migration 0010 notify on. */
export const LIVE_CHANNEL = 'deskhand_events';
/** A comment line this often keeps proxies and browsers from timing an idle stream out. */
export const HEARTBEAT_MS = 15_000;
/** What the browser waits before reconnecting a dropped stream (the `retry:` field). */
export const RETRY_MS = 3_000;

/**
 * What changed, as the triggers send it, without the MSP (the hub routes by it; a page has no use
 * for it). Ids and states only: nothing any role of the MSP may not see.
 */
export type LiveEvent =
  | { type: 'connected' }
  /** The hub's connection to the database came back: events may have been missed, reload everything. */
  | { type: 'resync' }
  | { type: 'request'; id: string; state: string; outcome: string | null; clientId: string | null }
  | { type: 'approval'; id: string; requestId: string; status: string }
  | { type: 'step'; id: string; requestId: string; stepIndex: number; status: string }
  | { type: 'audit'; seq: number; requestId: string | null };

type Listener = (event: LiveEvent) => void;

/**
 * The API process's one LISTEN connection, fanned out to the event streams of each MSP. When the
 * connection drops it is opened again with backoff, and every stream is told to `resync`, since
 * notifications sent meanwhile are lost.
 */
export class LiveEvents {
  private client: pg.Client | null = null;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly closers = new Set<() => void>();
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private everConnected = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  /** Connects (a failure is retried in the background: the service starts without live updates). */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Whether the hub has closed (the service is shutting down). */
  get isClosed(): boolean {
    return this.closed;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'deskhand-events' });
    let dropped = false;
    const drop = (reason: string) => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = null;
      client.end().catch(() => {});
      if (!this.closed) {
        this.logger.warn({ reason }, 'the live updates connection to the database dropped; reconnecting');
        this.scheduleReconnect();
      }
    };
    client.on('error', (error) => drop(error.message));
    client.on('end', () => drop('connection ended'));
    client.on('notification', (message) => {
      if (message.channel === LIVE_CHANNEL && message.payload) this.dispatch(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${LIVE_CHANNEL}`);
    } catch (error) {
      drop(error instanceof Error ? error.message : String(error));
      return;
    }
    if (this.closed || dropped) {
      client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.attempt = 0;
    if (this.everConnected) this.broadcast({ type: 'resync' });
    this.everConnected = true;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, backoffMs(this.attempt, 500, 30_000));
    this.retryTimer.unref();
  }

  private dispatch(payload: string): void {
    let parsed: { mspId?: unknown; type?: unknown } & Record<string, unknown>;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return;
    }
    if (typeof parsed.mspId !== 'string' || typeof parsed.type !== 'string') return;
    const listeners = this.listeners.get(parsed.mspId);
    if (!listeners) return;
    const { mspId: _msp, ...event } = parsed;
    for (const listener of listeners) listener(event as LiveEvent);
  }

  private broadcast(event: LiveEvent): void {
    for (const listeners of this.listeners.values()) for (const listener of listeners) listener(event);
  }

  /** Receive the events of one MSP; `onClose` is called when the hub closes. Returns the unsubscribe. */
  subscribe(mspId: string, listener: Listener, onClose: () => void): () => void {
    const set = this.listeners.get(mspId) ?? new Set<Listener>();
    this.listeners.set(mspId, set);
    set.add(listener);
    this.closers.add(onClose);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(mspId) === set) this.listeners.delete(mspId);
      this.closers.delete(onClose);
    };
  }

  /** Ends every stream and the LISTEN connection (before the HTTP server closes, which waits for open streams). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const close of [...this.closers]) close();
    this.closers.clear();
    this.listeners.clear();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }
}

const eventsQuery = z.object({
  once: z.enum(['1', 'true']).optional().describe('Answer the first event (`connected`) and close: for scripts and checks'),
});

/**
 * `GET /api/events`: the caller's MSP's changes as server-sent events, each a `data:` line of JSON
 * with its `type`. The answer is written on the raw socket (reply.hijack), after the onRequest hooks
 * (security headers, request id) have set their headers, which are copied onto it.
 */
export function registerEventRoutes(app: FastifyInstance, live: LiveEvents | null): void {
  app.get(
    '/api/events',
    {
      schema: {
        tags: ['live'],
        operationId: 'streamEvents',
        summary:
          "Server-sent events of what changes in the caller's MSP (request, approval, step, audit: ids and states only); ?once=1 answers the first event and closes (for scripts and checks)",
        querystring: zodSchema(eventsQuery),
        response: {
          200: {
            description: 'A text/event-stream: `retry: 3000`, then `data: {"type": …}` events (connected, resync, request, approval, step, audit) and a comment every 15 s',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      if (!live) throw new DeskhandError('upstream_retryable', 'live updates do not run in this process');
      if (live.isClosed) throw new DeskhandError('upstream_retryable', 'the service is shutting down');
      const once = Boolean((request.query as { once?: string }).once);
      openStream(request, reply, live, user.mspId, once);
      return reply;
    },
  );
}

function openStream(request: FastifyRequest, reply: FastifyReply, live: LiveEvents, mspId: string, once: boolean): void {
  reply.hijack();
  const res = reply.raw;
  // The headers the hooks set on the reply (helmet's, x-request-id) go out with the raw answer.
  const headers: Record<string, string | number | string[]> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value as string | number | string[];
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // A proxy (nginx) must pass each event on at once, not buffer the stream.
    'x-accel-buffering': 'no',
    // A stream's connection is never reused: when it ends (the client left, the service closes) the
    // socket goes with it, so closing the HTTP server never waits on a half-open stream.
    connection: 'close',
  });
  if (request.method === 'HEAD') {
    res.end();
    return;
  }
  const write = (event: LiveEvent) => res.write(`data: ${JSON.stringify(event)}\n\n`);
  res.write(`retry: ${RETRY_MS}\n\n`);
  write({ type: 'connected' });
  if (once) {
    res.end();
    return;
  }
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    unsubscribe();
    // Ended, then closed: a client that stopped reading cannot keep its socket (and so the server's close) waiting.
    res.end(() => res.destroy());
    setTimeout(() => res.destroy(), 1_000).unref();
  };
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  const unsubscribe = live.subscribe(mspId, write, end);
  request.raw.on('close', end);
  res.on('close', end);
  res.on('error', end);
}
