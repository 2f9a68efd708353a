import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describeError, isDeskhandError } from '../core/errors.ts';
import { backoffMs } from '../integrations/http.ts';
import { claimDueRequest, lockRequest, retryRequestLater, transitionRequest, WORK_CHANNEL } from '../store/requests.ts';
import type { RequestRow } from '../store/schema.ts';
import type { EngineContext } from './context.ts';
import { decideAfterNote } from './decide.ts';
import { diagnoseRequest, escalateUndiagnosed } from './diagnose.ts';
import { executePlan } from './execute.ts';
import { sweepExpiredApprovals } from './expiry.ts';
import { claimDueMessages, deliverMessage } from './outbox.ts';

/** A diagnosis that keeps failing transiently (the tenant is down) is retried this many times. */
const MAX_REQUEST_ATTEMPTS = 6;
const REQUEST_LEASE_MS = 120_000;

export interface WorkerOptions {
  /** Requests handled at once by this process. */
  concurrency?: number;
  /** Fallback poll when no notification arrives. */
  pollMs?: number;
  /** How often the expiry sweep runs. */
  sweepMs?: number;
  /** LISTEN for wake-ups on this connection string (optional; polling alone also works). */
  listenUrl?: string;
}

/**
 * The engine's worker: claims due requests and outbox messages from PostgreSQL and runs them, and
 * sweeps expired approvals. Everything it waits for is a row, so it can be killed at any instant;
 * several workers (processes) can share one database.
 */
export class Worker {
  private running = false;
  private readonly waiters = new Set<() => void>();
  private listener: pg.Client | null = null;
  private loops: Promise<void>[] = [];
  private lastSweep = 0;
  private readonly options: Required<Omit<WorkerOptions, 'listenUrl'>> & Pick<WorkerOptions, 'listenUrl'>;

  constructor(
    private readonly ctx: EngineContext,
    options: WorkerOptions = {},
  ) {
    this.options = { concurrency: 4, pollMs: 1_000, sweepMs: 5_000, ...options };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.options.listenUrl) await this.listen(this.options.listenUrl);
    this.loops = [this.requestLoop(), this.outboxLoop(), this.sweepLoop()];
    for (let i = 1; i < this.options.concurrency; i++) this.loops.push(this.requestLoop());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await Promise.allSettled(this.loops);
    await this.listener?.end().catch(() => {});
    this.listener = null;
  }

  /** Wake every loop now (a notification arrived, or a caller knows there is work). */
  poke(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  private async listen(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url, application_name: 'deskhand-listen' });
    client.on('error', (error) => this.ctx.logger.warn({ error: error.message }, 'the wake-up connection failed; polling only'));
    client.on('notification', () => this.poke());
    await client.connect();
    await client.query(`LISTEN ${WORK_CHANNEL}`);
    this.listener = client;
  }

  private async idle(): Promise<void> {
    if (!this.running) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, this.options.pollMs);
      this.waiters.add(wake);
    });
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
      if (!worked) await this.idle();
    }
  }

  private async outboxLoop(): Promise<void> {
    while (this.running) {
      let worked = false;
      try {
        worked = (await this.deliverSome()) > 0;
      } catch (error) {
        this.ctx.logger.error({ error: describeError(error) }, 'outbox loop error');
        await sleep(500);
      }
      if (!worked) await this.idle();
    }
  }

  private async sweepLoop(): Promise<void> {
    while (this.running) {
      try {
        await this.sweepIfDue();
      } catch (error) {
        this.ctx.logger.error({ error: describeError(error) }, 'expiry sweep error');
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
      this.poke();
    }
    return expired;
  }

  async deliverSome(limit = 20): Promise<number> {
    const messages = await claimDueMessages(this.ctx, limit);
    await Promise.all(messages.map((message) => deliverMessage(this.ctx, message)));
    return messages.length;
  }

  /** Claim and run one due request; false when none was due. */
  async runOneRequest(): Promise<boolean> {
    const request = await claimDueRequest(this.ctx.db, this.ctx.workerId, this.ctx.clock.now(), REQUEST_LEASE_MS);
    if (!request) return false;
    try {
      await this.runStep(request);
    } catch (error) {
      await this.handleStepError(request, error);
    }
    return true;
  }

  private async runStep(request: RequestRow): Promise<void> {
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

  private async handleStepError(request: RequestRow, error: unknown): Promise<void> {
    const message = describeError(error);
    const transient = !isDeskhandError(error) || error.retryable;
    this.ctx.logger.warn({ requestId: request.id, state: request.state, attempts: request.attempts, error: message }, 'request step failed');
    if (transient && request.attempts < MAX_REQUEST_ATTEMPTS) {
      const waitMs = Math.max(isDeskhandError(error) ? (error.retryAfterMs ?? 0) : 0, backoffMs(request.attempts, 1_000, 5 * 60_000));
      await retryRequestLater(this.ctx.db, request.id, this.ctx.workerId, new Date(this.ctx.clock.now().getTime() + waitMs), message, this.ctx.clock.now());
      return;
    }
    if (request.state === 'received' || request.state === 'diagnosing') {
      // Technicians must hear about a request the agent could not look at: escalate with a note.
      await escalateUndiagnosed(this.ctx, request, message);
      return;
    }
    await failStuckRequest(this.ctx, request, message);
  }
}

/** A request whose step cannot succeed: mark it failed so a technician sees it (the dashboard lists failures). */
async function failStuckRequest(ctx: EngineContext, request: RequestRow, error: string): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    const current = await lockRequest(tx, request.id);
    if (!current || ['planned', 'replied', 'escalated', 'failed'].includes(current.state)) return;
    await transitionRequest(tx, { request: current, to: 'failed', outcome: 'failed', at: ctx.clock.now(), actor: 'agent', dueAt: null, lastError: error, data: { error } });
  });
}
