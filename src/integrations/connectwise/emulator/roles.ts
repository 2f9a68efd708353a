import { DOCTOR_NEEDS, type Level, type Need, SETTINGS, type SettingKey, TOOL_NEEDS } from '../permissions.ts';

/**
 * Security roles in the emulated ConnectWise: each member has one, a role grants levels per module
 * function (permissions.ts names them), and every API endpoint needs one level of one function
 * (`requirementOf`), refused with 403 otherwise, as ConnectWise refuses what a member's role blocks.
 * Which function governs which endpoint follows the integrators' tables cited in permissions.ts;
 * where that is unverified (notes, callbacks) the emulator enforces what the README tells MSPs to grant.
 */

export type Grant = 'All' | 'Mine' | 'None';

export interface RoleRecord {
  id: number;
  name: string;
  grants: Partial<Record<SettingKey, Partial<Record<Level, Grant>>>>;
}

export const ROLE_NAMES = {
  admin: 'Admin',
  deskhand: 'deskhand API',
  deskhandNoCallbacks: 'deskhand API (no callbacks)',
  portal: 'Customer Portal',
} as const;

export type RoleName = (typeof ROLE_NAMES)[keyof typeof ROLE_NAMES];

const LEVELS: readonly Level[] = ['add', 'edit', 'delete', 'inquire'];

function grantAll(needs: readonly Pick<Need, 'setting' | 'level'>[]): RoleRecord['grants'] {
  const grants: RoleRecord['grants'] = {};
  for (const need of needs) grants[need.setting] = { ...grants[need.setting], [need.level]: 'All' };
  return grants;
}

/** The roles of an emulated ConnectWise, with the ids `id(name)` gives them. */
export function seedRoles(id: (name: string) => number): RoleRecord[] {
  const everything = (Object.keys(SETTINGS) as SettingKey[]).flatMap((setting) => LEVELS.map((level) => ({ setting, level })));
  const deskhand = [...TOOL_NEEDS.flatMap((t) => t.needs), ...DOCTOR_NEEDS];
  const noCallbacks = deskhand.filter((n) => !(n.setting === 'tableSetup' && n.level !== 'inquire'));
  const portal: Pick<Need, 'setting' | 'level'>[] = [
    { setting: 'serviceTickets', level: 'add' },
    { setting: 'serviceTickets', level: 'edit' },
    { setting: 'serviceTickets', level: 'inquire' },
    { setting: 'companyMaintenance', level: 'inquire' },
    { setting: 'contacts', level: 'inquire' },
    { setting: 'tableSetup', level: 'inquire' },
  ];
  const role = (name: RoleName, needs: readonly Pick<Need, 'setting' | 'level'>[]): RoleRecord => ({ id: id(name), name, grants: grantAll(needs) });
  return [
    role(ROLE_NAMES.admin, everything),
    role(ROLE_NAMES.deskhand, deskhand),
    role(ROLE_NAMES.deskhandNoCallbacks, noCallbacks),
    role(ROLE_NAMES.portal, portal),
  ];
}

/** The level of a module function an endpoint (its registered URL) needs for a method; undefined: none. */
export function requirementOf(url: string, method: string): Pick<Need, 'setting' | 'level'> | undefined {
  const read = method === 'GET' ? 'inquire' : undefined;
  const write: Level | undefined = method === 'POST' ? 'add' : method === 'PATCH' || method === 'PUT' ? 'edit' : method === 'DELETE' ? 'delete' : read;
  if (url.startsWith('/service/tickets')) {
    // A note is added to an existing ticket: an edit of the ticket (unverified, see permissions.ts).
    const level = method === 'POST' && url !== '/service/tickets' ? 'edit' : write;
    return level && { setting: 'serviceTickets', level };
  }
  if (url.startsWith('/service/boards')) return read && { setting: 'tableSetup', level: read };
  if (url.startsWith('/company/companies')) return read && { setting: 'companyMaintenance', level: read };
  if (url.startsWith('/company/contacts')) return read && { setting: 'contacts', level: read };
  if (url.startsWith('/system/members')) return read && { setting: 'memberMaintenance', level: read };
  if (url.startsWith('/system/callbacks')) return write && { setting: 'tableSetup', level: write };
  if (url.startsWith('/system/securityRoles')) return read && { setting: 'securityRoles', level: read };
  return undefined;
}

export function roleAllows(role: RoleRecord | undefined, need: Pick<Need, 'setting' | 'level'>): boolean {
  return role?.grants[need.setting]?.[need.level] === 'All';
}

/** A role's settings as `GET system/securityRoles/{id}/settings` answers: one record per module function. */
export function renderRoleSettings(role: RoleRecord): Record<string, unknown>[] {
  return (Object.keys(SETTINGS) as SettingKey[]).map((key, i) => {
    const grants = role.grants[key] ?? {};
    const level = (l: Level) => grants[l] ?? 'None';
    return {
      id: role.id * 100 + i + 1,
      moduleIdentifier: SETTINGS[key].module.replace(/\s+/g, ''),
      moduleName: SETTINGS[key].module,
      moduleFunctionIdentifier: SETTINGS[key].moduleFunction.replace(/\s+/g, ''),
      moduleFunctionName: SETTINGS[key].moduleFunction,
      addLevel: level('add'),
      editLevel: level('edit'),
      deleteLevel: level('delete'),
      inquireLevel: level('inquire'),
      sortOrder: i,
      _info: {},
    };
  });
}
