import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DASHBOARD_DIR } from '../api/dashboard.ts';
import type { Logger } from '../logger.ts';

const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

/**
 * `npm install` builds the dashboard (the `prepare` script); `deskhand start` builds it when the
 * build is missing (a clone installed with --ignore-scripts, a deleted dist/): Vite, in this process.
 */
export async function ensureDashboardBuilt(logger: Logger): Promise<void> {
  if (existsSync(join(DASHBOARD_DIR, 'index.html'))) return;
  if (!existsSync(join(WEB_ROOT, 'index.html'))) {
    logger.warn({ web: WEB_ROOT }, 'the dashboard is neither built nor present as source: the API runs without it');
    return;
  }
  logger.info('building the dashboard (once): vite build web');
  const started = Date.now();
  const { build } = await import('vite');
  await build({ root: WEB_ROOT, configFile: join(WEB_ROOT, 'vite.config.ts'), logLevel: 'warn' });
  logger.info({ ms: Date.now() - started }, 'dashboard built');
}
