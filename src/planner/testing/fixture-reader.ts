import type { AuthMethod, DirectoryGroup, DirectoryUser, Runbook, SubscribedSku } from '../../core/directory.ts';
import type { World, WorldClient, WorldEmployee, WorldGroup } from '../../world/fixture.ts';
import { findClient } from '../../world/fixture.ts';
import { servicePlansOf } from '../../integrations/m365/service-plans.ts';
import { deterministicUuid } from '../../world/ids.ts';
import type { DiagnosisReader } from '../types.ts';

/**
 * A DiagnosisReader answered from the demo world the way the emulated Microsoft 365 tenant answers
 * through Graph (same ids, group kinds, descriptions, mail addresses, seat counts), so planner tests
 * run without HTTP. It records every call, so tests can check that planning only reads.
 */
export interface RecordedRead {
  method: keyof DiagnosisReader;
  arg: string;
}

export interface FixtureReader extends DiagnosisReader {
  readonly calls: RecordedRead[];
}

function splitName(name: string): { givenName: string | null; surname: string | null } {
  const [first, ...rest] = name.trim().split(/\s+/);
  return { givenName: first ?? null, surname: rest.length > 0 ? rest.join(' ') : null };
}

function toUser(client: WorldClient, e: WorldEmployee): DirectoryUser {
  return {
    id: deterministicUuid('m365', 'user', client.id, e.upn.toLowerCase()),
    userPrincipalName: e.upn,
    displayName: e.name,
    ...splitName(e.name),
    mail: e.upn,
    jobTitle: e.title,
    department: e.department,
    accountEnabled: e.accountEnabled ?? true,
    usageLocation: e.usageLocation ?? null,
  };
}

/** As the emulator: an app group's description names the app; a shared mailbox's group has the mailbox as mail. */
function toGroup(client: WorldClient, g: WorldGroup): DirectoryGroup {
  const ownAddress = `${g.name.replace(/[^A-Za-z0-9._-]/g, '').toLowerCase()}@${client.domain}`;
  const mail = g.kind === 'security' ? null : g.kind === 'shared_mailbox' ? (g.mailbox ?? ownAddress) : ownAddress;
  let description: string | null = null;
  if (g.app) description = `Access to ${g.app}`;
  else if (g.kind === 'shared_mailbox' && g.mailbox) description = `Full access to the shared mailbox ${g.mailbox}`;
  else if (g.privileged) description = 'Role-assignable group for administrators';
  return {
    id: deterministicUuid('m365', 'group', client.id, g.name),
    displayName: g.name,
    kind: g.kind,
    description,
    mail,
    privileged: g.privileged === true,
  };
}

function startsWithCi(value: string | null | undefined, query: string): boolean {
  return typeof value === 'string' && value.toLowerCase().startsWith(query.toLowerCase());
}

export function createFixtureReader(world: World, clientId: string): FixtureReader {
  const client = findClient(world, clientId);
  const calls: RecordedRead[] = [];
  const record = (method: keyof DiagnosisReader, arg = ''): void => {
    calls.push({ method, arg });
  };
  const employee = (upn: string): WorldEmployee | undefined =>
    client.employees.find((e) => e.upn.toLowerCase() === upn.trim().toLowerCase());
  const users = client.employees.map((e) => toUser(client, e));
  const groups = client.groups.map((g) => toGroup(client, g));

  return {
    calls,
    async getUser(upn: string): Promise<DirectoryUser | null> {
      record('getUser', upn);
      const e = employee(upn);
      return e ? toUser(client, e) : null;
    },
    async findUsers(query: string): Promise<DirectoryUser[]> {
      record('findUsers', query);
      const q = query.trim();
      if (q === '') return [];
      return users.filter(
        (u) => startsWithCi(u.displayName, q) || startsWithCi(u.givenName, q) || startsWithCi(u.surname, q) || startsWithCi(u.userPrincipalName, q),
      );
    },
    async getManager(upn: string): Promise<DirectoryUser | null> {
      record('getManager', upn);
      const managerUpn = employee(upn)?.manager;
      const manager = managerUpn ? employee(managerUpn) : undefined;
      return manager ? toUser(client, manager) : null;
    },
    async listUserGroups(upn: string): Promise<DirectoryGroup[]> {
      record('listUserGroups', upn);
      const names = employee(upn)?.groups ?? [];
      return groups.filter((g) => names.includes(g.displayName));
    },
    async listUserLicenses(upn: string): Promise<string[]> {
      record('listUserLicenses', upn);
      return [...(employee(upn)?.licenses ?? [])];
    },
    async listLicenses(): Promise<SubscribedSku[]> {
      record('listLicenses');
      return client.licenses.map((l) => ({
        skuId: deterministicUuid('m365', 'sku', l.sku),
        skuPartNumber: l.sku,
        total: l.total,
        // The fixture's rule: seats in use are the employees holding the license.
        consumed: client.employees.filter((e) => e.licenses.includes(l.sku)).length,
        // What the emulator serves as the SKU's servicePlans: Microsoft's published plans.
        servicePlans: servicePlansOf(l.sku),
      }));
    },
    async listAuthMethods(upn: string): Promise<AuthMethod[]> {
      record('listAuthMethods', upn);
      const e = employee(upn);
      return (e?.authMethods ?? []).map((name) => ({
        id: deterministicUuid('m365', 'method', client.id, upn.toLowerCase(), name),
        type: `${name}AuthenticationMethod`,
      }));
    },
    async findGroups(query: string): Promise<DirectoryGroup[]> {
      record('findGroups', query);
      const q = query.trim().toLowerCase();
      if (q === '') return [...groups];
      return groups.filter((g) => g.displayName.toLowerCase().includes(q) || (g.mail ?? '').toLowerCase().includes(q));
    },
    async listRunbooks(): Promise<Runbook[]> {
      record('listRunbooks');
      return client.runbooks.map((r) => ({ title: r.title, body: r.body, source: `fixture:${client.id}` }));
    },
  };
}
