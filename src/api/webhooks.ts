import type { FastifyInstance } from 'fastify';
import type { EngineContext } from '../engine/context.ts';
import { intakeHost } from '../engine/intake.ts';

/**
 * Webhooks from outside systems: each integration module's routes, mounted under
 * `/webhooks/<kind>/`. Each URL carries the integration id and a per-integration secret, and the
 * module checks the system's own signature too; anything that fails answers 400/401 and changes
 * nothing, and a re-delivery of something already taken in answers 2xx and creates nothing.
 */
export function registerWebhooks(app: FastifyInstance, ctx: EngineContext, onReceived: () => void): void {
  const host = intakeHost(ctx, onReceived);
  for (const module of ctx.integrations.modules) {
    const webhooks = module.webhooks;
    if (!webhooks) continue;
    app.register(async (scope) => webhooks(scope, host), { prefix: `/webhooks/${module.kind}` });
  }
}
