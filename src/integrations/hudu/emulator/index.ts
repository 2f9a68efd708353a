import type { AddressInfo } from 'node:net';
import type { World } from '../../../world/fixture.ts';
import { article, type HuduArticleRecord, type HuduInstance, seedInstances } from './data.ts';
import { faultSchema, type HuduFault, type HuduState, huduServer, newArticleSchema, type RequestLogEntry } from './server.ts';

export { emulatorHuduApiKey, HUDU_MSPS, huduCompanyId } from './data.ts';
export type { HuduFault, RequestLogEntry } from './server.ts';

/**
 * An emulated Hudu: one instance per MSP of the world that documents in Hudu, on one loopback
 * listener, told apart by API key. State lives in memory; `reset()` restores the seed.
 */
export interface HuduEmulator {
  url: string;
  close(): Promise<void>;
  reset(): void;
  instances(): HuduInstance[];
  addFault(fault: { status?: number; count?: number; pathContains?: string; retryAfterSeconds?: number; delayMs?: number }): HuduFault;
  clearFaults(): void;
  requests(): RequestLogEntry[];
  /** Add an article to an MSP's instance (tests: paging, drafts). */
  addArticle(input: { msp: string; companyId: number | null; title: string; body: string; draft?: boolean }): HuduArticleRecord;
}

export async function startHuduEmulator(options: { world: World; host?: string; port?: number }): Promise<HuduEmulator> {
  const state: HuduState = {
    instances: seedInstances(options.world),
    faults: [],
    log: [],
    nextFaultId: 1,
    url: '',
    reset() {
      state.instances = seedInstances(options.world);
      state.faults = [];
      state.log = [];
    },
    addArticle(input) {
      const instance = state.instances.find((i) => i.msp === input.msp);
      if (!instance) throw new Error(`no Hudu instance for ${input.msp}`);
      const record = article(input.msp, input.companyId, input);
      instance.articles.push(record);
      return record;
    },
  };
  const app = huduServer(state);
  const host = options.host ?? '127.0.0.1';
  await app.listen({ port: options.port ?? 0, host });
  const { port } = app.server.address() as AddressInfo;
  state.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: state.url,
    close: () => app.close(),
    reset: () => state.reset(),
    instances: () => state.instances,
    addFault(input) {
      const { count, ...rest } = faultSchema.parse(input);
      const fault: HuduFault = { id: state.nextFaultId++, remaining: count, ...rest };
      state.faults.push(fault);
      return fault;
    },
    clearFaults: () => {
      state.faults = [];
    },
    requests: () => state.log,
    addArticle: (input) => state.addArticle(newArticleSchema.parse(input)),
  };
}
