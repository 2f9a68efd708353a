import type { z } from 'zod';

/** `read` tools only look; `write` tools change something and may only run from an approved or all-auto plan. */
export type ToolKind = 'read' | 'write';

/**
 * What a step argument names, so that the plan can keep the object id it resolved to beside the
 * human-readable value (TOOLS.md: `resolved`).
 */
export type ArgumentObject = 'user' | 'group' | 'sku' | 'text' | 'id';

export interface ToolDefinition {
  /** `<integration kind>.<verb_noun>`: a contract, never renamed. */
  readonly name: string;
  /** The integration kind that offers the tool (`m365`, `hudu`, ...). */
  readonly integration: string;
  readonly kind: ToolKind;
  readonly description: string;
  /** Arguments as plain strings; validated by this schema before any plan is accepted. */
  readonly args: z.ZodType<Record<string, string>>;
  /** For each argument, what kind of object it names (and so what it must resolve to). */
  readonly argObjects: Readonly<Record<string, ArgumentObject>>;
}

export type PolicyName = 'auto' | 'approval_needed' | 'disabled';

export interface ToolPolicy {
  policy: PolicyName;
  /** Only meaningful with `approval_needed`: the requester's manager must approve too. */
  requireManagerApproval: boolean;
}

export const POLICY_NAMES: readonly PolicyName[] = ['auto', 'approval_needed', 'disabled'];

/** TOOLS.md: read tools `auto`, write tools `approval_needed`. */
export function defaultPolicy(tool: Pick<ToolDefinition, 'kind'>): ToolPolicy {
  return tool.kind === 'read'
    ? { policy: 'auto', requireManagerApproval: false }
    : { policy: 'approval_needed', requireManagerApproval: false };
}
