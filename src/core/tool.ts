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
  /** The integration kind that offers the tool (the prefix of its name). */
  readonly integration: string;
  readonly kind: ToolKind;
  readonly description: string;
  /** Arguments as plain strings; validated by this schema before any plan is accepted. */
  readonly args: z.ZodType<Record<string, string>>;
  /** For each argument, what kind of object it names (and so what it must resolve to). */
  readonly argObjects: Readonly<Record<string, ArgumentObject>>;
  /**
   * The result is a secret that a technician hands over (a temporary password): it is shown once to
   * the technician who approved the step, so the tool can never run without one (never `auto`).
   */
  readonly secretResult?: boolean;
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

/** Why a policy cannot be set for a tool, or null when it can. */
export function policyRefusal(tool: Pick<ToolDefinition, 'name' | 'secretResult'>, policy: PolicyName): string | null {
  if (tool.secretResult && policy === 'auto') {
    return `${tool.name} cannot be auto: its result is a secret shown once to the technician who approved the step, and an auto step has no approving technician. Use approval_needed (or disabled).`;
  }
  return null;
}
