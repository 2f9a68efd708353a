import { createHash } from 'node:crypto';
import type { World, WorldClient, WorldEmployee, WorldMsp } from '../../../world/fixture.ts';
import { deterministicInt, deterministicUuid } from '../../../world/ids.ts';
import { ROLE_NAMES, type RoleName, type RoleRecord, seedRoles } from './roles.ts';

/**
 * What the ConnectWise emulator knows before anyone calls it: one ConnectWise "instance" per MSP of
 * the world whose PSA is ConnectWise (its login company id is the MSP id), holding the MSP's clients
 * as companies, one contact per employee, a Help Desk board with its statuses, and members (the MSP's
 * users, deskhand's API member and a portal member). Every id is derived from the fixture.
 */

export const API_MEMBER_IDENTIFIER = 'deskhand';
export const PORTAL_MEMBER_IDENTIFIER = 'portal';
/** A second API member for deskhand whose security role lacks callbacks (Table Setup Add/Edit/Delete), for the doctor's tests. */
export const NO_CALLBACKS_MEMBER_IDENTIFIER = 'deskhandnocb';
export const HELP_DESK_BOARD = 'Help Desk';
/** A second board with statuses of its own (status ids are per board in ConnectWise). */
export const PROJECTS_BOARD = 'Projects';

export interface EmulatorCredentials {
  /** The PSA login company: the MSP id (e.g. `northwind`). */
  companyId: string;
  publicKey: string;
  privateKey: string;
  clientId: string;
  /** The member these keys belong to; callbacks caused by it carry this as `MemberId`. */
  memberIdentifier: string;
}

/** deskhand's API member in the emulated ConnectWise of this MSP. */
export function emulatorApiCredentials(mspId: string): EmulatorCredentials {
  return memberCredentials(mspId, API_MEMBER_IDENTIFIER, 'deskhand');
}

/**
 * A second member for tests and the demo: it creates tickets as an employee through the customer
 * portal (or an email connector) would, so that those tickets are not deskhand's own changes.
 */
export function emulatorPortalCredentials(mspId: string): EmulatorCredentials {
  return memberCredentials(mspId, PORTAL_MEMBER_IDENTIFIER, 'customer-portal');
}

/** deskhand's keys on an API member whose security role cannot manage callbacks (the rest as deskhand's). */
export function emulatorNoCallbacksCredentials(mspId: string): EmulatorCredentials {
  return memberCredentials(mspId, NO_CALLBACKS_MEMBER_IDENTIFIER, 'deskhand');
}

/** A clientId names an integration (not a member or an MSP), as at developer.connectwise.com. */
const clientIdOf = (integration: string): string => deterministicUuid('connectwise', 'clientId', integration);

function memberCredentials(mspId: string, memberIdentifier: string, integration: string): EmulatorCredentials {
  return {
    companyId: mspId,
    publicKey: fakeKey('public', mspId, memberIdentifier),
    privateKey: fakeKey('private', mspId, memberIdentifier),
    clientId: clientIdOf(integration),
    memberIdentifier,
  };
}

/** ConnectWise keys are 16 alphanumeric characters; these are stable per MSP and member. */
function fakeKey(kind: string, mspId: string, member: string): string {
  return createHash('sha256').update(`deskhand:connectwise/key/${kind}/${mspId}/${member}`).digest('base64url').replace(/[-_]/g, 'x').slice(0, 16);
}

/** The clientIds the emulator accepts (ConnectWise refuses calls without a registered one). */
export function emulatorClientIds(): string[] {
  return [clientIdOf('deskhand'), clientIdOf('customer-portal')];
}

export interface MemberRecord {
  id: number;
  identifier: string;
  firstName: string;
  lastName: string;
  officeEmail: string | null;
  title: string;
  inactiveFlag: boolean;
  /** Its security role (System › Security Roles). */
  securityRoleId: number;
  /** Present for API members only: their keys. Never rendered. */
  credentials?: EmulatorCredentials;
}

export interface CompanyRecord {
  id: number;
  identifier: string;
  name: string;
  website: string;
}

