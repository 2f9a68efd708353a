import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describeError, isDeskhandError } from '../core/errors.ts';
import { isTransientFailure } from './failures.ts';
import { stopRequest } from './stop.ts';
import { backoffMs } from '../integrations/http.ts';
import {
  type ClaimedRequest,
  claimDueRequest,
  renewLeases,
  retryRequestLater,
  WORK_CHANNELS,
  type WorkKind,
} from '../store/requests.ts';
import type { EngineContext } from './context.ts';
import { decideAfterNote } from './decide.ts';
import { diagnoseRequest } from './diagnose.ts';
import { executePlan } from './execute.ts';
import { sweepExpiredApprovals } from './expiry.ts';
import { pollMissedTickets } from './intake-poll.ts';
import { configuredLeaseMs } from './lease.ts';
import { claimDueMessages, deliverMessage } from './outbox.ts';

const OUTBOX_BATCH = 20;

/**
 * A request step that keeps failing transiently (the tenant is down) is retried this many times; a
 * request claimed this many times without its claim ever ending (its worker died or hung each time)
 * is given up too, never retried in silence.
 */
export const MAX_REQUEST_ATTEMPTS = 6;

export interface WorkerOptions {
  /** Requests handled at once by this process. */
  concurrency?: number;
  /** Fallback poll when no notification arrives. */
  pollMs?: number;
  /** How often the expiry sweep runs. */
  sweepMs?: number;
  /**
   * How long a claim holds without renewal. The worker renews its claims every third of this while
   * it works, so a worker that dies hands its work back after at most this long.
   */
  leaseMs?: number;
  /** LISTEN for wake-ups on this connection string (optional; polling alone also works). */
  listenUrl?: string;
  /** How often the PSAs are asked for tickets whose webhook never arrived (0: never). */
  intakePollMs?: number;
}

/**
 * The engine's worker: claims due requests and outbox messages from PostgreSQL and runs them, and
 * sweeps expired approvals. Everything it waits for is a row, so it can be killed at any instant;
 * several workers (processes) can share one database.
 */
export class Worker {
  private running = false;
  private readonly waiters: Record<WorkKind, Set<() => void>> = { requests: new Set(), outbox: new Set() };
  /** A wake-up arrived while every loop of that kind was busy: look again before idling. */
  private readonly missed: Record<WorkKind, boolean> = { requests: false, outbox: false };
  private listener: pg.Client | null = null;
  private loops: Promise<void>[] = [];
  private heartbeat: NodeJS.Timeout | null = null;
  private lastSweep = 0;
  private readonly heldRequests = new Set<string>();
  private readonly heldMessages = new Set<string>();
  private readonly options: Required<Omit<WorkerOptions, 'listenUrl'>> & Pick<WorkerOptions, 'listenUrl'>;

