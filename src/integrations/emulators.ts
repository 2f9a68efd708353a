import type { World } from '../world/fixture.ts';
import type { EmulatorEndpoints } from '../world/seed.ts';
import { startConnectWiseEmulator } from './connectwise/emulator.ts';
import { startGraphEmulator } from './m365/emulator.ts';

/** The built-in emulators of the outside systems, loaded with one world, on free loopback ports. */
export interface RunningEmulators {
  endpoints: EmulatorEndpoints;
  connectwise: Awaited<ReturnType<typeof startConnectWiseEmulator>>;
  graph: Awaited<ReturnType<typeof startGraphEmulator>>;
  close(): Promise<void>;
}

export async function startEmulators(options: { world: World; host?: string; connectwisePort?: number; graphPort?: number }): Promise<RunningEmulators> {
  const host = options.host ?? '127.0.0.1';
  const connectwise = await startConnectWiseEmulator({ world: options.world, host, port: options.connectwisePort ?? 0 });
  const graph = await startGraphEmulator({ world: options.world, host, port: options.graphPort ?? 0 });
  return {
    endpoints: { connectwise: connectwise.url, graph: graph.url, login: graph.loginUrl },
    connectwise,
    graph,
    async close() {
      await Promise.allSettled([connectwise.close(), graph.close()]);
    },
  };
}
