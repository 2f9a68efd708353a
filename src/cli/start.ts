import { readConfig } from '../config.ts';
import { describeError } from '../core/errors.ts';
import { createLogger } from '../logger.ts';
import { startService, type Service } from '../service.ts';
import { loadDemoWorld } from '../world/fixture.ts';
import { DEMO_PASSWORD } from '../world/seed.ts';
import { ensureDashboardBuilt } from './build-dashboard.ts';
import { ensureEmulators, type UsedEmulators } from './emulators.ts';
import { openStore } from './store.ts';

/**
 * `deskhand start` (what `npm start` runs): with the emulators, the demo world is loaded into an
 * empty database; `--no-demo` loads nothing (the first admin sets the MSP up through the setup link).
 */
export async function start(options: { emulators: boolean; demo?: boolean }): Promise<void> {
  const loadDemo = options.emulators && options.demo !== false;
  const config = readConfig();
  const logger = createLogger({ level: config.logLevel });
  const store = await openStore(config, logger);
  let emulators: UsedEmulators | null = null;
  let service: Service | null = null;
  /** Stop the emulators this start owns; say so when it leaves them to someone else. */
  const releaseEmulators = () => {
    if (!emulators) return;
    if (emulators.owned) {
      try {
        process.kill(emulators.pid, 'SIGTERM');
      } catch {}
    } else {
      logger.info({ pid: emulators.pid }, `leaving the emulators (pid ${emulators.pid}) running: this start did not launch them`);
    }
  };
  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'stopping');
    // Signal the emulators before anything awaits, so that they stop whatever happens to the rest.
    releaseEmulators();
    await service?.close().catch(() => {});
    await store.close().catch(() => {});
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  let demo: Awaited<ReturnType<typeof import('../integrations/emulators.ts')['demoSetup']>> | null = null;
  try {
    await ensureDashboardBuilt(logger);
    emulators = options.emulators ? await ensureEmulators(config.dataDir, logger) : null;
    // The emulator list is loaded only when the emulators run: production never imports an emulator.
    demo = emulators ? (await import('../integrations/emulators.ts')).demoSetup(loadDemoWorld(), emulators.endpoints) : null;
    service = await startService({
      databaseUrl: store.url,
      databaseLabel: store.label,
      secretKey: store.secretKey,
      logger,
      // With PORT=0 the address is only known once listening: then the service derives it.
      ...(process.env['DESKHAND_PUBLIC_URL'] || config.port !== 0 ? { publicUrl: config.publicUrl } : {}),
      host: config.host,
      port: config.port,
      ...(demo && loadDemo ? { demo } : {}),
      // Integrations an admin points at the emulators work like the demo's (the service marks them emulated).
      ...(demo && emulators ? { emulators: { origins: Object.values(emulators.endpoints).filter((u): u is string => typeof u === 'string').map((u) => new URL(u).origin), pointAt: demo.pointAt } } : {}),
      // Outside systems call back at the public address when the operator set one; the emulators at loopback.
      ...(!emulators && process.env['DESKHAND_PUBLIC_URL'] ? { webhookBaseUrl: config.publicUrl } : {}),
    });
  } catch (error) {
    logger.error({ error: describeError(error) }, 'deskhand could not start');
    releaseEmulators();
    await store.close().catch(() => {});
    process.exitCode = 1;
    throw error;
  }
  if (!service) return;
  const demoLoaded = loadDemo && Boolean(await service.ctx.db.selectFrom('settings').select('key').where('key', '=', 'demo_world').executeTakeFirst());
  const setup = service.setupLink
    ? ['  no MSP yet: open this one-time setup link (valid 24 hours) to create your MSP and its first admin:', `    ${service.setupLink}`]
    : [];
  const lines = [
    '',
    `deskhand is running: ${service.ctx.publicUrl}`,
    `  database: ${store.label}`,
    ...(options.emulators && !loadDemo
      ? [
          `  emulators (no demo world loaded; connect them from the dashboard with these base URLs):`,
          ...(demo?.emulators ?? []).map((e) => `    ${e.name}: ${e.url}`),
          '    their demo accounts (what to type into the forms): npx deskhand emulator-accounts --msp northwind',
        ]
      : []),
    ...setup,
    ...(loadDemo && !demoLoaded ? ['  the demo world was not loaded: this database already has an MSP of its own'] : []),
    ...(demoLoaded
      ? [
          `  emulators: ${(demo?.emulators ?? []).map((e) => e.name).join(', ')}, loaded with the demo world`,
          `  sign in as any demo user, e.g. tom.rivera@northwind-it.example (technician) or ava.chen@northwind-it.example (admin), password: ${DEMO_PASSWORD}`,
          '  try it: npx deskhand ticket contoso alex.wilber@contoso.example "Could you give me Zendesk access?"',
        ]
      : []),
    '  stop with Ctrl-C',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `deskhand worker`: the engine alone, sharing the database with other processes. */
export async function worker(options: { concurrency: number }): Promise<void> {
  const config = readConfig();
  const logger = createLogger({ level: config.logLevel, name: 'worker' });
  const store = await openStore(config, logger);
  const service = await startService({
    databaseUrl: store.url,
    databaseLabel: store.label,
    secretKey: store.secretKey,
    logger,
    publicUrl: config.publicUrl,
    api: false,
    worker: { concurrency: options.concurrency },
  });
  logger.info({ workerId: service.ctx.workerId }, 'worker running');
  if (!process.env['DESKHAND_PUBLIC_URL']) {
    // A worker serves no page itself: links it mails (manager approvals) point at the service's address.
    logger.warn({ publicUrl: config.publicUrl }, 'DESKHAND_PUBLIC_URL is not set: links in manager emails will use this address; set it to the URL people reach deskhand at');
  }
  const stop = async () => {
    await service.close().catch(() => {});
    await store.close().catch(() => {});
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
