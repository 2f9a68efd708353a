import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The demo world (a copy of the shared fixture): MSPs, their staff, clients, each client's Microsoft
 * 365 tenant and runbooks. Emulators load it; the demo, tests, evaluation and benchmarks use it.
 */
const employee = z.object({
  upn: z.string(),
  name: z.string(),
  title: z.string(),
  department: z.string(),
  manager: z.string().nullable(),
  groups: z.array(z.string()),
  licenses: z.array(z.string()),
  phone: z.string().optional(),
  accountEnabled: z.boolean().optional(),
  authMethods: z.array(z.string()),
  usageLocation: z.string().optional(),
});

const group = z.object({
  name: z.string(),
  kind: z.enum(['security', 'distribution', 'shared_mailbox', 'microsoft365']),
  app: z.string().optional(),
  privileged: z.boolean().optional(),
  mailbox: z.string().optional(),
});

const toolPolicy = z.object({
  policy: z.enum(['auto', 'approval_needed', 'disabled']),
  requireManagerApproval: z.boolean().optional(),
});

const client = z.object({
  id: z.string(),
  msp: z.string(),
  name: z.string(),
  domain: z.string(),
  operatingMode: z.enum(['plan', 'execute', 'inherit']),
  licenses: z.array(z.object({ sku: z.string(), name: z.string(), total: z.number().int().nonnegative() })),
  groups: z.array(group),
  employees: z.array(employee),
  runbooks: z.array(z.object({ title: z.string(), body: z.string() })),
  toolPolicies: z.record(z.string(), toolPolicy).optional(),
  senderMailbox: z.string(),
});

const msp = z.object({
  id: z.string(),
  name: z.string(),
  defaultOperatingMode: z.enum(['plan', 'execute']),
  psa: z.string(),
  approvalChannels: z.array(z.string()),
  users: z.array(
    z.object({
      email: z.string(),
      name: z.string(),
      role: z.string(),
      slackUserId: z.string().optional(),
    }),
  ),
  clients: z.array(z.string()),
});

export const worldSchema = z.object({
  about: z.string().optional(),
  msps: z.array(msp),
  clients: z.array(client),
});

export type World = z.infer<typeof worldSchema>;
export type WorldClient = z.infer<typeof client>;
export type WorldEmployee = z.infer<typeof employee>;
export type WorldGroup = z.infer<typeof group>;
export type WorldMsp = z.infer<typeof msp>;

export const DEMO_WORLD_PATH = new URL('./demo-world.json', import.meta.url);

let cached: World | undefined;

/** The bundled demo world, parsed once. Callers that change it must clone it first. */
export function loadDemoWorld(): World {
  cached ??= worldSchema.parse(JSON.parse(readFileSync(DEMO_WORLD_PATH, 'utf8')));
  return cached;
}

export function loadWorld(path: string | URL): World {
  return worldSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

export function findClient(world: World, clientId: string): WorldClient {
  const found = world.clients.find((c) => c.id === clientId);
  if (!found) throw new Error(`no client ${clientId} in the world`);
  return found;
}