  constructor(
    private readonly ctx: EngineContext,
    options: WorkerOptions = {},
  ) {

    const pollEnv = Number(process.env['DESKHAND_INTAKE_POLL_MS']);
    this.options = {
      concurrency: 4,
      pollMs: 1_000,
      sweepMs: 5_000,
      leaseMs: configuredLeaseMs(),
      intakePollMs: Number.isInteger(pollEnv) && pollEnv >= 0 ? pollEnv : 60_000,
      ...options,
    };
  }

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.options.listenUrl) await this.listen(this.options.listenUrl);
    this.heartbeat = setInterval(() => void this.renewHeld(), Math.max(250, Math.floor(this.options.leaseMs / 3)));
    this.heartbeat.unref();
    this.loops = [this.outboxLoop(), this.sweepLoop()];
    for (let i = 0; i < this.options.concurrency; i++) this.loops.push(this.requestLoop());
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.wakeAll();
    await Promise.allSettled(this.loops);
    await this.listener?.end().catch(() => {});
    this.listener = null;
  }

  /**
   * Wake a loop now (a notification arrived, or a caller knows there is work). One notification is
   * one piece of new work, so one idle loop is woken, not all of them to race for it.
   */
  poke(kind?: WorkKind): void {
    for (const k of kind ? [kind] : (['requests', 'outbox'] as const)) {
      const next = this.waiters[k].values().next();
      if (next.done) {
        this.missed[k] = true;
        continue;
      }
      this.waiters[k].delete(next.value);
      next.value();
    }
  }

  private wakeAll(): void {
    for (const k of ['requests', 'outbox'] as const) {
      const waiting = [...this.waiters[k]];
      this.waiters[k].clear();
      for (const wake of waiting) wake();
    }
  }

  private async listen(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url, application_name: 'deskhand-listen' });
    client.on('error', (error) => this.ctx.logger.warn({ error: error.message }, 'the wake-up connection failed; polling only'));
    client.on('notification', (message) => this.poke(message.channel === WORK_CHANNELS.outbox ? 'outbox' : 'requests'));
    await client.connect();
    await client.query(`LISTEN ${WORK_CHANNELS.requests}; LISTEN ${WORK_CHANNELS.outbox}`);
    this.listener = client;
  }

  private async idle(kind: WorkKind): Promise<void> {
    if (!this.running) return;
    if (this.missed[kind]) {
      this.missed[kind] = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters[kind].delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, this.options.pollMs);
      this.waiters[kind].add(wake);
    });
  }

  private async renewHeld(): Promise<void> {
    const until = new Date(this.ctx.clock.now().getTime() + this.options.leaseMs);
    try {
      await renewLeases(this.ctx.db, 'requests', this.ctx.workerId, [...this.heldRequests], until);
      await renewLeases(this.ctx.db, 'outbox', this.ctx.workerId, [...this.heldMessages], until);
    } catch (error) {
      this.ctx.logger.warn({ error: describeError(error) }, 'could not renew leases');
    }
  }

  private async requestLoop(): Promise<void> {
    while (this.running) {
      let worked = false;
      try {
        worked = await this.runOneRequest();
      } catch (error) {
        this.ctx.logger.error({ error: describeError(error) }, 'request loop error');
        await sleep(500);
      }
      if (!worked) await this.idle('requests');
    }
  }

  private async outboxLoop(): Promise<void> {
    while (this.running) {
      let worked = false;
      try {
        // A full batch means there may be more; a partial one means the table was drained.
        worked = (await this.deliverSome()) >= OUTBOX_BATCH;
      } catch (error) {
        this.ctx.logger.error({ error: describeError(error) }, 'outbox loop error');
        await sleep(500);
      }
      if (!worked) await this.idle('outbox');
    }
  }

  private async sweepLoop(): Promise<void> {
    while (this.running) {
      try {
        await this.sweepIfDue();
      } catch (error) {
        this.ctx.logger.error({ error: describeError(error) }, 'expiry sweep error');
      }
      try {
        await this.pollIntakeIfDue();
      } catch (error) {
        this.ctx.logger.error({ error: describeError(error) }, 'intake poll error');
      }
      await sleep(Math.min(this.options.sweepMs, 1_000));
    }
  }

  async sweepIfDue(force = false): Promise<number> {
    const now = Date.now();
    if (!force && now - this.lastSweep < this.options.sweepMs) return 0;
    this.lastSweep = now;
    const expired = await sweepExpiredApprovals(this.ctx);
    if (expired > 0) {
      this.ctx.logger.info({ expired }, 'approvals expired');
      this.poke('outbox');
    }
    return expired;
  }

  private lastIntakePoll = 0;

  /** Ask the PSAs for tickets whose webhook never arrived (one worker per interval does it). */
  async pollIntakeIfDue(force = false): Promise<number> {
    const every = this.options.intakePollMs;
    if (every <= 0) return 0;
    if (!force && Date.now() - this.lastIntakePoll < every) return 0;
    this.lastIntakePoll = Date.now();
    const taken = await pollMissedTickets(this.ctx, force ? 0 : every);
    if (taken > 0) this.poke('requests');
    return taken;
  }

  async deliverSome(limit = OUTBOX_BATCH): Promise<number> {
    const messages = await claimDueMessages(this.ctx, limit, this.options.leaseMs);
    for (const message of messages) this.heldMessages.add(message.id);
    try {
      await Promise.all(messages.map((message) => deliverMessage(this.ctx, message)));
    } finally {
      for (const message of messages) this.heldMessages.delete(message.id);
    }
    return messages.length;
  }

  /** Claim and run one due request; false when none was due. */
  async runOneRequest(): Promise<boolean> {
    const request = await claimDueRequest(this.ctx.db, this.ctx.workerId, this.ctx.clock.now(), this.options.leaseMs);
    if (!request) return false;
    this.heldRequests.add(request.id);
    try {
      if (request.attempts > MAX_REQUEST_ATTEMPTS) {
        // Every earlier claim ran out without ending (a worker killed or stuck on this request each time).
        const reason = `the agent took this request up ${request.attempts - 1} times and never finished (each attempt stopped or ran out of time; last error: ${request.last_error ?? 'none recorded'})`;
        this.ctx.logger.error({ requestId: request.id, state: request.state, attempts: request.attempts }, 'request given up after repeated interrupted claims');
        await stopRequest(this.ctx, request, reason);
        return true;
      }
      await this.runStep(request);
    } catch (error) {
      await this.handleStepError(request, error);
    } finally {
      this.heldRequests.delete(request.id);
    }
    return true;
  }

  private async runStep(request: ClaimedRequest): Promise<void> {
    switch (request.state) {
      case 'received':
      case 'diagnosing':
        await diagnoseRequest(this.ctx, request);
        return;
      case 'noted':
        await decideAfterNote(this.ctx, request);
        return;
      case 'executing':
        await executePlan(this.ctx, request);
        return;
      default:
        // Nothing to do in this state (a final state, or waiting on a decision): stop looking at it.
        await this.ctx.db.updateTable('requests').set({ due_at: null, lease_owner: null, lease_until: null }).where('id', '=', request.id).execute();
    }
  }

  /**
   * Only errors known to be transient are retried, a bounded number of times. Anything else, or
   * retries used up, ends the request by where it stands (stop.ts): escalated with a note before
   * anything changed, failed with a note and an honest reply after a step ran.
   */
  private async handleStepError(request: ClaimedRequest, error: unknown): Promise<void> {
    const message = describeError(error);
    const transient = isTransientFailure(error);
    this.ctx.logger.warn({ requestId: request.id, state: request.state, attempts: request.attempts, transient, error: message }, 'request step failed');
    if (transient && request.attempts < MAX_REQUEST_ATTEMPTS) {
      const waitMs = Math.max(isDeskhandError(error) ? (error.retryAfterMs ?? 0) : 0, backoffMs(request.attempts, 1_000, 5 * 60_000));
      await retryRequestLater(this.ctx.db, request.id, this.ctx.workerId, new Date(this.ctx.clock.now().getTime() + waitMs), message, this.ctx.clock.now());
      return;
    }
    // A worker whose claim ran out (another took the request over) leaves the request to that worker:
    // its failure may be nothing but the race it lost (a plan the other worker already stored).
    const current = await this.ctx.db.selectFrom('requests').select(['lease_owner', 'state']).where('id', '=', request.id).executeTakeFirst();
    if (!current || current.lease_owner !== this.ctx.workerId || current.state !== request.state) {
      this.ctx.logger.warn({ requestId: request.id, state: request.state, error: message }, 'request step failed after this worker lost its claim; left to the worker that holds it');
      return;
    }
    const reason = transient ? `${message} (still failing after ${request.attempts} attempts)` : message;
    await stopRequest(this.ctx, request, reason);
  }
}
