import type { FastifyInstance } from 'fastify';
import type { Clock } from './core/clock.ts';
import { systemClock } from './core/clock.ts';
import { describeError } from './core/errors.ts';
import type { HomeInfo } from './api/home.ts';
import { buildApi } from './api/server.ts';
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
import type { DemoIntegration } from './integrations/module.ts';
import { DEMO_PASSWORD, pointAtEmulators, seedDemoWorld } from './world/seed.ts';
import type { World } from './world/fixture.ts';

/**
 * One deskhand process: the API, the worker, or both, on one database. `deskhand start`, the demo
 * and the end-to-end tests all build the service through here.
 */
export interface ServiceOptions {
  databaseUrl: string;
  /** Describes the database on the home page (never the password). */
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
  /** Load the demo world on first start and point it at the emulators (src/integrations/emulators.ts `demoSetup`). */
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
}

export interface Service {
  url: string;
  ctx: EngineContext;
  store: DbHandle;
  app: FastifyInstance | null;
  worker: Worker | null;
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
    await pointAtEmulators(store.db, options.demo.pointAt, clock.now());
  }

  let worker: Worker | null = null;
  if (options.worker !== false) {
    const workerOptions = typeof options.worker === 'object' ? options.worker : {};
    worker = new Worker(ctx, { listenUrl: options.databaseUrl, ...workerOptions });
  }
  let app: FastifyInstance | null = null;
  let url = '';
  if (options.api !== false) {
    const demoUsers = options.demo ? options.demo.world.msps.flatMap((m) => m.users.map((u) => ({ email: u.email, role: u.role, msp: m.name }))) : [];
    const home = (): HomeInfo => ({
      publicUrl: ctx.publicUrl,
      database: options.databaseLabel,
      emulators: options.demo ? options.demo.emulators : [],
      demoPassword: options.demo ? DEMO_PASSWORD : null,
      demoUsers,
    });
    app = await buildApi({ ctx, onWork: () => worker?.poke(), home });
    const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
    url = address.replace('[::1]', 'localhost');
    const port = Number(new URL(address).port);
    if (!publicUrl) publicUrl = `http://localhost:${port}`;
    ctx.publicUrl = publicUrl;
  }
  const webhookBaseUrl = options.webhookBaseUrl !== undefined ? options.webhookBaseUrl : options.demo && app ? webhookBase(url) : null;
  if (app || webhookBaseUrl) await connectIntegrations(ctx, webhookBaseUrl, logger);
  await worker?.start();

  return {
    url,
    ctx,
    store,
    app,
    worker,
    async close() {
      await worker?.stop();
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
