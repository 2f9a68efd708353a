import { createHash } from 'node:crypto';
import type { World } from '../../../world/fixture.ts';
import { deterministicUuid } from '../../../world/ids.ts';

/**
 * What the HaloPSA emulator knows before anyone calls it: one hosted Halo tenant per MSP of the world
 * whose PSA is HaloPSA (its tenant name is the MSP id), holding the MSP's clients as Halo clients,
 * one end user per employee, the MSP's staff and deskhand's API-only agent as agents, the default
 * statuses, two ticket types and the default outcomes (action types). Every id and secret is derived
 * from the fixture.
 */

/** The name of deskhand's API-only agent (the author of its actions: `who`). */
export const API_AGENT_NAME = 'deskhand API';
export const API_AGENT_ID = 2;
/** Halo's built-in private note outcome (outcome_id 7 in a default configuration). */
export const PRIVATE_NOTE_OUTCOME = 'Private Note';
/** The outcome of an action that emails the end user. */
export const EMAIL_USER_OUTCOME = 'Email User';
/** The ticket type the portal opens tickets with: the "board" deskhand maps statuses on. */
export const SERVICE_REQUEST_TYPE = 'Service Request';

export const STATUSES = [
  { id: 1, name: 'New' },
  { id: 2, name: 'In Progress' },
  { id: 3, name: 'Action Required' },
  { id: 4, name: 'Waiting on Approval' },
  { id: 9, name: 'Closed' },
] as const;
export const CLOSED_STATUS_ID = 9;

export const TICKET_TYPES = [
  { id: 1, name: 'Incident' },
  { id: 3, name: SERVICE_REQUEST_TYPE },
] as const;

export const OUTCOMES = [
  { id: 1, outcome: 'Note', hiddenfromuser: false },
  { id: 7, outcome: PRIVATE_NOTE_OUTCOME, hiddenfromuser: true },
  { id: 8, outcome: EMAIL_USER_OUTCOME, hiddenfromuser: false },
] as const;

/** Every scope the emulator knows (Halo's documented ones that deskhand touches, and a few more). */
export const KNOWN_SCOPES = ['all', 'admin', 'read:tickets', 'edit:tickets', 'read:customers', 'edit:customers', 'read:kb', 'edit:kb', 'read:assets'] as const;

export interface EmulatorApp {
  clientId: string;
  clientSecret: string;
  /** The scopes granted to the application (requests for others are refused). */
  granted: readonly string[];
  /** The agent the application logs in as. */
  agentId: number;
  agentName: string;
}

export interface EmulatorCredentials {
  /** The hosted tenant's name (`?tenant=` on the token URL): the MSP id. */
  tenant: string;
  clientId: string;
  clientSecret: string;
}

/** deskhand's API application in the emulated Halo of this MSP: granted `all`, logs in as deskhand's API agent. */
export function emulatorApiCredentials(mspId: string): EmulatorCredentials {
  return credentials(mspId, 'deskhand');
}

/** A second application granted `read:tickets` only (the doctor's and the scope tests'). */
export function emulatorReadOnlyCredentials(mspId: string): EmulatorCredentials {
  return credentials(mspId, 'read-only');
}

function credentials(mspId: string, app: string): EmulatorCredentials {
  return {
    tenant: mspId,
    clientId: deterministicUuid('halopsa', 'clientId', `${mspId}/${app}`),
    clientSecret: createHash('sha256').update(`deskhand:halopsa/secret/${mspId}/${app}`).digest('base64url'),
  };
}

export function emulatorApps(mspId: string): EmulatorApp[] {
  return [
    { ...emulatorApiCredentials(mspId), granted: ['all'], agentId: API_AGENT_ID, agentName: API_AGENT_NAME },
    { ...emulatorReadOnlyCredentials(mspId), granted: ['read:tickets'], agentId: API_AGENT_ID, agentName: API_AGENT_NAME },
  ];
}

export interface SeedClient {
  id: number;
  name: string;
  /** The world's client id (the emulator's own bookkeeping; Halo has no such field). */
  worldId: string;
  inactive: boolean;
}

export interface SeedUser {
  id: number;
  name: string;
  emailaddress: string;
  client_id: number;
}

export interface SeedTenant {
  tenant: string;
  mspName: string;
  clients: SeedClient[];
  users: SeedUser[];
  agents: { id: number; name: string; email: string }[];
}

/** The Halo client id of a world client: 11, 12 ... in the world's order of the MSP's clients. */
export function haloClientId(world: { readonly clients: readonly { id: string; msp: string }[] }, mspId: string, worldClientId: string): number {
  const index = world.clients.filter((c) => c.msp === mspId).findIndex((c) => c.id === worldClientId);
  if (index < 0) throw new Error(`no client ${worldClientId} of ${mspId} in the world`);
  return 11 + index;
}

export function seedTenants(world: World): SeedTenant[] {
  return world.msps
    .filter((msp) => msp.psa === 'halopsa')
    .map((msp) => {
      const mine = world.clients.filter((c) => c.msp === msp.id);
      const clients: SeedClient[] = mine.map((c) => ({ id: haloClientId(world, msp.id, c.id), name: c.name, worldId: c.id, inactive: false }));
      // A client the MSP no longer serves: Halo lists it only with includeinactive.
      clients.push({ id: 90, name: 'Former Customer Ltd', worldId: '', inactive: true });
      let userId = 100;
      const users: SeedUser[] = mine.flatMap((c) =>
        c.employees.map((e) => ({ id: userId++, name: e.name, emailaddress: e.upn.toLowerCase(), client_id: haloClientId(world, msp.id, c.id) })),
      );
      const agents = [
        { id: 1, name: 'Administrator', email: '' },
        { id: API_AGENT_ID, name: API_AGENT_NAME, email: '' },
        ...msp.users.map((u, i) => ({ id: 10 + i, name: u.name, email: u.email })),
      ];
      return { tenant: msp.id, mspName: msp.name, clients, users, agents };
    });
}
