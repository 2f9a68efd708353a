import type { Ask } from './asks.ts';
import type { BenchEmulators } from './emulators.ts';
import { mapLimit, sleep } from './support.ts';
import type { RequestStatus, RequestWatcher } from './watch.ts';

/**
 * The load the bench offers, the same for the engine and the baseline: tickets opened in the
 * ConnectWise emulator as the employee would (the emulator fires the signed webhook), then, for full
 * stories, the technician's approval through the HTTP API once the request waits for it.
 */
export interface Target {
  name: string;
  watcher: RequestWatcher;
  emulators: BenchEmulators;
  /** Open a ticket for the ask; returns the key the watcher knows the request by. */
  open(ask: Ask): Promise<string>;
  /** Approve the pending technician approval of this request through the HTTP API. */
  approve(key: string, status: RequestStatus): Promise<void>;
}

export interface LoadResult {
  count: number;
  seconds: number;
  /** Completed per second: count / (first ticket opened → last one done). */
  rps: number;
  /** Per request: ticket opened → done (internal note delivered, or reply for stories), ms. */
  latencies: number[];
}

const FINAL_STATES = ['planned', 'replied', 'escalated', 'failed'];
/** Concurrent ticket creations when opening a burst (keeps sockets bounded). */
const OPEN_LANES = 32;

/** Wait for all, and when some fail say how many and why (the first few reasons). */
async function settleAll<T>(what: string, promises: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failures.length > 0) {
    const reasons = [...new Set(failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))))].slice(0, 3);
    throw new Error(`${failures.length} of ${promises.length} ${what} failed; e.g. ${reasons.join(' | ')}`);
  }
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

const noteDelivered = (s: RequestStatus) => s.noteAt !== null;
const failedRequest = (s: RequestStatus) => (s.state === 'failed' ? 'the request failed' : null);

/** Intake at full speed: every ticket opened at once; done when each internal note is on its ticket. */
export async function intakeBurst(target: Target, asks: Ask[], timeoutMs: number): Promise<LoadResult> {
  const start = Date.now();
  const waits: Promise<{ t0: number; status: RequestStatus }>[] = [];
  await mapLimit(asks, OPEN_LANES, async (ask) => {
    const t0 = Date.now();
    const key = await target.open(ask);
    waits.push(
      target.watcher.waitFor(key, `the internal note of ticket ${key}`, noteDelivered, { timeoutMs, fail: failedRequest }).then((status) => ({ t0, status })),
    );
  });
  const done = await settleAll('tickets', waits);
  return summarise(start, done.map(({ t0, status }) => ({ t0, end: status.noteAt!.getTime() })));
}

/**
 * Intake at a steady offered load (open loop): ticket i is opened at start + i/rate seconds whether
 * or not earlier ones are done. Also returns the load actually offered (the schedule can slip when
 * the machine is saturated).
 */
export async function intakeSteady(target: Target, asks: Ask[], rate: number, timeoutMs: number): Promise<LoadResult & { offeredRps: number }> {
  const start = Date.now();
  const waits: Promise<{ t0: number; status: RequestStatus }>[] = [];
  const starts: number[] = [];
  for (const [i, ask] of asks.entries()) {
    const due = start + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const t0 = Date.now();
    starts.push(t0);
    waits.push(
      target
        .open(ask)
        .then((key) => target.watcher.waitFor(key, `the internal note of ticket ${key}`, noteDelivered, { timeoutMs, fail: failedRequest }))
        .then((status) => ({ t0, status })),
    );
  }
  const done = await settleAll('tickets', waits);
  const offeredSeconds = (starts[starts.length - 1]! - starts[0]!) / 1000;
  return {
    ...summarise(start, done.map(({ t0, status }) => ({ t0, end: status.noteAt!.getTime() }))),
    offeredRps: offeredSeconds > 0 ? (starts.length - 1) / offeredSeconds : Number.NaN,
  };
}

/**
 * Full stories with `inFlight` at once: ticket → awaiting approval → approved through the API →
 * executed → replied. Fails when a story ends any other way.
 */
export async function fullStories(target: Target, asks: Ask[], inFlight: number, timeoutMs: number): Promise<LoadResult> {
  const start = Date.now();
  const done = await mapLimit(asks, inFlight, async (ask) => {
    const t0 = Date.now();
    const key = await target.open(ask);
    const waiting = await target.watcher.waitFor(key, `the approval request of ticket ${key} (${ask.text})`, (s) => s.state === 'awaiting_approval' && s.approvalId !== null, {
      timeoutMs,
      fail: (s) => (FINAL_STATES.includes(s.state) ? `it ended ${s.state} instead of waiting for an approval` : null),
    });
    await target.approve(key, waiting);
    await target.watcher.waitFor(key, `the reply on ticket ${key}`, (s) => s.state === 'replied' && s.outcome === 'executed', {
      timeoutMs,
      fail: (s) => (FINAL_STATES.includes(s.state) && !(s.state === 'replied' && s.outcome === 'executed') ? `it ended ${s.state} (${s.outcome ?? 'no outcome'})` : null),
    });
    return { t0, end: Date.now() };
  });
  return summarise(start, done);
}

function summarise(start: number, done: { t0: number; end: number }[]): LoadResult {
  const end = Math.max(...done.map((d) => d.end));
  const seconds = (end - start) / 1000;
  return { count: done.length, seconds, rps: done.length / seconds, latencies: done.map((d) => d.end - d.t0) };
}

/** HTTP calls the emulators answered since `since` (ISO time), by emulator; for calls-per-request figures. */
export function emulatorCalls(emulators: BenchEmulators, since: string): { connectwise: number; graph: number } {
  const connectwise = emulators.connectwise.requests().filter((r) => r.at >= since).length;
  const graph = emulators.graph.requests().filter((r) => r.at >= since && !r.path.includes('/oauth2/')).length;
  return { connectwise, graph };
}
