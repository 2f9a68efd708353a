import { emulatorApiCredentials } from '../src/integrations/connectwise/emulator/data.ts';
import { startConnectWiseEmulator } from '../src/integrations/connectwise/emulator/index.ts';
import type { RunningEmulators } from '../src/integrations/emulators.ts';
import { emulatorAppCredentials } from '../src/integrations/m365/emulator/credentials.ts';
import { startGraphEmulator } from '../src/integrations/m365/emulator/index.ts';
import { startHaloEmulator } from '../src/integrations/halopsa/emulator/index.ts';
import { startHuduEmulator } from '../src/integrations/hudu/emulator/index.ts';
import { startItGlueEmulator } from '../src/integrations/itglue/emulator/index.ts';
import type { World } from '../src/world/fixture.ts';
import { percentile } from './support.ts';

/**
 * The emulators for one run, on loopback, without added delay by default. With `--latency` they
 * answer like the real services over the internet: each call waits a uniform random time in
 * [min, max] (the emulators' `latencyMs` option). If an emulator does not honour the option (an
 * older build), each of its calls is delayed by the range's midpoint through its fault injection
 * instead, and the run says so.
 */
export const GRAPH_LATENCY = { min: 40, max: 120 };
export const CONNECTWISE_LATENCY = { min: 80, max: 250 };

export interface BenchEmulators extends RunningEmulators {
  /** How latency is applied: `none`, `random` (latencyMs), or `fixed midpoint` (fallback). */
  latencyMode: { graph: string; connectwise: string };
}

export async function startBenchEmulators(world: World, latency: boolean): Promise<BenchEmulators> {
  // Passed as variables, not literals: the option exists only in emulators that support it.
  const cwOptions = { world, host: '127.0.0.1', port: 0, ...(latency ? { latencyMs: CONNECTWISE_LATENCY } : {}) };
  const graphOptions = { world, host: '127.0.0.1', port: 0, ...(latency ? { latencyMs: GRAPH_LATENCY } : {}) };
  const connectwise = await startConnectWiseEmulator(cwOptions);
  let graph: Awaited<ReturnType<typeof startGraphEmulator>>;
  try {
    graph = await startGraphEmulator(graphOptions);
  } catch (error) {
    await connectwise.close();
    throw error;
  }
  const latencyMode = { graph: 'none', connectwise: 'none' };
  if (latency) {
    const mspId = world.msps.find((m) => m.psa.toLowerCase() === 'connectwise')?.id;
    const clientId = world.clients[0]?.id;
    if (!mspId || !clientId) throw new Error('the world needs a ConnectWise MSP and a client');
    const graphMs = await medianMs(() => graphToken(graph.loginUrl, clientId));
    latencyMode.graph = 'random';
    if (graphMs < GRAPH_LATENCY.min * 0.9) {
      graph.injectFault({ delayMs: Math.round((GRAPH_LATENCY.min + GRAPH_LATENCY.max) / 2), count: 1_000_000_000 });
      latencyMode.graph = 'fixed midpoint (fault delay)';
    }
    const cwMs = await medianMs(() => connectWiseBoards(connectwise.url, connectwise.codebase, mspId));
    latencyMode.connectwise = 'random';
    if (cwMs < CONNECTWISE_LATENCY.min * 0.9) {
      connectwise.addFault({ status: 0, delayMs: Math.round((CONNECTWISE_LATENCY.min + CONNECTWISE_LATENCY.max) / 2), count: 1_000_000_000 });
      latencyMode.connectwise = 'fixed midpoint (fault delay)';
    }
  }
  // The HaloPSA emulator serves the demo world's HaloPSA MSP; the documentation platforms' emulators hold
  // the runbooks of the world's MSPs that document there (none in a generated world). The bench measures the others.
  const halopsa = await startHaloEmulator({ world, host: '127.0.0.1', port: 0 });
  const hudu = await startHuduEmulator({ world });
  const itglue = await startItGlueEmulator({ world });
  return {
    endpoints: { connectwise: connectwise.url, graph: graph.url, login: graph.loginUrl, exchange: graph.exchange.url, halopsa: halopsa.url, hudu: hudu.url, itglue: itglue.url },
    connectwise,
    graph,
    halopsa,
    hudu,
    itglue,
    latencyMode,
    async close() {
      await Promise.allSettled([connectwise.close(), graph.close(), halopsa.close(), hudu.close(), itglue.close()]);
    },
  };
}

async function medianMs(call: () => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await call();
    times.push(performance.now() - t0);
  }
  return percentile(times, 50);
}

async function graphToken(loginUrl: string, clientSlug: string): Promise<void> {
  const app = emulatorAppCredentials(clientSlug);
  const response = await fetch(`${loginUrl}/${app.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: app.clientId, client_secret: app.clientSecret, grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' }),
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`the Graph emulator's token endpoint answered ${response.status}`);
}

async function connectWiseBoards(siteUrl: string, codebase: string, mspId: string): Promise<void> {
  const c = emulatorApiCredentials(mspId);
  const response = await fetch(`${siteUrl}/${codebase}apis/3.0/service/boards`, {
    headers: {
      authorization: `Basic ${Buffer.from(`${c.companyId}+${c.publicKey}:${c.privateKey}`).toString('base64')}`,
      clientId: c.clientId,
    },
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`the ConnectWise emulator answered ${response.status} for service/boards`);
}
