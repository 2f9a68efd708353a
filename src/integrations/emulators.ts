import type { World } from '../world/fixture.ts';
import { autotaskEmulated } from './autotask/demo.ts';
import { connectWiseEmulated } from './connectwise/demo.ts';
import { m365Emulated } from './m365/demo.ts';
import { haloEmulated } from './halopsa/demo.ts';
import { startHaloEmulator } from './halopsa/emulator/index.ts';
import { huduEmulated } from './hudu/demo.ts';
import { startHuduEmulator } from './hudu/emulator/index.ts';
import { itGlueEmulated } from './itglue/demo.ts';
import { startItGlueEmulator } from './itglue/emulator/index.ts';
import type { KnowledgeSource } from './knowledge.ts';
import { moduleOf } from './index.ts';
import { type DemoIntegration, EMULATED_SETTINGS, type EmulatedSystem } from './module.ts';
import { type IdentityRuntime, identityFrom } from './registry.ts';
import { startAutotaskEmulator } from './autotask/emulator/index.ts';
import { startConnectWiseEmulator } from './connectwise/emulator/index.ts';
import { startGraphEmulator } from './m365/emulator/index.ts';

/**
 * Every endpoint the running emulators have (each emulated system's, and the further listeners of
 * one): what `deskhand start` checks before reusing emulators started by another deskhand.
 */
export const EMULATOR_ENDPOINT_KEYS = ['connectwise', 'graph', 'login', 'exchange', 'halopsa', 'hudu', 'itglue', 'autotask'] as const satisfies readonly (keyof EmulatorEndpoints)[];
/** Compiles only while the list names every endpoint. */
const everyEndpointListed: [Exclude<keyof EmulatorEndpoints, (typeof EMULATOR_ENDPOINT_KEYS)[number]>] extends [never] ? true : never = true;
void everyEndpointListed;

/** Where the running emulators listen. */
export interface EmulatorEndpoints {
  /** ConnectWise site URL (e.g. http://127.0.0.1:PORT). */
  connectwise: string;
  /** Microsoft Graph base URL including /v1.0. */
  graph: string;
  /** Microsoft identity platform base URL (token endpoint host). */
  login: string;
  /** Exchange Online's base URL (the Exchange emulator, over the Graph emulator's tenants). */
  exchange: string;
  /** HaloPSA instance URL (the API under /api, the token endpoint under /auth). */
  halopsa: string;
  /** The Hudu emulator (every Hudu-documenting MSP's instance, told apart by API key). */
  hudu: string;
  /** The IT Glue emulator's API base URL (every IT Glue-documenting MSP's account). */
  itglue: string;
  /** The Autotask emulator's base URL (zone lookup and zone). */
  autotask?: string;
}

/**
 * The emulated systems: the separate list of emulator modules that the CLI, the demo and the
 * tests reach emulators through (production code never imports an emulator).
 */
export const emulatedSystems: readonly EmulatedSystem[] = [connectWiseEmulated, m365Emulated, haloEmulated, autotaskEmulated, huduEmulated, itGlueEmulated];

/** What a service needs to load the demo world against running emulators. */
export interface DemoSetup {
  world: World;
  integrations: DemoIntegration[];
  emulators: { name: string; url: string }[];
  pointAt(kind: string, settings: Record<string, unknown>): Record<string, unknown>;
}

export function demoSetup(world: World, endpoints: EmulatorEndpoints): DemoSetup {
  const urls = endpoints as unknown as Record<string, string>;
  return {
    world,
    integrations: emulatedSystems.flatMap((system) => system.demoIntegrations(world, urls)),
    emulators: emulatedSystems.flatMap((system) => [{ name: system.label, url: system.url(urls) }, ...(system.alsoServes?.(urls) ?? [])]).filter((e) => e.url !== ''),
    pointAt: (kind, settings) => emulatedSystems.find((system) => system.kind === kind)?.pointAt(settings, urls) ?? settings,
  };
}

/** The built-in emulators of the outside systems, loaded with one world, on free loopback ports. */
export interface RunningEmulators {
  endpoints: EmulatorEndpoints;
  connectwise: Awaited<ReturnType<typeof startConnectWiseEmulator>>;
  graph: Awaited<ReturnType<typeof startGraphEmulator>>;
  halopsa: Awaited<ReturnType<typeof startHaloEmulator>>;
  hudu: Awaited<ReturnType<typeof startHuduEmulator>>;
  itglue: Awaited<ReturnType<typeof startItGlueEmulator>>;
  /** Absent where a caller starts its own emulators without it (the bench). */
  autotask?: Awaited<ReturnType<typeof startAutotaskEmulator>>;
  close(): Promise<void>;
}

/** Round-trip times seen from a service desk in the cloud: added to every answer when asked for. */
export const REALISTIC_LATENCY = {
  graph: { min: 40, max: 120 },
  connectwise: { min: 80, max: 250 },
  halopsa: { min: 80, max: 250 },
} as const;

