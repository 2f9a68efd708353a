import type { ToolDefinition } from '../core/tool.ts';
import { m365Tools } from './m365/tools.ts';

/**
 * Every tool deskhand knows, by name. Adding an integration adds its tools here; the core and the
 * planner see only this list.
 */
export const toolCatalog: readonly ToolDefinition[] = [...m365Tools];

const byName = new Map(toolCatalog.map((tool) => [tool.name, tool]));

export function findTool(name: string): ToolDefinition | undefined {
  return byName.get(name);
}

export function toolsOfIntegration(kind: string): ToolDefinition[] {
  return toolCatalog.filter((tool) => tool.integration === kind);
}
