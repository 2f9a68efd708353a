import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { ManualClock } from '../core/clock.ts';
import { demoSetup, openEmulatedTicket, type RunningEmulators, startEmulators } from '../integrations/emulators.ts';
import type { Logger } from '../logger.ts';
import type { Planner } from '../planner/types.ts';
import type { WorkerOptions } from '../engine/worker.ts';
import { startService, type Service } from '../service.ts';
import type { RequestRow } from '../store/schema.ts';
import { loadDemoWorld, type World } from '../world/fixture.ts';
import { randomBytes } from 'node:crypto';
import type { SecretKeys } from '../secrets.ts';

/**
 * A whole deskhand on one database with the built-in emulators and the demo world, and a clock that
 * only its owner moves: what `deskhand demo` plays its stories on and what end-to-end tests drive.
 * Everything goes through real HTTP: tickets are opened in the emulated PSA, which calls the
 * service's webhook; decisions go through the API.
 */
export interface Sandbox {
  service: Service;
  /** The first run's setup link while the database has no MSP (a sandbox started with `seed: false`). */
  setupLink: string | null;
  emulators: RunningEmulators;
  clock: ManualClock;
  world: World;
  /** Open a ticket as the employee would (portal member of the client's MSP); returns its id. */
  openTicket(clientSlug: string, requesterEmail: string, text: string, summary?: string): Promise<number>;
  /** The request created for a PSA ticket, once the webhook has arrived. */
  requestForTicket(ticketId: number, timeoutMs?: number): Promise<RequestRow>;
  /** Wait until the request satisfies `done` (a state, or a predicate). */
  waitForRequest(requestId: string, done: string[] | ((row: RequestRow) => boolean), timeoutMs?: number): Promise<RequestRow>;
  /** Wait until the outbox has nothing pending for this request (notes and replies delivered). */
  waitForDelivered(requestId: string, timeoutMs?: number): Promise<void>;
  /** Sign in as a demo user; returns a bearer token. */
  tokenFor(email: string): Promise<string>;
  api<T = unknown>(method: string, path: string, options?: { token?: string; body?: unknown }): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export interface SandboxOptions {
  databaseUrl: string;
  logger: Logger;
  /** The world loaded into the database and the emulators (default: the demo world). */
  world?: World;
  /** Requests the in-process worker handles at once (default 2); ignored when `worker` is given. */
  workerConcurrency?: number;
  /** The in-process worker: `false` runs the API and webhooks only (workers run elsewhere); default a fast-polling worker. */
  worker?: false | WorkerOptions;
  /** The key that encrypts credentials (default: a random one); other processes sharing the database need the same. */
  secretKey?: SecretKeys;
  /** Emulators already running with this world (e.g. with added latency); the sandbox does not close them. */
  emulators?: RunningEmulators;
  planner?: Planner;
  /**
   * Load the demo world (default true). False starts the emulators and the service on an empty
   * database: the first run's setup link (`service.setupLink`) creates the MSP, as `deskhand start --no-demo` does.
   */
  seed?: boolean;
}

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const world = options.world ?? loadDemoWorld();
  const clock = new ManualClock();
  const ownEmulators = !options.emulators;
  const emulators = options.emulators ?? (await startEmulators({ world }));
  const setup = demoSetup(world, emulators.endpoints);
  let service: Service;
  try {
    service = await startService({
      databaseUrl: options.databaseUrl,
      databaseLabel: 'sandbox database',
      secretKey: options.secretKey ?? randomBytes(32),
      logger: options.logger,
      clock,
      port: 0,
      worker: options.worker === undefined ? { concurrency: options.workerConcurrency ?? 2, pollMs: 200, sweepMs: 250 } : options.worker,
      ...(options.seed === false ? {} : { demo: setup }),
      emulators: { origins: Object.values(emulators.endpoints).filter((u): u is string => typeof u === 'string').map((u) => new URL(u).origin), pointAt: setup.pointAt },
      ...(options.planner ? { planner: options.planner } : {}),
    });
  } catch (error) {
    if (ownEmulators) await emulators.close();
    throw error;
  }
  const { db } = service.ctx;
  const tokens = new Map<string, string>();

