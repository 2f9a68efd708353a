import type { Clock } from '../core/clock.ts';
import type { ToolDefinition } from '../core/tool.ts';
import type { IntegrationRegistry } from '../integrations/registry.ts';
import type { Logger } from '../logger.ts';
import type { Planner } from '../planner/types.ts';
import type { CircuitBreakers } from './breaker.ts';
import type { SecretBox } from '../secrets.ts';
import type { Db } from '../store/db.ts';

/** Everything the engine's steps need, built once per process. */
export interface EngineContext {
  db: Db;
  clock: Clock;
  logger: Logger;
  secrets: SecretBox;
  integrations: IntegrationRegistry;
  planner: Planner;
  catalog: readonly ToolDefinition[];
  /** Base of links in emails and notes (DESKHAND_PUBLIC_URL). */
  publicUrl: string;
  /** Identifies this process's worker in leases. */
  workerId: string;
  /** One circuit breaker per integration, shared through the database. */
  breakers: CircuitBreakers;
}
