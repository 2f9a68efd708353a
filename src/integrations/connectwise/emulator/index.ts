import type { AddressInfo } from 'node:net';
import type { World } from '../../../world/fixture.ts';
import type { CallbackDelivery, DispatcherOptions } from './callbacks.ts';
import { type ConnectWiseEffect, type Latency, latencySchema } from './effects.ts';
import { type EmulatorFault, type FaultInput, faultSchema } from './faults.ts';
import { type ForgeCallbackInput, type ForgeCallbackResult, forgeCallback, forgeSchema } from './forge.ts';
import { loopbackAlias } from '../hosts.ts';
import { emulatorServer } from './server.ts';
import { ConnectWiseSite, type EmulatorTicketView, type RequestLogEntry } from './site.ts';

/**
 * An emulated ConnectWise PSA: the subset of REST API 3.0 deskhand uses, under
 * `/{codebase}apis/3.0/...`, with ConnectWise's auth, pagination (Link headers), validation errors,
 * callbacks signed like the real ones, and the signing-key URL. State lives in memory for the life
 * of the process. Everything under `/_emulator/` is ours (inspection, reset, faults before or after
 * the effect, latency, an effects log); the real ConnectWise has no such path.
 *
 * The folder: site.ts (the state), server.ts (Fastify), endpoint.ts (how a call is answered),
 * routes/ (one file per ConnectWise area, plus discovery and control), data.ts (the seed from the
 * world), records.ts (the JSON ConnectWise answers with), callbacks.ts (deliveries), faults.ts,
 * effects.ts (the effects log and latency), forge.ts (forged callbacks), paging.ts, wire.ts.
 */

export type { CallbackDelivery } from './callbacks.ts';
export {
  API_MEMBER_IDENTIFIER,
  type EmulatorCredentials,
  emulatorApiCredentials,
  emulatorNoCallbacksCredentials,
  emulatorPortalCredentials,
  HELP_DESK_BOARD,
  NO_CALLBACKS_MEMBER_IDENTIFIER,
  PORTAL_MEMBER_IDENTIFIER,
} from './data.ts';
export { ROLE_NAMES } from './roles.ts';
export type { ConnectWiseEffect, ConnectWiseEffectOp, Latency, NoteFlags } from './effects.ts';
export type { EmulatorFault, FaultInput } from './faults.ts';
export type { ForgeCallbackInput, ForgeCallbackResult } from './forge.ts';
export { CALLBACK_ID_START, DEFAULT_EMULATOR_CODEBASE, type EmulatorTicketView, NOTE_ID_START, type RequestLogEntry, TICKET_ID_START } from './site.ts';

export interface ConnectWiseEmulatorOptions {
  world: World;
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  codebase?: string;
  /** The site URL to advertise in Link headers, `_info` links and key URLs when clients reach the
   * emulator under another name than host:port (e.g. it listens on 0.0.0.0). */
  publicUrl?: string;
  /**
   * The second host name its key URLs and Link headers use (as a real cloud site's may be on its
   * region's other host). Default: `localhost` for a site on `127.0.0.1` and the reverse, same port;
   * null for none.
   */
  aliasUrl?: string | null;
  delivery?: DispatcherOptions;
  /** A delay drawn uniformly from [min, max] ms before every ConnectWise call (default none). */
  latencyMs?: Latency;
}

export interface ConnectWiseEmulator {
  /** The site URL to configure deskhand with, e.g. `http://127.0.0.1:PORT`. */
  url: string;
  /** The site's second name (key URLs, Link headers), e.g. `http://localhost:PORT`; null for none. */
  aliasUrl: string | null;
  codebase: string;
  /** `{url}/{codebase}apis/3.0/` */
  apiBaseUrl: string;
  port: number;
  close(): Promise<void>;
  /** Forgets tickets, notes, callbacks, deliveries, faults and the request log; ids start over. */
  reset(): void;
  tickets(companyId?: string): EmulatorTicketView[];
  deliveries(): CallbackDelivery[];
  /** Resolves when every callback delivery started so far has succeeded or given up. */
  deliveriesSettled(): Promise<void>;
  addFault(fault: FaultInput): EmulatorFault;
  clearFaults(): void;
  requests(): RequestLogEntry[];
  forgeCallback(input: ForgeCallbackInput): Promise<ForgeCallbackResult>;
  /** Every ticket created and note added, in order (all emulated companies, or one by login company id). */
  effects(companyId?: string): ConnectWiseEffect[];
  /** Latency before every ConnectWise call from now on; null for none. `reset()` restores the start option. */
  setLatency(latency: Latency | null): void;
}

export async function startConnectWiseEmulator(options: ConnectWiseEmulatorOptions): Promise<ConnectWiseEmulator> {
  const site = new ConnectWiseSite(options);
  const app = emulatorServer(site);
  const host = options.host ?? '127.0.0.1';
  await app.listen({ port: options.port ?? 0, host });
  const address = app.server.address() as AddressInfo;
  site.siteUrl = site.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  site.aliasUrl = options.aliasUrl === undefined ? loopbackAlias(site.siteUrl) : options.aliasUrl;
  return {
    url: site.siteUrl,
    aliasUrl: site.aliasUrl,
    codebase: site.codebase,
    apiBaseUrl: `${site.siteUrl}/${site.codebase}apis/3.0/`,
    port: address.port,
    close: async () => {
      await site.dispatcher.close();
      await app.close();
    },
    reset: () => site.reset(),
    tickets: (companyId) => site.ticketViews(companyId),
    deliveries: () => site.dispatcher.list(),
    deliveriesSettled: () => site.dispatcher.settled(),
    addFault: (fault) => site.faults.add(faultSchema.parse(fault)),
    clearFaults: () => site.faults.clear(),
    requests: () => site.requests(),
    forgeCallback: (input) => forgeCallback(site, forgeSchema.parse(input)),
    effects: (companyId) => site.effects.list(companyId),
    setLatency: (latency) => {
      site.latency = latency ? latencySchema.parse(latency) : null;
    },
  };
}
