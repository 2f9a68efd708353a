import { defaultPolicy, type ToolDefinition, type ToolPolicy } from './tool.ts';

export type OperatingMode = 'plan' | 'execute';
export type ClientOperatingMode = OperatingMode | 'inherit';

/** A client set to `inherit` follows its MSP's default, which is itself `plan` or `execute`. */
export function effectiveOperatingMode(client: ClientOperatingMode, mspDefault: OperatingMode): OperatingMode {
  return client === 'inherit' ? mspDefault : client;
}

/** Configured policies of one integration, by tool name. Tools without a row use the catalog default. */
export type PolicyOverrides = ReadonlyMap<string, ToolPolicy>;

export function effectivePolicy(tool: ToolDefinition, overrides: PolicyOverrides): ToolPolicy {
  const configured = overrides.get(tool.name);
  let policy = configured ?? defaultPolicy(tool);
  // A secret for a technician to hand over needs an approving technician: never auto, whatever a
  // row says (the policy API refuses it; this covers rows written before, or by hand).
  if (tool.secretResult && policy.policy === 'auto') policy = { policy: 'approval_needed', requireManagerApproval: false };
  // Manager approval is an addition to technician approval; on any other policy the flag means nothing.
  return {
    policy: policy.policy,
    requireManagerApproval: policy.policy === 'approval_needed' && policy.requireManagerApproval,
  };
}

/** The tools a planner may use: everything not `disabled` (DESIGN rule 3). */
export function offeredTools(tools: readonly ToolDefinition[], overrides: PolicyOverrides): ToolDefinition[] {
  return tools.filter((tool) => effectivePolicy(tool, overrides).policy !== 'disabled');
}

/**
 * What approvals a plan needs: the union over its steps. A plan may ask for more than the policies
 * require (a runbook says the manager must approve), never less.
 */
export function approvalsNeeded(
  steps: readonly { policy: ToolPolicy; plannerRequestsManagerApproval?: boolean }[],
): { technician: boolean; manager: boolean } {
  let technician = false;
  let manager = false;
  for (const step of steps) {
    if (step.policy.policy === 'approval_needed') {
      technician = true;
      if (step.policy.requireManagerApproval) manager = true;
    }
    if (step.plannerRequestsManagerApproval) {
      technician = true;
      manager = true;
    }
  }
  return { technician, manager };
}
