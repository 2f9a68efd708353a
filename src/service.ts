import type { FastifyInstance } from 'fastify';
import type { Clock } from './core/clock.ts';
import { systemClock } from './core/clock.ts';
import { describeError } from './core/errors.ts';
import type { HomeInfo } from './api/home.ts';
import { buildApi } from './api/server.ts';
import { LiveEvents } from './api/events.ts';
import type { EngineContext } from './engine/context.ts';
import { CircuitBreakers } from './engine/breaker.ts';
import { Worker, type WorkerOptions } from './engine/worker.ts';
import { toolCatalog } from './integrations/catalog.ts';
import { IntegrationRegistry } from './integrations/registry.ts';
import type { Logger } from './logger.ts';
import { BuiltinPlanner } from './planner/builtin.ts';
import type { Planner } from './planner/types.ts';
import { SecretBox, type SecretKeys } from './secrets.ts';
import { type DbHandle, migrate, openDb } from './store/db.ts';
import { issueSetupToken } from './store/one-time-links.ts';
import type { DemoIntegration } from './integrations/module.ts';
import { DEMO_PASSWORD, pointAtEmulators, seedDemoWorld } from './world/seed.ts';
import type { World } from './world/fixture.ts';

/**
 * One deskhand process: the API, the worker, or both, on one database. `deskhand start`, the demo
 * and the end-to-end tests all build the service through here.
 */
export interface ServiceOptions {
  databaseUrl: string;
  /** Describes the database (never the password). */
  databaseLabel: string;
  secretKey: SecretKeys;
  logger: Logger;
  clock?: Clock;
  planner?: Planner;
  publicUrl?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  api?: boolean;
  worker?: boolean | WorkerOptions;
  /**
   * Load the demo world into an empty database (no MSP at all: one set up by hand is never seeded)
   * and point it at the emulators (src/integrations/emulators.ts `demoSetup`).
   */
  demo?: {
    world: World;
    integrations: readonly DemoIntegration[];
    emulators: { name: string; url: string }[];
    pointAt(kind: string, settings: Record<string, unknown>): Record<string, unknown>;
  };
  /**
   * Where outside systems call this service back (`<base>/webhooks/<kind>/...`), for the
   * integrations' `onConnect` (registering callbacks). Default: the loopback address it listens on
   * when the demo world is loaded (the emulators call back there), else none (new tickets come in
   * through the poll).
   */
  webhookBaseUrl?: string | null;
  workerId?: string;
  /**
   * The built-in emulators running beside this service (default: the demo's). An integration an
   * admin points at one of them is marked emulated by the service itself (the settings that let it
   * use http:// on loopback are never taken from the API), and pointed at their addresses at start.
   */
  emulators?: KnownEmulators;
}

/** The running built-in emulators as the service sees them: their origins, and how a system's settings point at them. */
export interface KnownEmulators {
  origins: readonly string[];
  pointAt(kind: string, settings: Record<string, unknown>): Record<string, unknown>;
}

export interface Service {
  url: string;
  ctx: EngineContext;
  store: DbHandle;
  app: FastifyInstance | null;
  worker: Worker | null;
  /**
   * While the database has no MSP: the first run's setup link (`<publicUrl>/setup#token=...`, the
   * token in the fragment so that it never reaches a server's log), valid 24 hours; else null.
   */
  setupLink: string | null;
  close(): Promise<void>;
}

