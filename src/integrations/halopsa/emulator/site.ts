import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { World } from '../../../world/fixture.ts';
import {
  CLOSED_STATUS_ID,
  type EmulatorApp,
  emulatorApps,
  KNOWN_SCOPES,
  OUTCOMES,
  type SeedTenant,
  SERVICE_REQUEST_TYPE,
  STATUSES,
  seedTenants,
  TICKET_TYPES,
} from './data.ts';

/**
 * The emulated HaloPSA's state: its tenants (one per MSP), tickets, actions, webhooks and tokens,
 * the faults it is told to answer with, a request log and an effects log. Kept in memory.
 */

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Ticket {
  id: number;
  tenant: string;
  summary: string;
  details: string;
  status_id: number;
  tickettype_id: number;
  client_id: number;
  client_name: string;
  user_id: number;
  user_name: string;
  user_email: string;
  agent_id: number;
  dateoccurred: string;
  hasbeenclosed: boolean;
}

export interface Action {
  id: number;
  ticket_id: number;
  note: string;
  outcome: string;
  outcome_id: number;
  hiddenfromuser: boolean;
  sendemail: boolean;
  who: string;
  who_agentid: number;
  datetime: string;
}

export interface Webhook {
  id: string;
  tenant: string;
  name: string;
  url: string;
  method: string;
  active: boolean;
  authentication_type: number;
  basic_username: string;
  basic_password: string;
  events: string[];
}

export interface Session {
  tenant: string;
  app: EmulatorApp;
  scopes: string[];
  expiresAt: number;
}

export type EffectOp = 'ticket_created' | 'action_added' | 'status_changed' | 'webhook_saved';

export interface HaloEffect {
  seq: number;
  /** process.hrtime.bigint() as a decimal string: orders effects across emulators of one process. */
  order: string;
  at: string;
  tenant: string;
  op: EffectOp;
  ticketId: number | null;
  actionId: number | null;
  hiddenfromuser: boolean | null;
  sendemail: boolean | null;
  /** Who made it: the agent of the token, or `portal` for an end user. */
  who: string;
  /** The action's first line, the ticket's summary, the new status's name, or the webhook's name. */
  firstLine: string;
}

export interface RequestLogEntry {
  at: string;
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

export interface Delivery {
  id: number;
  tenant: string;
  webhookId: string;
  url: string;
  ticketId: number;
  body: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: { at: string; status: number | null; error?: string }[];
}

export const faultSchema = z
  .object({
    status: z.number().int().min(0).max(599).optional(),
    count: z.number().int().min(1).default(1),
    pathContains: z.string().min(1).optional(),
    method: z.string().min(1).optional(),
    retryAfterSeconds: z.number().min(0).optional(),
    delayMs: z.number().int().min(0).max(60_000).optional(),
    /** The call is handled (its change made), then `status` is answered: the answer is lost. */
    afterEffect: z.boolean().default(false),
  })
  .refine((f) => f.status !== undefined || f.delayMs !== undefined, { message: 'a fault needs a status or a delayMs' });
export type FaultInput = z.input<typeof faultSchema>;
export type Fault = z.output<typeof faultSchema> & { id: number; hits: number };

const TOKEN_LIFETIME_S = 3600;
const MAX_LOG = 10_000;

export class HaloSite {
  url = '';
  readonly tenants: SeedTenant[];
  tickets: Ticket[] = [];
  actions: Action[] = [];
  webhooks: Webhook[] = [];
  sessions = new Map<string, Session>();
  faults: Fault[] = [];
  requestLog: RequestLogEntry[] = [];
  effects: HaloEffect[] = [];
  deliveries: Delivery[] = [];
  /** Webhooks are not called (as when Halo disabled them after failed attempts): tickets come in by the poll only. */
  webhooksPaused = false;
  private pending = new Set<Promise<void>>();
  private nextTicket = 4200;
  private nextAction = 1;
  private nextFault = 1;
  private nextDelivery = 1;
  private lastOrder = 0n;

  constructor(world: World) {
    this.tenants = seedTenants(world);
  }

  reset(): void {
    this.tickets = [];
    this.actions = [];
    this.webhooks = [];
    this.sessions.clear();
    this.faults = [];
    this.requestLog = [];
    this.effects = [];
    this.deliveries = [];
    this.webhooksPaused = false;
    this.nextTicket = 4200;
    this.nextAction = 1;
  }

  tenant(name: string): SeedTenant | undefined {
    return this.tenants.find((t) => t.tenant.toLowerCase() === name.toLowerCase());
  }

  // --- tokens --------------------------------------------------------------------------------

