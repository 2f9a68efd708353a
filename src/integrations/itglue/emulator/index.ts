import type { AddressInfo } from 'node:net';
import type { World } from '../../../world/fixture.ts';
import { documentRecord, type ItGlueAccount, type ItGlueDocumentRecord, seedAccounts } from './data.ts';
import { faultSchema, type ItGlueFault, type ItGlueState, itGlueServer, newDocumentSchema, type RequestLogEntry } from './server.ts';

export { emulatorItGlueApiKey, ITGLUE_MSPS, itGlueOrganizationId } from './data.ts';
export type { ItGlueFault, RequestLogEntry } from './server.ts';

/**
 * An emulated IT Glue: one account per MSP of the world that documents in IT Glue, on one loopback
 * listener, told apart by API key (the real service tells regions apart by host). State lives in
 * memory; `reset()` restores the seed.
 */
export interface ItGlueEmulator {
  url: string;
  close(): Promise<void>;
  reset(): void;
  accounts(): ItGlueAccount[];
  addFault(fault: { status?: number; count?: number; pathContains?: string; retryAfterSeconds?: number; delayMs?: number }): ItGlueFault;
  clearFaults(): void;
  requests(): RequestLogEntry[];
  addDocument(input: { msp: string; organizationId: string; title: string; body: string; published?: boolean; folderId?: string | null }): ItGlueDocumentRecord;
}

export async function startItGlueEmulator(options: { world: World; host?: string; port?: number }): Promise<ItGlueEmulator> {
  const state: ItGlueState = {
    accounts: seedAccounts(options.world),
    faults: [],
    log: [],
    nextFaultId: 1,
    url: '',
    reset() {
      state.accounts = seedAccounts(options.world);
      state.faults = [];
      state.log = [];
    },
    addDocument(input) {
      const account = state.accounts.find((a) => a.msp === input.msp);
      if (!account) throw new Error(`no IT Glue account for ${input.msp}`);
      const record = documentRecord(input.msp, input.organizationId, input);
      account.documents.push(record);
      return record;
    },
  };
  const app = itGlueServer(state);
  const host = options.host ?? '127.0.0.1';
  await app.listen({ port: options.port ?? 0, host });
  const { port } = app.server.address() as AddressInfo;
  state.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: state.url,
    close: () => app.close(),
    reset: () => state.reset(),
    accounts: () => state.accounts,
    addFault(input) {
      const { count, ...rest } = faultSchema.parse(input);
      const fault: ItGlueFault = { id: state.nextFaultId++, remaining: count, ...rest };
      state.faults.push(fault);
      return fault;
    },
    clearFaults: () => {
      state.faults = [];
    },
    requests: () => state.log,
    addDocument: (input) => state.addDocument(newDocumentSchema.parse(input)),
  };
}
