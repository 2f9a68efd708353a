import type { StepCheck } from '../../module.ts';
import type { GraphClient } from '../client.ts';
import { notConfiguredReason } from './membership.ts';
import { groupKindWords, membershipRoute } from './route.ts';

const MEMBERSHIP_TOOLS = new Set(['m365.add_user_to_group', 'm365.remove_user_from_group']);

/**
 * The m365 tools' check of a planned step (`ToolsCapability.check`): for a membership change, read
 * the group's kind and say which system the change goes through (Graph or Exchange Online), or why it
 * cannot be made (a rule-based or synced group; a list or mail-enabled security group while this
 * integration has no Exchange Online access). Reads only.
 */
export async function checkM365Step(graph: GraphClient, exchangeConfigured: boolean, tool: string, args: Record<string, string>, resolved: Record<string, string>): Promise<StepCheck> {
  const groupId = resolved['group'];
  if (!MEMBERSHIP_TOOLS.has(tool) || !groupId) return { ok: true };
  const group = await graph.getGroupFacts(groupId);
  if (!group) return { ok: false, reason: `the group ${args['group'] ?? groupId} no longer exists in the tenant` };
  const route = membershipRoute(group);
  if ('refused' in route) return { ok: false, reason: route.refused };
  if (route.through === 'exchange' && !exchangeConfigured) return { ok: false, reason: notConfiguredReason(group) };
  const verb = tool === 'm365.add_user_to_group' ? 'Add-DistributionGroupMember' : 'Remove-DistributionGroupMember';
  return {
    ok: true,
    note:
      route.through === 'exchange'
        ? `${groupKindWords(group)}: Microsoft Graph cannot change its members, so this change goes through Exchange Online (${verb}).`
        : `${groupKindWords(group)}: this change goes through Microsoft Graph.`,
  };
}