  /** The OAuth2 token endpoint: client credentials only, the tenant named, the secret and scopes checked. */
  token(query: Record<string, string>, form: Record<string, string>): Reply {
    if (form['grant_type'] !== 'client_credentials') return { status: 400, body: { error: 'unsupported_grant_type' } };
    const tenant = query['tenant'] ? this.tenant(query['tenant']) : undefined;
    // A hosted instance: without the right tenant name the application is unknown.
    if (!tenant) return { status: 400, body: { error: 'invalid_request', error_description: 'tenant not found' } };
    const app = emulatorApps(tenant.tenant).find((a) => a.clientId === form['client_id']);
    if (!app || !form['client_secret'] || app.clientSecret !== form['client_secret']) return { status: 401, body: { error: 'invalid_client' } };
    const asked = (form['scope'] ?? 'all').trim().split(/\s+/).filter(Boolean);
    const unknown = asked.find((s) => !(KNOWN_SCOPES as readonly string[]).includes(s));
    const refused = asked.find((s) => !app.granted.includes('all') && !app.granted.includes(s));
    if (asked.length === 0 || unknown || refused) return { status: 400, body: { error: 'invalid_scope', error_description: `scope not allowed: ${unknown ?? refused ?? ''}` } };
    const token = randomBytes(24).toString('base64url');
    this.sessions.set(token, { tenant: tenant.tenant, app, scopes: asked, expiresAt: Date.now() + TOKEN_LIFETIME_S * 1000 });
    return { status: 200, body: { token_type: 'Bearer', access_token: token, expires_in: TOKEN_LIFETIME_S, scope: asked.join(' ') } };
  }

  session(authorization: string | undefined): Session | null {
    const match = /^Bearer (\S+)$/i.exec(authorization ?? '');
    const session = match ? this.sessions.get(match[1]!) : undefined;
    if (!session || session.expiresAt <= Date.now()) return null;
    return session;
  }

  /** Every token issued so far stops working (as when they expire). */
  expireTokens(): number {
    const count = this.sessions.size;
    this.sessions.clear();
    return count;
  }

  // --- records -------------------------------------------------------------------------------

  createTicket(tenant: SeedTenant, input: { summary: string; details: string; client_id: number; user_email?: string; user_id?: number; tickettype_id?: number }, who: string): Ticket | Reply {
    const client = tenant.clients.find((c) => c.id === input.client_id && !c.inactive);
    if (!client) return haloError(400, `client_id ${input.client_id} is not a valid client`);
    const user = tenant.users.find((u) => (input.user_id !== undefined ? u.id === input.user_id : u.emailaddress === input.user_email?.toLowerCase()) && u.client_id === client.id);
    if ((input.user_id !== undefined || input.user_email !== undefined) && !user) return haloError(400, 'the user is not a user of this client');
    const type = TICKET_TYPES.find((t) => t.id === (input.tickettype_id ?? TICKET_TYPES.find((x) => x.name === SERVICE_REQUEST_TYPE)!.id));
    if (!type) return haloError(400, `tickettype_id ${input.tickettype_id} is not valid`);
    const ticket: Ticket = {
      id: this.nextTicket++,
      tenant: tenant.tenant,
      summary: input.summary,
      details: input.details,
      status_id: 1,
      tickettype_id: type.id,
      client_id: client.id,
      client_name: client.name,
      user_id: user?.id ?? 0,
      user_name: user?.name ?? '',
      user_email: user?.emailaddress ?? '',
      agent_id: 0,
      dateoccurred: new Date().toISOString(),
      hasbeenclosed: false,
    };
    this.tickets.push(ticket);
    this.effect(tenant.tenant, { op: 'ticket_created', ticketId: ticket.id, who, text: ticket.summary });
    this.fireWebhooks(ticket);
    return ticket;
  }

  setStatus(ticket: Ticket, statusId: number, who: string): Reply | null {
    const status = STATUSES.find((s) => s.id === statusId);
    if (!status) return haloError(400, `status_id ${statusId} is not valid`);
    if (ticket.status_id === statusId) return null;
    ticket.status_id = statusId;
    ticket.hasbeenclosed = statusId === CLOSED_STATUS_ID;
    this.effect(ticket.tenant, { op: 'status_changed', ticketId: ticket.id, who, text: status.name });
    return null;
  }

  addAction(ticket: Ticket, input: { note: string; outcome?: string; outcome_id?: number; hiddenfromuser?: boolean; sendemail?: boolean }, session: Session): Action | Reply {
    const outcome = input.outcome_id !== undefined ? OUTCOMES.find((o) => o.id === input.outcome_id) : input.outcome !== undefined ? OUTCOMES.find((o) => o.outcome.toLowerCase() === input.outcome!.toLowerCase()) : OUTCOMES[0];
    if (!outcome) return haloError(400, 'the outcome is not a valid action type');
    const action: Action = {
      id: this.nextAction++,
      ticket_id: ticket.id,
      note: input.note,
      outcome: outcome.outcome,
      outcome_id: outcome.id,
      // The action's own flag wins; without it the outcome's default applies.
      hiddenfromuser: input.hiddenfromuser ?? outcome.hiddenfromuser,
      sendemail: input.sendemail ?? false,
      who: session.app.agentName,
      who_agentid: session.app.agentId,
      datetime: new Date().toISOString(),
    };
    this.actions.push(action);
    this.effect(ticket.tenant, { op: 'action_added', ticketId: ticket.id, actionId: action.id, hiddenfromuser: action.hiddenfromuser, sendemail: action.sendemail, who: action.who, text: action.note });
    return action;
  }

