import type { FastifyPluginAsync } from 'fastify';
import type { MemberRecord } from '../data.ts';
import { type ApiContext, endpoint, staffOnly } from '../endpoint.ts';
import { list } from '../paging.ts';
import { renderMember } from '../records.ts';
import { type RoleRecord, renderRoleSettings } from '../roles.ts';
import type { ConnectWiseSite } from '../site.ts';
import { cwError, ok, ReplyError } from '../wire.ts';

/**
 * `system/members`: the MSP's staff and the API members, by id or identifier (System: staff only);
 * `system/securityRoles`: the roles and each role's settings (levels per module function).
 */

export const memberRoutes: FastifyPluginAsync<{ site: ConnectWiseSite }> = async (api, { site }) => {
  endpoint(api, site, '/system/members', { GET: staffOnly((c) => list(c, c.instance.seed.members.map((m) => renderMember(m, c.instance.seed.roles)))) });
  endpoint(api, site, '/system/members/:member', { GET: staffOnly((c) => ok(renderMember(memberOf(c), c.instance.seed.roles))) });
  endpoint(api, site, '/system/securityRoles', { GET: (c) => list(c, c.instance.seed.roles.map((r) => ({ id: r.id, name: r.name, _info: {} }))) });
  endpoint(api, site, '/system/securityRoles/:roleId(^\\d+$)', { GET: (c) => ok(roleOf(c)) });
  endpoint(api, site, '/system/securityRoles/:roleId(^\\d+$)/settings', { GET: (c) => list(c, renderRoleSettings(roleOf(c))) });
};

function roleOf(ctx: ApiContext): RoleRecord {
  const id = Number(ctx.params['roleId']);
  const role = ctx.instance.seed.roles.find((r) => r.id === id);
  if (!role) throw new ReplyError(cwError(404, 'NotFound', `Security role ${id} not found`));
  return role;
}

function memberOf(ctx: ApiContext): MemberRecord {
  // The router has decoded the parameter already.
  const key = ctx.params['member'] ?? '';
  const member = ctx.instance.seed.members.find((m) => String(m.id) === key || m.identifier.toLowerCase() === key.toLowerCase());
  if (!member) throw new ReplyError(cwError(404, 'NotFound', `Member ${key} not found`));
  return member;
}