export interface ContactRecord {
  id: number;
  firstName: string;
  lastName: string;
  title: string;
  companyId: number;
  email: string;
  emailItemId: number;
  phone: string | null;
  phoneItemId: number;
}

export interface BoardRecord {
  id: number;
  name: string;
}

export interface StatusRecord {
  id: number;
  /** The board the status belongs to: a ticket only takes statuses of its own board. */
  boardId: number;
  name: string;
  sortOrder: number;
  closedStatus: boolean;
  defaultFlag: boolean;
}

export interface InstanceSeed {
  companyId: string;
  mspName: string;
  companies: CompanyRecord[];
  contacts: ContactRecord[];
  members: MemberRecord[];
  roles: RoleRecord[];
  /** The default board (Help Desk): new tickets go there unless they name another. */
  board: BoardRecord;
  boards: BoardRecord[];
  /** The statuses of every board, each naming its board. */
  statuses: StatusRecord[];
  priority: { id: number; name: string };
}

const STATUS_NAMES: Record<string, readonly [string, boolean][]> = {
  [HELP_DESK_BOARD]: [
    ['New', false],
    ['In Progress', false],
    ['Waiting on Customer', false],
    ['Waiting on Approval', false],
    ['Scheduled', false],
    // Each board says which of its statuses close a ticket: here Resolved leaves it open (the employee
    // may still reply, as deskhand's reply invites) and Closed closes it.
    ['Resolved', false],
    ['Closed', true],
  ],
  [PROJECTS_BOARD]: [
    ['New', false],
    ['In Progress', false],
    ['Completed', true],
  ],
};

/** Seeds for every MSP of the world whose PSA is ConnectWise. */
export function seedInstances(world: World): InstanceSeed[] {
  return world.msps.filter((msp) => msp.psa.toLowerCase() === 'connectwise').map((msp) => seedInstance(world, msp));
}

function seedInstance(world: World, msp: WorldMsp): InstanceSeed {
  const ids = new IdSpace();
  const clients = world.clients.filter((c) => c.msp === msp.id);
  const companies = clients.map((client) => companyRecord(ids, client));
  const contacts = clients.flatMap((client, i) => client.employees.map((e) => contactRecord(ids, e, companies[i]!.id)));
  const roles = seedRoles((name) => ids.take(deterministicInt(1, 90, 'connectwise', 'security-role', msp.id, name)));
  const boards = Object.keys(STATUS_NAMES).map((name) => ({ id: ids.take(deterministicInt(1, 900, 'connectwise', 'board', msp.id, name)), name }));
  // The Help Desk keeps the ids it had when it was the only board (its status ids are not salted by board).
  const statuses = boards.flatMap((board) =>
    STATUS_NAMES[board.name]!.map(([name, closed], i) => ({
      id: ids.take(deterministicInt(1, 9000, 'connectwise', 'status', msp.id, ...(board.name === HELP_DESK_BOARD ? [] : [board.name]), name)),
      boardId: board.id,
      name,
      sortOrder: i,
      closedStatus: closed,
      defaultFlag: i === 0,
    })),
  );
  return {
    companyId: msp.id,
    mspName: msp.name,
    companies,
    contacts,
    members: memberRecords(ids, msp, (name) => roles.find((r) => r.name === name)!.id),
    roles,
    board: boards[0]!,
    boards,
    statuses,
    priority: { id: ids.take(deterministicInt(1, 90, 'connectwise', 'priority', msp.id, 'normal')), name: 'Priority 3 - Normal Response' },
  };
}

function companyRecord(ids: IdSpace, client: WorldClient): CompanyRecord {
  return {
    id: ids.take(deterministicInt(19_000, 900_000, 'connectwise', 'company', client.id)),
    identifier: client.id,
    name: client.name,
    website: client.domain,
  };
}