  effect(tenant: string, input: { op: EffectOp; ticketId?: number; actionId?: number; hiddenfromuser?: boolean; sendemail?: boolean; who: string; text: string }): void {
    const now = process.hrtime.bigint();
    this.lastOrder = now > this.lastOrder ? now : this.lastOrder + 1n;
    this.effects.push({
      seq: this.effects.length + 1,
      order: String(this.lastOrder),
      at: new Date().toISOString(),
      tenant,
      op: input.op,
      ticketId: input.ticketId ?? null,
      actionId: input.actionId ?? null,
      hiddenfromuser: input.hiddenfromuser ?? null,
      sendemail: input.sendemail ?? null,
      who: input.who,
      firstLine: (input.text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '').trim().slice(0, 200),
    });
    if (this.effects.length > MAX_LOG) this.effects.splice(0, this.effects.length - MAX_LOG);
  }

  logRequest(entry: RequestLogEntry): void {
    this.requestLog.push(entry);
    if (this.requestLog.length > MAX_LOG) this.requestLog.splice(0, this.requestLog.length - MAX_LOG);
  }

  // --- faults --------------------------------------------------------------------------------

  addFault(input: FaultInput): Fault {
    const fault: Fault = { ...faultSchema.parse(input), id: this.nextFault++, hits: 0 };
    this.faults.push(fault);
    return fault;
  }

  async takeFault(method: string, path: string): Promise<Fault | undefined> {
    const fault = this.faults.find((f) => f.count > 0 && (f.pathContains === undefined || path.toLowerCase().includes(f.pathContains.toLowerCase())) && (f.method === undefined || f.method.toUpperCase() === method));
    if (!fault) return undefined;
    fault.count--;
    fault.hits++;
    if (fault.count === 0) this.faults = this.faults.filter((f) => f !== fault);
    if (fault.delayMs) await sleep(fault.delayMs);
    return fault;
  }

  // --- webhooks ------------------------------------------------------------------------------

  /** "New Ticket Logged": each of the tenant's webhooks for that event is called (after the change, not awaited). */
  private fireWebhooks(ticket: Ticket): void {
    if (this.webhooksPaused) return;
    for (const hook of this.webhooks.filter((w) => w.tenant === ticket.tenant && w.active && w.events.some((e) => e.toLowerCase() === 'new ticket logged'))) {
      const body = JSON.stringify({
        id: randomUUID(),
        webhook_id: hook.id,
        notification_id: 1,
        escmsg_id: randomUUID(),
        event: 'New Ticket Logged',
        message: `A new ticket has been logged: Ticket ID ${String(ticket.id).padStart(7, '0')}.`,
        object_id: ticket.id,
        agent_id: ticket.agent_id,
        timestamp: new Date().toISOString(),
        ticket: { id: ticket.id, summary: ticket.summary, status_id: ticket.status_id, tickettype_id: ticket.tickettype_id, client_id: ticket.client_id, agent_id: ticket.agent_id, hasbeenclosed: ticket.hasbeenclosed },
      });
      const delivery: Delivery = { id: this.nextDelivery++, tenant: ticket.tenant, webhookId: hook.id, url: hook.url, ticketId: ticket.id, body, state: 'pending', attempts: [] };
      this.deliveries.push(delivery);
      const done = this.deliver(hook, delivery).finally(() => this.pending.delete(done));
      this.pending.add(done);
    }
  }

  private async deliver(hook: Webhook, delivery: Delivery): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (hook.authentication_type === 1) headers['authorization'] = `Basic ${Buffer.from(`${hook.basic_username}:${hook.basic_password}`).toString('base64')}`;
    for (const [attempt, wait] of [0, 200, 1000].entries()) {
      if (wait) await sleep(wait);
      try {
        const response = await fetch(hook.url, { method: hook.method, headers, body: delivery.body, signal: AbortSignal.timeout(10_000) });
        await response.text();
        delivery.attempts.push({ at: new Date().toISOString(), status: response.status });
        if (response.ok) {
          delivery.state = 'delivered';
          return;
        }
        // A refusal (4xx) is not retried, as Halo marks the webhook attempt failed.
        if (response.status < 500) break;
      } catch (error) {
        delivery.attempts.push({ at: new Date().toISOString(), status: null, error: error instanceof Error ? error.message : String(error) });
      }
      if (attempt === 2) break;
    }
    delivery.state = 'failed';
  }

  async deliveriesSettled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

/** Halo's error answers are not documented in one shape; the emulator answers a plain message. */
export function haloError(status: number, message: string): Reply {
  return { status, body: { message } };
}