export async function startService(options: ServiceOptions): Promise<Service> {
  const logger = options.logger;
  const store = openDb({ url: options.databaseUrl, maxConnections: 20 });
  try {
    await migrate(store.db);
  } catch (error) {
    await store.close();
    throw error;
  }
  const secrets = new SecretBox(options.secretKey);
  const clock = options.clock ?? systemClock;
  let publicUrl = options.publicUrl ?? '';
  const ctx: EngineContext = {
    db: store.db,
    clock,
    logger,
    secrets,
    integrations: new IntegrationRegistry(store.db, secrets, undefined, { clock, logger }),
    planner: options.planner ?? new BuiltinPlanner(),
    catalog: toolCatalog,
    publicUrl,
    workerId: options.workerId ?? `worker-${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
    breakers: new CircuitBreakers(store.db, clock),
  };
  if (options.demo) {
    await seedDemoWorld(store.db, { world: options.demo.world, secrets, integrations: options.demo.integrations, at: clock.now(), logger });
  }
  const emulators: KnownEmulators | null =
    options.emulators ?? (options.demo ? { origins: options.demo.emulators.map((e) => new URL(e.url).origin), pointAt: options.demo.pointAt } : null);
  if (emulators) await pointAtEmulators(store.db, emulators.pointAt, clock.now());
  // The demo users are offered on the first-run page only when the demo world is what this database holds.
  const demoLoaded = options.demo ? Boolean(await store.db.selectFrom('settings').select('key').where('key', '=', 'demo_world').executeTakeFirst()) : false;

  let worker: Worker | null = null;
  if (options.worker !== false) {
    const workerOptions = typeof options.worker === 'object' ? options.worker : {};
    worker = new Worker(ctx, { listenUrl: options.databaseUrl, ...workerOptions });
  }
  let app: FastifyInstance | null = null;
  let live: LiveEvents | null = null;
  let url = '';
  // Known once listening; the API reads it when an admin connects an integration.
  let webhookBaseUrl: string | null = null;
  if (options.api !== false) {
    const demoUsers =
      options.demo && demoLoaded ? options.demo.world.msps.flatMap((m) => m.users.map((u) => ({ email: u.email, role: u.role as HomeInfo['demoUsers'][number]['role'], msp: m.name }))) : [];
    const home = (): HomeInfo => ({ demoPassword: demoLoaded ? DEMO_PASSWORD : null, demoUsers });
    live = new LiveEvents(options.databaseUrl, logger);
    await live.start();
    let address: string;
    try {
      app = await buildApi({ ctx, onWork: () => worker?.poke(), home, emulators, webhookBaseUrl: () => webhookBaseUrl, live });
      address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
    } catch (error) {
      await live.close();
      throw error;
    }
    url = address.replace('[::1]', 'localhost');
    const port = Number(new URL(address).port);
    if (!publicUrl) publicUrl = `http://localhost:${port}`;
    ctx.publicUrl = publicUrl;
  }
  webhookBaseUrl = options.webhookBaseUrl !== undefined ? options.webhookBaseUrl : emulators && app ? webhookBase(url) : null;
  if (app || webhookBaseUrl) await connectIntegrations(ctx, webhookBaseUrl, logger);
  await worker?.start();

  let setupLink: string | null = null;
  if (app) {
    const issued = await issueSetupToken(store.db, clock.now());
    if (issued) {
      setupLink = `${ctx.publicUrl}/setup#token=${issued.token}`;
      logger.info({ expiresAt: issued.expiresAt.toISOString() }, `no MSP yet: open the setup link to create yours and its first admin (valid 24 hours, once): ${setupLink}`);
    }
  }

  return {
    url,
    ctx,
    store,
    app,
    worker,
    setupLink,
    async close() {
      await worker?.stop();
      // Open event streams first: the HTTP server's close waits for every open answer.
      await live?.close();
      await app?.close();
      await store.close();
    },
  };
}

/** The emulators call back on loopback, where the service listens. */
function webhookBase(listenUrl: string): string {
  const url = new URL(listenUrl);
  return `http://127.0.0.1:${url.port}`;
}

/**
 * Run every enabled integration's `onConnect` (registering callbacks at this service's webhook URL,
 * checking the credentials); idempotent, so it runs at every start. A failure is logged for the
 * operator and never stops the service: requests still come in through the poll.
 */
export async function connectIntegrations(ctx: EngineContext, webhookBaseUrl: string | null, logger: Logger): Promise<void> {
  for (const row of await ctx.integrations.enabledWith('onConnect')) {
    const module = ctx.integrations.module(row.kind);
    try {
      const outcome = await module.onConnect!(ctx.integrations.connected(row), { logger, webhookBaseUrl });
      if (outcome.ok) logger.info({ integration: row.name, system: module.label, detail: outcome.detail }, 'integration connected');
      else logger.warn({ integration: row.name, system: module.label, detail: outcome.detail }, 'could not finish connecting an integration');
    } catch (error) {
      logger.warn({ integration: row.name, system: module.label, error: describeError(error) }, 'could not connect an integration');
      await ctx.integrations.health.observe(row.id, { ok: false, error });
    }
  }
}
