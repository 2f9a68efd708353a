/**
 * The demo world as Autotask databases: one per MSP whose PSA is Autotask, its own company (id 0,
 * as in Autotask), each client a company, each employee a contact, each MSP user a Resource, and
 * deskhand's API-only user a Resource of its own. Credentials are the emulator's, made up here.
 */
export const API_RESOURCE_ID = 30_000_001;
export const COMPANY_ID_START = 100;
export const ZONE_NAME = 'Emulated zone (webservices0)';

export const TICKET_STATUSES = [
  { value: '1', label: 'New', isDefaultValue: true },
  { value: '5', label: 'Complete' },
  { value: '7', label: 'Waiting Customer' },
  { value: '8', label: 'In Progress' },
  { value: '13', label: 'Waiting Approval' },
] as const;
export const QUEUES = [
  { value: '29682833', label: 'Client Portal' },
  { value: '29683481', label: 'Level I Support' },
] as const;
export const PORTAL_QUEUE = QUEUES[0];
export const NOTE_PUBLISH = [
  { value: '1', label: 'All Autotask Users' },
  { value: '2', label: 'Internal Only' },
] as const;
export const NOTE_TYPES = [
  { value: '1', label: 'Task Summary' },
  { value: '2', label: 'Task Detail' },
  { value: '3', label: 'Task Notes', isDefaultValue: true },
] as const;
export const PRIORITIES = [
  { value: '1', label: 'High' },
  { value: '2', label: 'Medium', isDefaultValue: true },
  { value: '3', label: 'Low' },
] as const;

export interface EmulatorCredentials {
  username: string;
  secret: string;
  integrationCode: string;
}

/** deskhand's API-only user in the MSP's Autotask database. */
export function emulatorApiCredentials(msp: string): EmulatorCredentials {
  return { username: `deskhand-api@${msp}.autotask.example`, secret: `emulator-secret-${msp}-7Yq2`, integrationCode: `EMULATORTRACKING${msp.toUpperCase()}` };
}

/** The Autotask company id the emulator gives a world client (its MSP's clients in world order). */
export function emulatorCompanyId(world: { clients: readonly { id: string; msp: string }[] }, clientId: string): number {
  const client = world.clients.find((c) => c.id === clientId);
  if (!client) throw new Error(`no client ${clientId} in the world`);
  const siblings = world.clients.filter((c) => c.msp === client.msp);
  return COMPANY_ID_START + siblings.indexOf(client);
}
