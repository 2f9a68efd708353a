import type { GroupFacts } from '../client.ts';

/**
 * Which system changes a group's members (API notes, section C; CIPP's rule): Microsoft 365
 * (Unified) groups and security groups without mail through Microsoft Graph; distribution lists and
 * mail-enabled security groups through Exchange Online (Graph refuses them); rule-based groups and
 * groups synced from an on-premises directory through neither.
 */
export type MembershipRoute = { through: 'graph' } | { through: 'exchange' } | { refused: string };

export function membershipRoute(group: GroupFacts): MembershipRoute {
  if (group.groupTypes.includes('DynamicMembership')) {
    return { refused: `${group.displayName} has dynamic membership: its members come from a rule, so nobody adds or removes them by hand (change the rule or the user's attributes instead)` };
  }
  if (group.onPremisesSyncEnabled) {
    return { refused: `${group.displayName} is synchronized from the on-premises directory: Microsoft 365 refuses to change its members, which must be changed in on-premises Active Directory` };
  }
  if (group.groupTypes.includes('Unified')) return { through: 'graph' };
  if (group.mailEnabled) return { through: 'exchange' };
  return { through: 'graph' };
}

/** The group's kind in the words technicians use, with the flags it was read from. */
export function groupKindWords(group: GroupFacts): string {
  const flags = `mailEnabled ${group.mailEnabled}, securityEnabled ${group.securityEnabled}, groupTypes [${group.groupTypes.join(', ')}]${group.onPremisesSyncEnabled ? ', synced from on-premises' : ''}`;
  const kind = group.groupTypes.includes('Unified')
    ? 'a Microsoft 365 group'
    : group.mailEnabled
      ? group.securityEnabled
        ? 'a mail-enabled security group (shared-mailbox access)'
        : 'a distribution list'
      : 'a security group';
  return `${group.displayName} is ${kind} (${flags})`;
}
