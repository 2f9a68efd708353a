import { autotask } from './autotask/index.ts';
import { connectwise } from './connectwise/index.ts';
import { halopsa } from './halopsa/index.ts';
import { hudu } from './hudu/index.ts';
import { itglue } from './itglue/index.ts';
import { llm } from './llm/index.ts';
import { m365 } from './m365/index.ts';
import type { IntegrationModule } from './module.ts';

/**
 * Every outside system deskhand knows: one module per folder. The registry, the tool catalog,
 * webhook mounting, the poll and the CLI iterate this list; nothing else names a vendor. Adding a
 * system is adding its folder and one line here.
 */
export const integrationModules: readonly IntegrationModule[] = [connectwise, m365, halopsa, autotask, hudu, itglue, llm];

const byKind = new Map(integrationModules.map((module) => [module.kind, module]));

export function moduleOf(kind: string): IntegrationModule | undefined {
  return byKind.get(kind);
}
