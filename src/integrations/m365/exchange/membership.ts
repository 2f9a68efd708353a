import { DeskhandError } from '../../../core/errors.ts';
import type { GraphClient, GroupFacts } from '../client.ts';
import type { ExchangeOnlineClient } from './client.ts';
import { groupKindWords, membershipRoute } from './route.ts';

/**
 * `m365.add_user_to_group` and `m365.remove_user_from_group` for the groups Graph cannot change
 * (distribution lists, mail-enabled security groups): the same tools, the same rules as the Graph
 * path (act on the frozen object ids; a repeat finds the change made and says so; reconciliation
 * reads only), through Exchange Online. The group is named to Exchange by its address (its object id
 * when it has none), the user by the UPN its frozen id has now (a rename cannot redirect the step).
 */

export interface MembershipOutcome {
  summary: string;
  data: Record<string, unknown>;
}

export const EXCHANGE_ONLINE = 'Exchange Online';

export class ExchangeGroupMembership {
  constructor(
    private readonly graph: GraphClient,
    /** Null when the integration has no Exchange Online access configured. */
    private readonly exchange: ExchangeOnlineClient | null,
  ) {}

  get configured(): boolean {
    return this.exchange !== null;
  }

  /** The group's facts when Exchange Online (not Graph) changes its members; null for Graph's groups. Refusals throw. */
  async exchangeGroup(groupId: string, tool: string): Promise<GroupFacts | null> {
    const group = await this.graph.getGroupFacts(groupId);
    if (!group) throw new DeskhandError('not_found', `the group ${groupId} no longer exists in this Microsoft 365 tenant`);
    const route = membershipRoute(group);
    if ('refused' in route) throw new DeskhandError('upstream', `${tool} cannot run: ${route.refused}`, { details: { groupId, permanent: true } });
    return route.through === 'exchange' ? group : null;
  }

  async add(args: { user: string; group: string }, userId: string, group: GroupFacts): Promise<MembershipOutcome> {
    const exchange = this.requireExchange(group);
    const member = await this.memberIdentity(userId, args.user);
    const { alreadyMember } = await exchange.writes.add(groupIdentity(group), member);
    return {
      summary: alreadyMember ? `${args.user} was already a member of ${args.group}; nothing changed` : `Added ${args.user} to ${args.group} through Exchange Online`,
      data: { user: args.user, group: args.group, userId, groupId: group.id, alreadyMember, through: EXCHANGE_ONLINE },
    };
  }

  async remove(args: { user: string; group: string }, userId: string, group: GroupFacts): Promise<MembershipOutcome> {
    const exchange = this.requireExchange(group);
    const member = await this.memberIdentity(userId, args.user);
    const { notMember } = await exchange.writes.remove(groupIdentity(group), member);
    return {
      summary: notMember ? `${args.user} was not a member of ${args.group}; nothing changed` : `Removed ${args.user} from ${args.group} through Exchange Online`,
      data: { user: args.user, group: args.group, userId, groupId: group.id, notMember, through: EXCHANGE_ONLINE },
    };
  }

  /**
   * Whether the user is a member, as Exchange lists the group's members (the documented v2.0 read):
   * Exchange made the change, so Exchange is where it shows first (Graph follows after a sync).
   */
  async isMember(userId: string, group: GroupFacts): Promise<boolean> {
    const exchange = this.requireExchange(group);
    const members = await exchange.groupMembers(groupIdentity(group));
    return members.some((m) => m.objectId?.toLowerCase() === userId.toLowerCase());
  }

  private requireExchange(group: GroupFacts): ExchangeOnlineClient {
    if (this.exchange) return this.exchange;
    throw new DeskhandError('config', notConfiguredReason(group), { details: { groupId: group.id } });
  }

  private async memberIdentity(userId: string, upn: string): Promise<string> {
    const user = await this.graph.getUser(userId);
    if (!user) throw new DeskhandError('not_found', `the user ${upn} (${userId}) no longer exists in this Microsoft 365 tenant`);
    return user.userPrincipalName;
  }
}

/** Why a change to this group cannot be made without Exchange Online access: for the note and the error. */
export function notConfiguredReason(group: GroupFacts): string {
  return `${groupKindWords(group)}: Microsoft Graph cannot change its members, only Exchange Online can, and this Microsoft 365 integration has no Exchange Online access configured (the exchangeOnline setting, and in the client's tenant the Exchange.ManageAsApp permission and an Exchange role; see the m365 README)`;
}

function groupIdentity(group: GroupFacts): string {
  return group.mail ?? group.id;
}
