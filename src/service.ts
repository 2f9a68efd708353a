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
import { DEMO_PASSWORD, type EmulatorEndpoints, pointAtEmulators, seedDemoWorld } from './world/seed.ts';
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
  /** Load the demo world on first start and point it at these emulators. */
  demo?: { world: World; endpoints: EmulatorEndpoints };
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
    integrations: new IntegrationRegistry(store.db, secrets),
    planner: options.planner ?? new BuiltinPlanner(),
    catalog: toolCatalog,
    publicUrl,
    workerId: options.workerId ?? `worker-${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
    breakers: new CircuitBreakers(store.db, clock),
  };
  if (options.demo) {
    await seedDemoWorld(store.db, { world: options.demo.world, secrets, endpoints: options.demo.endpoints, at: clock.now(), logger });
    await pointAtEmulators(store.db, options.demo.endpoints, clock.now());
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
      emulators: options.demo
        ? [
            { name: 'ConnectWise emulator', url: options.demo.endpoints.connectwise },
            { name: 'Microsoft Graph emulator', url: options.demo.endpoints.graph },
          ]
        : [],
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
  if (options.demo && app) await registerWebhooks(ctx, webhookBase(url), logger);
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
 * Make sure every ConnectWise integration has its callback registered at this service's webhook
 * URL (idempotent: an existing registration with the same URL is reused).
 */
export async function registerWebhooks(ctx: EngineContext, base: string, logger: Logger): Promise<void> {
  const rows = await ctx.db.selectFrom('integrations').selectAll().where('kind', '=', 'connectwise').where('enabled', '=', true).execute();
  for (const row of rows) {
    try {
      const secrets = ctx.integrations.secretsOf(row);
      const client = ctx.integrations.connectWiseClient(row);
      const url = `${base}/webhooks/connectwise/${row.id}/${secrets['webhookSecret']}`;
      // A previous run on another address left its registration: remove it, or every ticket is sent there too.
      for (const stale of await client.listCallbacks()) {
        if (stale.url?.includes(`/webhooks/connectwise/${row.id}/`) && stale.url !== url) await client.deleteCallback(stale.id);
      }
      // Self-suppressed: the notes deskhand writes are not sent back to it (the webhook also ignores them by member).
      const { created } = await client.registerCallback({
        url,
        description: 'deskhand: new tickets start requests',
        type: 'ticket',
        level: 'owner',
        objectId: 1,
        isSelfSuppressedFlag: true,
      });
      if (created) logger.info({ integration: row.name }, 'ConnectWise callback registered');
    } catch (error) {
      logger.warn({ integration: row.name, error: describeError(error) }, 'could not register the ConnectWise callback');
    }
  }
}