export async function startEmulators(options: {
  world: World;
  host?: string;
  connectwisePort?: number;
  graphPort?: number;
  halopsaPort?: number;
  realisticLatency?: boolean;
}): Promise<RunningEmulators> {
  const host = options.host ?? '127.0.0.1';
  const latency = options.realisticLatency === true;
  const connectwise = await startConnectWiseEmulator({
    world: options.world,
    host,
    port: options.connectwisePort ?? 0,
    ...(latency ? { latencyMs: REALISTIC_LATENCY.connectwise } : {}),
  });
  const graph = await startGraphEmulator({
    world: options.world,
    host,
    port: options.graphPort ?? 0,
    ...(latency ? { latencyMs: REALISTIC_LATENCY.graph } : {}),
  });
  const halopsa = await startHaloEmulator({
    world: options.world,
    host,
    port: options.halopsaPort ?? 0,
    ...(latency ? { latencyMs: REALISTIC_LATENCY.halopsa } : {}),
  });
  const hudu = await startHuduEmulator({ world: options.world, host });
  const itglue = await startItGlueEmulator({ world: options.world, host });
  const autotask = await startAutotaskEmulator({ world: options.world, host });
  return {
    endpoints: { connectwise: connectwise.url, graph: graph.url, login: graph.loginUrl, exchange: graph.exchange.url, halopsa: halopsa.url, hudu: hudu.url, itglue: itglue.url, autotask: autotask.url },
    connectwise,
    graph,
    halopsa,
    hudu,
    itglue,
    autotask,
    async close() {
      await Promise.allSettled([connectwise.close(), graph.close(), halopsa.close(), hudu.close(), itglue.close(), autotask.close()]);
    },
  };
}

/**
 * `deskhand eval`: the identity provider's and the documentation platforms' emulators (no PSA
 * needed), a client's identity through its module's connection, and its runbooks through the
 * documentation modules' connections, with the catalog's default policies.
 */
export async function startEvalEmulator(world: World) {
  // Each case starts from the world as the fixture describes it: without the emulator's hybrid
  // marks (a synced SG-Finance-Share would refuse the change the planner rightly proposes).
  const graph = await startGraphEmulator({ world, hybridMarks: false });
  const hudu = await startHuduEmulator({ world });
  const itglue = await startItGlueEmulator({ world });
  const endpoints: Record<string, string> = { graph: graph.url, login: graph.loginUrl, exchange: graph.exchange.url, hudu: hudu.url, itglue: itglue.url };
  return {
    graph,
    endpoints,
    reset() {
      graph.reset();
      hudu.reset();
      itglue.reset();
    },
    async close() {
      await Promise.allSettled([graph.close(), hudu.close(), itglue.close()]);
    },
  };
}

/**
 * A client's knowledge bases as the demo world connects them (see `IntegrationRegistry.knowledgeForClient`):
 * on each documentation integration of its MSP, its linked company when linked, and the MSP's own.
 */
export function evalKnowledge(world: World, emulator: Awaited<ReturnType<typeof startEvalEmulator>>, clientId: string): KnowledgeSource[] {
  const client = world.clients.find((c) => c.id === clientId);
  if (!client) return [];
  const integrations = emulatedSystems
    .filter((system) => moduleOf(system.kind)?.provides.includes('knowledge'))
    .flatMap((system) => system.demoIntegrations(world, emulator.endpoints))
    .filter((integration) => integration.msp === client.msp && integration.client === undefined);
  return integrations.flatMap((integration) => {
    const link = integration.links?.find((l) => l.client === clientId)?.externalId ?? null;
    const connection = moduleOf(integration.kind)!.connect({
      integrationId: `eval-${integration.kind}-${integration.msp}`,
      name: integration.name,
      kind: integration.kind,
      settings: integration.settings,
      secrets: integration.secrets,
      ...(link ? { clientLink: link } : {}),
    });
    const knowledge = connection.knowledge;
    if (!knowledge) return [];
    const base = { integrationId: `eval-${integration.kind}-${integration.msp}`, name: integration.name, knowledge, policies: new Map() };
    return [...(link ? [{ ...base, clientLink: link }] : []), { ...base, clientLink: null }];
  });
}

export function evalIdentity(evalEmulators: Awaited<ReturnType<typeof startEvalEmulator>>, clientId: string): IdentityRuntime {
  const emulator = evalEmulators.graph;
  const config = emulator.clientConfig(clientId);
  const system = emulatedSystems.find((s) => s.kind === 'm365')!;
  const connection = moduleOf(system.kind)!.connect({
    integrationId: `eval-${clientId}`,
    name: `eval ${clientId}`,
    kind: system.kind,
    settings: {
      tenantId: config.tenantId,
      clientId: config.clientId,
      graphBaseUrl: config.graphBaseUrl,
      loginBaseUrl: config.loginBaseUrl,
      exchangeOnline: { enabled: true, baseUrl: emulator.exchange.url },
      ...EMULATED_SETTINGS,
    },
    secrets: { clientSecret: config.clientSecret },
  });
  return identityFrom(`eval-${clientId}`, connection, new Map())!;
}

/** Open a ticket in the emulated PSA of a client's MSP, as the client's employee would. */
export async function openEmulatedTicket(
  world: World,
  endpoints: EmulatorEndpoints,
  input: { client: string; requester: string; text: string; summary?: string },
): Promise<number> {
  const client = world.clients.find((c) => c.id === input.client);
  if (!client) throw new Error(`no client ${input.client} in the world (try ${world.clients.map((c) => c.id).join(', ')})`);
  const msp = world.msps.find((m) => m.id === client.msp)!;
  const psa = emulatedSystems.find((system) => system.kind === msp.psa && system.openTicket);
  if (!psa?.openTicket) throw new Error(`${msp.name}'s PSA (${msp.psa}) has no emulator to open tickets in yet`);
  return psa.openTicket(endpoints as unknown as Record<string, string>, { msp: msp.id, ...input });
}
