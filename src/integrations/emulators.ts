import type { World } from '../world/fixture.ts';
import type { EmulatorEndpoints } from '../world/seed.ts';
import { startConnectWiseEmulator } from './connectwise/emulator/index.ts';
import { startGraphEmulator } from './m365/emulator.ts';

/** The built-in emulators of the outside systems, loaded with one world, on free loopback ports. */
export interface RunningEmulators {
  endpoints: EmulatorEndpoints;
  connectwise: Awaited<ReturnType<typeof startConnectWiseEmulator>>;
  graph: Awaited<ReturnType<typeof startGraphEmulator>>;
  close(): Promise<void>;
}

/** Round-trip times seen from a service desk in the cloud: added to every answer when asked for. */
export const REALISTIC_LATENCY = {
  graph: { min: 40, max: 120 },
  connectwise: { min: 80, max: 250 },
} as const;

export async function startEmulators(options: {
  world: World;
  host?: string;
  connectwisePort?: number;
  graphPort?: number;
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
  return {
    endpoints: { connectwise: connectwise.url, graph: graph.url, login: graph.loginUrl },
    connectwise,
    graph,
    async close() {
      await Promise.allSettled([connectwise.close(), graph.close()]);
    },
  };
}