  /**
   * A wait's limit counts from the last time the engine moved anything (a request or a message
   * changed, an audit row was written), not from its start: on a machine busy with other work
   * everything is slower, not stuck. A wait fails after `quietMs` without progress, or at a backstop
   * of twenty times that.
   */
  const progressDeadline = (quietMs: number) => {
    const started = Date.now();
    let deadline = started + quietMs;
    let lastMark = '';
    let lastLook = 0;
    return {
      async passed(): Promise<boolean> {
        const now = Date.now();
        if (now - lastLook >= 500) {
          lastLook = now;
          const mark = await engineProgressMark();
          if (mark !== lastMark) {
            lastMark = mark;
            deadline = Math.max(deadline, now + quietMs);
          }
        }
        return now > deadline || now - started > quietMs * 20;
      },
    };
  };
  const engineProgressMark = async (): Promise<string> => {
    const row = await sql<{ audit: string | null; outbox: string | null }>`
      SELECT (SELECT count(*)::text FROM audit_log) AS audit,
             (SELECT count(*)::text || ':' || coalesce(sum(attempts), 0)::text FROM outbox) AS outbox`.execute(db);
    return `${row.rows[0]?.audit}/${row.rows[0]?.outbox}`;
  };

  const sandbox: Sandbox = {
    service,
    setupLink: service.setupLink,
    emulators,
    clock,
    world,
    openTicket(clientSlug, requesterEmail, text, summary) {
      return openEmulatedTicket(world, emulators.endpoints, { client: clientSlug, requester: requesterEmail, text, ...(summary !== undefined ? { summary } : {}) });
    },
    async requestForTicket(ticketId, timeoutMs = 15_000) {
      const waiting = progressDeadline(timeoutMs);
      while (!(await waiting.passed())) {
        const row = await db.selectFrom('requests').selectAll().where('external_ref', '=', String(ticketId)).executeTakeFirst();
        if (row) return row;
        await sleep(25);
      }
      throw new Error(`no request was created for ticket ${ticketId} within ${timeoutMs} ms without progress`);
    },
    async waitForRequest(requestId, done, timeoutMs = 20_000) {
      const check = Array.isArray(done) ? (row: RequestRow) => done.includes(row.state) : done;
      const waiting = progressDeadline(timeoutMs);
      let last: RequestRow | undefined;
      while (!(await waiting.passed())) {
        last = await db.selectFrom('requests').selectAll().where('id', '=', requestId).executeTakeFirst();
        if (last && check(last)) return last;
        await sleep(25);
      }
      throw new Error(`request ${requestId} did not get there in ${timeoutMs} ms without progress (state ${last?.state}, outcome ${last?.outcome}, error ${last?.last_error})`);
    },
    async waitForDelivered(requestId, timeoutMs = 20_000) {
      const waiting = progressDeadline(timeoutMs);
      while (!(await waiting.passed())) {
        const pending = await db.selectFrom('outbox').select('id').where('request_id', '=', requestId).where('status', '=', 'pending').executeTakeFirst();
        if (!pending) return;
        await sleep(25);
      }
      throw new Error(`messages of request ${requestId} were not delivered in ${timeoutMs} ms without progress`);
    },
    async tokenFor(email) {
      const cached = tokens.get(email);
      if (cached) return cached;
      const { issueApiToken } = await import('../store/users.ts');
      const { token } = await issueApiToken(db, { email, name: 'sandbox', at: new Date() });
      tokens.set(email, token);
      return token;
    },
    async api(method, path, opts = {}) {
      const response = await fetch(`${service.url}${path}`, {
        method,
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      return { status: response.status, body: body as never };
    },
    async close() {
      await service.close();
      if (ownEmulators) await emulators.close();
    },
  };
  return sandbox;
}

