import { describeError } from '../core/errors.ts';
import type { EngineContext } from './context.ts';
import { intakeHost } from './intake.ts';

/**
 * Webhooks can be missed: the service was down when a system called, and it gave up. Every
 * integration whose module can poll is asked for what its webhooks may have missed (each module
 * keeps its own cursor, claimed by one worker per interval); intake is idempotent, so a ticket a
 * webhook already brought is the same request.
 */
export async function pollMissedTickets(ctx: EngineContext, intervalMs: number, onWork: () => void = () => {}): Promise<number> {
  const host = intakeHost(ctx, onWork);
  let taken = 0;
  for (const row of await ctx.integrations.enabledWith('poll')) {
    const module = ctx.integrations.module(row.kind);
    try {
      taken += (await module.poll?.(ctx.integrations.connected(row), host, intervalMs)) ?? 0;
    } catch (error) {
      ctx.logger.warn({ integration: row.name, error: describeError(error) }, `could not poll ${module.label} for missed tickets`);
      // A poll calls the system with the module's own client: credentials it refused make the integration unhealthy.
      await ctx.integrations.health.observe(row.id, { ok: false, error });
    }
  }
  return taken;
}
