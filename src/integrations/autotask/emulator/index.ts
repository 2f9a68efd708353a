import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { World } from '../../../world/fixture.ts';
import { emulatorCompanyId } from './data.ts';
import { type Delivery, type Fault, faultSchema, fireWebhooks, type RequestLogEntry, emulatorServer, type ServerContext } from './server.ts';
import { AutotaskState, type Effect, type Row } from './state.ts';

/**
 * An emulated Autotask PSA (REST API v1.0), loaded from the demo world: each MSP whose PSA is
 * Autotask is a database of its own, reached through zoneInformation like a real one (the zone URL
 * is the emulator itself). State lives in memory. Everything under `/_emulator/` is ours (faults,
 * the request and effects logs, reset, a ticket opened as an employee through the client portal);
 * the real Autotask has no such path.
 */
export { API_RESOURCE_ID, emulatorApiCredentials, emulatorCompanyId, NOTE_PUBLISH, PORTAL_QUEUE, QUEUES, TICKET_STATUSES } from './data.ts';
export type { Delivery, Effect, Fault, RequestLogEntry, Row };

export interface AutotaskEmulator {
  /** The emulator's base URL, e.g. `http://127.0.0.1:PORT`; the zone lookup URL is `{url}/atservicesrest/`. */
  url: string;
  zoneLookupUrl: string;
  close(): Promise<void>;
  reset(): void;
  /** Open a ticket as a client's employee would in the client portal (the webhooks fire, unless `webhooks: false`: one that never arrives). */
  openTicket(input: { client: string; requester: string; title: string; description: string; webhooks?: boolean }): Row;
  tickets(msp?: string): { ticket: Row; notes: Row[] }[];
  addFault(fault: z.input<typeof faultSchema>): void;
  clearFaults(): void;
  requests(): RequestLogEntry[];
  effects(msp?: string): Effect[];
  deliveries(): Delivery[];
  deliveriesSettled(): Promise<void>;
  /** The most calls seen in flight at once per entity (lower-case), since the start or the last reset. */
  maxConcurrent(): Record<string, number>;
  /** Add a note as an MSP technician (a Resource other than deskhand's), the webhooks fire. */
  addTechnicianNote(ticketId: number, text: string): Row;
}

const openSchema = z.object({ client: z.string().min(1), requester: z.string().min(1), title: z.string().min(1).max(255), description: z.string().min(1) });

export async function startAutotaskEmulator(options: { world: World; host?: string; port?: number }): Promise<AutotaskEmulator> {
  const state = new AutotaskState(options.world);
  let base = '';
  const ctx: ServerContext = { state, url: () => base, faults: [], log: [], deliveries: [], pending: new Set(), inFlight: new Map(), maxInFlight: new Map() };
  const app = emulatorServer(ctx);

  const openTicket = (input: z.infer<typeof openSchema>, webhooks = true): Row => {
    const client = options.world.clients.find((c) => c.id === input.client);
    const db = client ? state.databases.get(client.msp) : undefined;
    if (!client || !db) throw new Error(`no Autotask company for client ${input.client}`);
    const companyId = emulatorCompanyId(options.world, client.id);
    const contact = db.contacts.find((c) => c['companyID'] === companyId && String(c['emailAddress']).toLowerCase() === input.requester.toLowerCase());
    if (!contact) throw new Error(`${input.requester} is no contact of ${client.name}`);
    const ticket = state.openPortalTicket(db, { companyId, contactId: contact.id, title: input.title, description: input.description }, new Date());
    if (webhooks) fireWebhooks(ctx, db, 'Ticket', ticket, null);
    return ticket;
  };

  app.post('/_emulator/tickets', async (request, reply) => {
    const parsed = openSchema.safeParse(typeof request.body === 'string' ? JSON.parse(request.body || '{}') : request.body);
    if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues.map((i) => i.message).join('; ') });
    try {
      return { id: openTicket(parsed.data).id };
    } catch (error) {
      return reply.code(404).send({ error: (error as Error).message });
    }
  });
  app.get('/_emulator/tickets', async () => ({ tickets: views() }));
  app.post('/_emulator/faults', async (request, reply) => {
    const parsed = faultSchema.safeParse(typeof request.body === 'string' ? JSON.parse(request.body || '{}') : request.body);
    if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues.map((i) => i.message).join('; ') });
    addFault(parsed.data);
    return { ok: true };
  });
  app.delete('/_emulator/faults', async () => {
    ctx.faults.length = 0;
    return { ok: true };
  });
  app.get('/_emulator/requests', async () => ({ requests: ctx.log }));
  app.get('/_emulator/effects', async () => ({ effects: state.effects }));
  app.post('/_emulator/reset', async () => {
    reset();
    return { ok: true };
  });

  function addFault(input: z.output<typeof faultSchema>): void {
    const fault: Fault = { status: input.status, remaining: input.count, pathContains: input.pathContains, method: input.method, retryAfterSeconds: input.retryAfterSeconds, delayMs: input.delayMs, afterEffect: input.afterEffect };
    ctx.faults.push(fault);
  }
  function reset(): void {
    state.reset();
    ctx.faults.length = 0;
    ctx.log.length = 0;
    ctx.deliveries.length = 0;
    ctx.maxInFlight.clear();
  }
  function views(msp?: string) {
    return [...state.databases.values()]
      .filter((db) => !msp || db.msp === msp)
      .flatMap((db) => db.tickets.map((ticket) => ({ ticket, notes: db.notes.filter((n) => n['ticketID'] === ticket.id) })));
  }

  const host = options.host ?? '127.0.0.1';
  await app.listen({ port: options.port ?? 0, host });
  const address = app.server.address() as AddressInfo;
  // Listening on every address: clients reach it (and its zone URL points) through loopback.
  const reach = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  base = `http://${reach.includes(':') ? `[${reach}]` : reach}:${address.port}`;
  return {
    url: base,
    zoneLookupUrl: `${base}/atservicesrest/`,
    close: async () => {
      await Promise.allSettled([...ctx.pending]);
      await app.close();
    },
    reset,
    openTicket: (input) => openTicket(openSchema.parse(input), input.webhooks !== false),
    tickets: views,
    addFault: (fault) => addFault(faultSchema.parse(fault)),
    clearFaults: () => {
      ctx.faults.length = 0;
    },
    requests: () => [...ctx.log],
    effects: (msp) => state.effects.filter((e) => !msp || e.msp === msp),
    deliveries: () => [...ctx.deliveries],
    maxConcurrent: () => Object.fromEntries(ctx.maxInFlight),
    deliveriesSettled: async () => {
      while (ctx.pending.size > 0) await Promise.allSettled([...ctx.pending]);
    },
    addTechnicianNote(ticketId, text) {
      for (const db of state.databases.values()) {
        const ticket = db.tickets.find((t) => t.id === ticketId);
        const tech = db.resources[1];
        if (!ticket || !tech) continue;
        const note: Row = { id: state.noteId(), ticketID: ticketId, title: 'Technician note', description: text, noteType: 3, publish: 2, creatorResourceID: tech.id, createDateTime: new Date().toISOString() };
        db.notes.push(note);
        fireWebhooks(ctx, db, 'TicketNote', note, tech.id);
        return note;
      }
      throw new Error(`no ticket ${ticketId}`);
    },
  };
}