function contactRecord(ids: IdSpace, employee: WorldEmployee, companyId: number): ContactRecord {
  const [firstName, ...rest] = employee.name.split(/\s+/);
  return {
    id: ids.take(deterministicInt(30_000, 9_000_000, 'connectwise', 'contact', employee.upn)),
    firstName: firstName ?? employee.name,
    lastName: rest.join(' '),
    title: employee.title,
    companyId,
    email: employee.upn,
    emailItemId: ids.take(deterministicInt(40_000, 9_000_000, 'connectwise', 'communication', employee.upn, 'email')),
    phone: employee.phone ?? null,
    phoneItemId: ids.take(deterministicInt(40_000, 9_000_000, 'connectwise', 'communication', employee.upn, 'phone')),
  };
}

function memberRecords(ids: IdSpace, msp: WorldMsp, roleId: (name: RoleName) => number): MemberRecord[] {
  const memberId = (identifier: string): number => ids.take(deterministicInt(100, 90_000, 'connectwise', 'member', msp.id, identifier));
  const taken = new Set<string>([API_MEMBER_IDENTIFIER, PORTAL_MEMBER_IDENTIFIER, NO_CALLBACKS_MEMBER_IDENTIFIER]);
  const staff = msp.users.map((user): MemberRecord => {
    const identifier = uniqueIdentifier(memberIdentifierFor(user.name), taken);
    const [firstName, ...rest] = user.name.split(/\s+/);
    return {
      id: memberId(identifier),
      identifier,
      firstName: firstName ?? user.name,
      lastName: rest.join(' '),
      officeEmail: user.email,
      title: user.role === 'msp_admin' ? 'Service Manager' : user.role === 'msp_billing' ? 'Billing' : 'Service Technician',
      inactiveFlag: false,
      securityRoleId: roleId(ROLE_NAMES.admin),
    };
  });
  return [
    ...staff,
    {
      id: memberId(API_MEMBER_IDENTIFIER),
      identifier: API_MEMBER_IDENTIFIER,
      firstName: 'deskhand',
      lastName: 'API',
      officeEmail: null,
      title: 'API Member',
      inactiveFlag: false,
      securityRoleId: roleId(ROLE_NAMES.deskhand),
      credentials: emulatorApiCredentials(msp.id),
    },
    {
      id: memberId(PORTAL_MEMBER_IDENTIFIER),
      identifier: PORTAL_MEMBER_IDENTIFIER,
      firstName: 'Customer',
      lastName: 'Portal',
      officeEmail: null,
      title: 'API Member',
      inactiveFlag: false,
      securityRoleId: roleId(ROLE_NAMES.portal),
      credentials: emulatorPortalCredentials(msp.id),
    },
    {
      id: memberId(NO_CALLBACKS_MEMBER_IDENTIFIER),
      identifier: NO_CALLBACKS_MEMBER_IDENTIFIER,
      firstName: 'deskhand',
      lastName: 'API (no callbacks)',
      officeEmail: null,
      title: 'API Member',
      inactiveFlag: false,
      securityRoleId: roleId(ROLE_NAMES.deskhandNoCallbacks),
      credentials: emulatorNoCallbacksCredentials(msp.id),
    },
  ];
}

/** ConnectWise member identifiers are short (≤15): first initial + last name, e.g. `achen`. */
function memberIdentifierFor(name: string): string {
  const parts = name.toLowerCase().normalize('NFKD').replace(/[^a-z\s]/g, '').split(/\s+/).filter(Boolean);
  const first = parts[0] ?? 'member';
  const last = parts.length > 1 ? parts[parts.length - 1]! : '';
  return `${first.slice(0, 1)}${last}`.slice(0, 15) || 'member';
}

function uniqueIdentifier(base: string, taken: Set<string>): string {
  let candidate = base;
  for (let n = 2; taken.has(candidate); n++) candidate = `${base.slice(0, 14)}${n}`;
  taken.add(candidate);
  return candidate;
}

/** Hands out ids; a hash collision moves to the next free number, so ids stay unique and stable. */
class IdSpace {
  private readonly used = new Set<number>();

  take(preferred: number): number {
    let id = preferred;
    while (this.used.has(id)) id++;
    this.used.add(id);
    return id;
  }
}
