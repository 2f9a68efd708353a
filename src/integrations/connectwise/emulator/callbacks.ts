import { setTimeout as sleep } from 'node:timers/promises';
import { nodeTransport } from '../../transport.ts';
import { callbackSignature, SIGNATURE_HEADER } from '../webhook.ts';

/**
 * How the emulator delivers callbacks, like ConnectWise: a signed JSON POST per registration, sent
 * after the change is saved (the API call that caused it does not wait), retried a few times with a
 * short backoff when the receiver fails, and recorded so that tests and the demo can see it.
 */

const MAX_RECORDED = 10_000;

export interface CallbackDeliveryAttempt {
  at: string;
  /** HTTP status, or null when the receiver could not be reached. */
  status: number | null;
  error?: string;
}

export interface CallbackDelivery {
  id: number;
  /** The registration (`CallbackObjectRecId`). */
  callbackId: number;
  companyId: string;
  url: string;
  messageId: string;
  action: 'added' | 'updated' | 'deleted';
  type: string;
  recordId: number;
  memberId: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: CallbackDeliveryAttempt[];
  /** Exactly the bytes that were signed and sent. */
  body: string;
  signature: string;
}

export interface OutgoingCallback {
  callbackId: number;
  companyId: string;
  url: string;
  messageId: string;
  action: CallbackDelivery['action'];
  type: string;
  recordId: number;
  memberId: string;
  payload: Record<string, unknown>;
  signingKey: string;
}

export interface DispatcherOptions {
  /** Attempts per delivery, the first included. */
  attempts?: number;
  /** Wait before each retry; the last value repeats. */
  backoffMs?: readonly number[];
  timeoutMs?: number;
}

export class CallbackDispatcher {
  private readonly deliveries: CallbackDelivery[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private nextId = 1;
  private readonly attempts: number;
  private readonly backoffMs: readonly number[];
  private readonly timeoutMs: number;

  constructor(options: DispatcherOptions = {}) {
    this.attempts = options.attempts ?? 4;
    this.backoffMs = options.backoffMs ?? [100, 300, 900];
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  /** Records the delivery and starts it in the background. */
  dispatch(outgoing: OutgoingCallback): CallbackDelivery {
    const body = JSON.stringify(outgoing.payload);
    const delivery: CallbackDelivery = {
      id: this.nextId++,
      callbackId: outgoing.callbackId,
      companyId: outgoing.companyId,
      url: outgoing.url,
      messageId: outgoing.messageId,
      action: outgoing.action,
      type: outgoing.type,
      recordId: outgoing.recordId,
      memberId: outgoing.memberId,
      state: 'pending',
      attempts: [],
      body,
      signature: callbackSignature(outgoing.signingKey, body),
    };
    this.deliveries.push(delivery);
    // Long benchmark runs must not grow memory without end: keep the most recent records.
    if (this.deliveries.length > MAX_RECORDED) this.deliveries.splice(0, this.deliveries.length - MAX_RECORDED);
    const run = this.deliver(delivery).finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
    return delivery;
  }

  list(): CallbackDelivery[] {
    return this.deliveries.map((d) => ({ ...d, attempts: [...d.attempts] }));
  }

  /** Resolves when every delivery started so far has succeeded or given up. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  clear(): void {
    this.deliveries.length = 0;
    this.nextId = 1;
  }

  /** Stops retries and in-flight requests (emulator shutdown). */
  async close(): Promise<void> {
    this.abort.abort();
    await this.settled();
  }

  private async deliver(delivery: CallbackDelivery): Promise<void> {
    for (let attempt = 1; attempt <= this.attempts && !this.abort.signal.aborted; attempt++) {
      if (attempt > 1) {
        const wait = this.backoffMs[Math.min(attempt - 2, this.backoffMs.length - 1)] ?? 0;
        try {
          await sleep(wait, undefined, { signal: this.abort.signal });
        } catch {
          break;
        }
      }
      const outcome = await this.post(delivery);
      delivery.attempts.push(outcome);
      if (outcome.status !== null && outcome.status >= 200 && outcome.status < 300) {
        delivery.state = 'delivered';
        return;
      }
    }
    delivery.state = 'failed';
  }

  private async post(delivery: CallbackDelivery): Promise<CallbackDeliveryAttempt> {
    const at = new Date().toISOString();
    try {
      // node's http (as deskhand's clients use), not fetch: callbacks are most of this emulator's CPU under load.
      const response = await nodeTransport(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: delivery.signature },
        body: delivery.body,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.timeoutMs)]),
      });
      return { at, status: response.status };
    } catch (error) {
      return { at, status: null, error: error instanceof Error ? error.message : String(error) };
    }
  }
}
