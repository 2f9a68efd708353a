import { integrationModules } from './index.ts';
import type { ModuleTool } from './module.ts';

/**
 * Every tool deskhand knows, by name: the tools of every integration module. The core and the
 * planner see only this list.
 */
export const toolCatalog: readonly ModuleTool[] = integrationModules.flatMap((module) => module.tools);

const byName = new Map(toolCatalog.map((tool) => [tool.name, tool]));

export function findTool(name: string): ModuleTool | undefined {
  return byName.get(name);
}

export function toolsOfIntegration(kind: string): ModuleTool[] {
  return toolCatalog.filter((tool) => tool.integration === kind);
}
