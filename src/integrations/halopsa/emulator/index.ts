import type { AddressInfo } from 'node:net';
import type { World } from '../../../world/fixture.ts';
import { emulatorServer } from './server.ts';
import { type Delivery, type FaultInput, type HaloEffect, HaloSite, type RequestLogEntry } from './site.ts';

/**
 * An emulated HaloPSA: the token endpoint and the part of the REST API deskhand uses, one hosted
 * tenant per MSP of the world whose PSA is HaloPSA, with webhooks called for new tickets, and the
 * `/_emulator/` control routes (faults, request and effects logs, the portal, reset).
 * site.ts holds the state, server.ts the routes, data.ts the seed from the world.
 */

export {
  API_AGENT_NAME,
  EMAIL_USER_OUTCOME,
  emulatorApiCredentials,
  emulatorReadOnlyCredentials,
  haloClientId,
  PRIVATE_NOTE_OUTCOME,
  SERVICE_REQUEST_TYPE,
} from './data.ts';
export type { Delivery, FaultInput, HaloEffect, RequestLogEntry } from './site.ts';

export interface HaloEmulatorOptions {
  world: World;
  port?: number;
  host?: string;
  /** A delay drawn uniformly from [min, max] ms before every API call (default none). */
  latencyMs?: { min: number; max: number };
}

export interface HaloTicketView {
  id: number;
  tenant: string;
  summary: string;
  status_id: number;
  tickettype_id: number;
  client_id: number;
  user_email: string;
  actions: { id: number; note: string; outcome: string; hiddenfromuser: boolean; sendemail: boolean; who: string }[];
}

export interface HaloEmulator {
  /** The instance URL to configure deskhand with (`http://127.0.0.1:PORT`; the API is under /api). */
  url: string;
  port: number;
  close(): Promise<void>;
  reset(): void;
  tickets(tenant?: string): HaloTicketView[];
  effects(tenant?: string): HaloEffect[];
  requests(): RequestLogEntry[];
  deliveries(): Delivery[];
  deliveriesSettled(): Promise<void>;
  addFault(fault: FaultInput): void;
  clearFaults(): void;
  expireTokens(): void;
  /** Stop (or resume) calling webhooks, as Halo does with a webhook it disabled. */
  pauseWebhooks(paused: boolean): void;
  /** An end user opens a ticket through the portal (`POST /_emulator/portal/tickets`); its id. */
  openTicket(input: { tenant: string; client: string; requester: string; details: string; summary?: string }): Promise<number>;
  /** The name of a status id (the emulator's statuses). */
  statusName(id: number): string | undefined;
}

export async function startHaloEmulator(options: HaloEmulatorOptions): Promise<HaloEmulator> {
  const site = new HaloSite(options.world);
  const app = emulatorServer(site);
  if (options.latencyMs) {
    const { min, max } = options.latencyMs;
    app.addHook('onRequest', (request, _reply, done) => {
      if (request.url.startsWith('/_emulator')) return done();
      setTimeout(done, min + Math.floor(Math.random() * (max - min + 1)));
    });
  }
  const host = options.host ?? '127.0.0.1';
  await app.listen({ port: options.port ?? 0, host });
  const port = (app.server.address() as AddressInfo).port;
  site.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const { STATUSES } = await import('./data.ts');
  return {
    url: site.url,
    port,
    close: async () => {
      await app.close();
    },
    reset: () => site.reset(),
    tickets: (tenant) =>
      site.tickets
        .filter((t) => tenant === undefined || t.tenant === tenant)
        .map((t) => ({
          id: t.id,
          tenant: t.tenant,
          summary: t.summary,
          status_id: t.status_id,
          tickettype_id: t.tickettype_id,
          client_id: t.client_id,
          user_email: t.user_email,
          actions: site.actions.filter((a) => a.ticket_id === t.id).map((a) => ({ id: a.id, note: a.note, outcome: a.outcome, hiddenfromuser: a.hiddenfromuser, sendemail: a.sendemail, who: a.who })),
        })),
    effects: (tenant) => site.effects.filter((e) => tenant === undefined || e.tenant === tenant).map((e) => ({ ...e })),
    requests: () => [...site.requestLog],
    deliveries: () => site.deliveries.map((d) => ({ ...d, attempts: [...d.attempts] })),
    deliveriesSettled: () => site.deliveriesSettled(),
    addFault: (fault) => {
      site.addFault(fault);
    },
    clearFaults: () => {
      site.faults = [];
    },
    expireTokens: () => {
      site.expireTokens();
    },
    openTicket: async (input) => {
      const response = await fetch(`${site.url}/_emulator/portal/tickets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
      const body = (await response.json()) as { id?: number; error?: string };
      if (response.status !== 201 || typeof body.id !== 'number') throw new Error(`the HaloPSA emulator did not open the ticket: HTTP ${response.status} ${body.error ?? ''}`);
      return body.id;
    },
    pauseWebhooks: (paused) => {
      site.webhooksPaused = paused;
    },
    statusName: (id) => STATUSES.find((s) => s.id === id)?.name,
  };
}
