import { http, type prng } from './chaos-processes.ts';
import { type Placed, type Psa, psaOf } from './chaos-world.ts';

/**
 * Faults injected into the emulators while the chaos runs: 429 with Retry-After 1, 500, a dropped
 * connection, the same after the write took effect (the answer is lost), and slow answers, on the
 * Graph writes (member adds, revocations, password resets, sendMail) and on the note POSTs of each
 * request's PSA: ConnectWise, HaloPSA (actions) and Autotask (ticket notes). The HaloPSA and
 * Autotask emulators cannot drop a connection: there a drop becomes a 500 (before or after the write).
 *
 * Each fault targets one request's path (the group, the user, the ticket), and each path gets at
 * most `failuresPerPath` failing faults: a request then stays within its retry budget (a step is
 * given up after 5 attempts, a message after 8) however the faults and kills fall, so any request
 * that does not end as it should points at a bug rather than at bad luck.
 */
export interface TenantIds {
  users: Map<string, string>;
  groups: Map<string, string>;
}

type Shape = 'status429' | 'status500' | 'after500' | 'afterDrop' | 'drop' | 'delay';
type System = 'graph' | Psa;
type Logged = { at?: string; method: string; path: string; status: number };
/** The emulators that can drop a connection (the others answer a 500 instead). */
const DROPS: readonly System[] = ['graph', 'connectwise'];
const SHAPES: readonly Shape[] = ['status429', 'status500', 'after500', 'afterDrop', 'drop', 'delay', 'delay', 'after500'];

export class FaultInjector {
  injected = 0;
  readonly byShape = new Map<string, number>();
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly options: {
      rng: ReturnType<typeof prng>;
      connectwise: string;
      halopsa?: string;
      autotask?: string;
      graphControl: string;
      /** The Graph ids of each client's tenant whose requests get faults (by client id). */
      tenants: Record<string, TenantIds>;
      failuresPerPath?: number;
      maxDelayMs?: number;
    },
  ) {}

  static async tenantIds(graphControl: string, client: string): Promise<TenantIds> {
    const answer = await http<{ users: { id: string; userPrincipalName: string }[]; groups: { id: string; displayName: string }[] }>(
      'GET',
      `${graphControl}/_emulator/tenants/${client}`,
    );
    if (answer.status !== 200) throw new Error(`could not read the ${client} tenant: HTTP ${answer.status}`);
    return {
      users: new Map(answer.body.users.map((u) => [u.userPrincipalName, u.id])),
      groups: new Map(answer.body.groups.map((g) => [g.displayName, g.id])),
    };
  }

  /** The Graph write a request makes, as a fault's `pathContains` and method. */
  graphWrite(p: Placed): { pathContains: string; method: string } | null {
    const effect = p.spec.effect;
    if (!effect) return null;
    const tenant = this.options.tenants[p.spec.client];
    if (!tenant) return null;
    const userId = tenant.users.get(p.spec.requester);
    // Shared-mailbox groups and lists change through Exchange Online (the same emulator state and fault book).
    if (effect.op === 'member_added' && /^(SM|DL)-/.test(effect.group!)) return { pathContains: '/InvokeCommand', method: 'POST' };
    if (effect.op === 'member_added') return { pathContains: `/groups/${tenant.groups.get(effect.group!)}/members`, method: 'POST' };
    if (effect.op === 'sessions_revoked') return { pathContains: `/users/${userId}/revokeSignInSessions`, method: 'POST' };
    return { pathContains: `/users/${userId}`, method: 'PATCH' };
  }

  /**
   * One random fault on one of these requests' paths (or on sendMail), `onPsa`: a failing one (no
   * mere delay) on its PSA's notes; false when the budget is spent. The few requests of HaloPSA and Autotask are picked more often
   * than their share, so that each run gives them faults.
   */
  async injectOne(candidates: Placed[], onPsa = false): Promise<boolean> {
    const { rng } = this.options;
    const elsewhere = candidates.filter((p) => psaOf(p.spec) !== 'connectwise');
    const target = this.pickTarget(elsewhere.length > 0 && rng.chance(0.3) ? elsewhere : candidates, onPsa);
    if (!target) return false;
    // Graph writes are often slow: that is when a kill catches a step in the middle of its call.
    let shape: Shape = target.system === 'graph' && rng.chance(0.35) ? 'delay' : rng.pick(onPsa ? SHAPES.filter((s) => s !== 'delay') : SHAPES);
    if (!DROPS.includes(target.system)) shape = shape === 'drop' ? 'status500' : shape === 'afterDrop' ? 'after500' : shape;
    const limit = target.system === 'graph' && target.pathContains === '/sendMail' ? 3 : (this.options.failuresPerPath ?? 2);
    const key = `${target.system} ${target.method} ${target.pathContains}`;
    if (shape !== 'delay' && (this.failures.get(key) ?? 0) >= limit) shape = 'delay';
    const fault: Record<string, unknown> = { count: 1, pathContains: target.pathContains, method: target.method };
    switch (shape) {
      case 'status429':
        Object.assign(fault, { status: 429, retryAfterSeconds: 1 });
        break;
      case 'status500':
        Object.assign(fault, { status: 500 });
        break;
      case 'after500':
        Object.assign(fault, { status: 500, afterEffect: true });
        break;
      case 'afterDrop':
        Object.assign(fault, { dropConnection: true, afterEffect: true });
        break;
      case 'drop':
        Object.assign(fault, { dropConnection: true });
        break;
      case 'delay':
        Object.assign(fault, { delayMs: rng.int(800, this.options.maxDelayMs ?? 3_000) });
        break;
    }
    const base = target.system === 'graph' ? this.options.graphControl : this.options[target.system];
    if (!base) throw new Error(`no ${target.system} emulator to inject a fault into`);
    const answer = await http('POST', `${base}/_emulator/faults`, { body: fault, timeoutMs: 5_000 });
    if (answer.status !== 201 && answer.status !== 200) throw new Error(`the ${target.system} emulator refused the fault ${JSON.stringify(fault)}: ${answer.status} ${answer.text}`);
    if (shape !== 'delay') this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    this.injected++;
    const label = `${target.system}:${shape}`;
    this.byShape.set(label, (this.byShape.get(label) ?? 0) + 1);
    return true;
  }

  private pickTarget(candidates: Placed[], onPsa: boolean): { system: System; pathContains: string; method: string } | null {
    const { rng } = this.options;
    if (candidates.length === 0) return null;
    const p = rng.pick(candidates);
    const roll = onPsa ? 1 : rng.next();
    if (roll < 0.1) return { system: 'graph', pathContains: '/sendMail', method: 'POST' };
    const write = this.graphWrite(p);
    if (write && roll < 0.55) return { system: 'graph', ...write };
    const psa = psaOf(p.spec);
    // A Halo action names its ticket in the body: the path is every action's (one HaloPSA request per run).
    if (psa === 'halopsa') return { system: psa, pathContains: '/api/Actions', method: 'POST' };
    if (psa === 'autotask') return { system: psa, pathContains: `/tickets/${p.ticketId}/notes`, method: 'POST' };
    return { system: 'connectwise', pathContains: `/service/tickets/${p.ticketId}/notes`, method: 'POST' };
  }

  /**
   * Forget every fault not yet used, on every emulator; `keepPsas`: but those of HaloPSA and
   * Autotask, whose few requests may not have reached their faults yet (they strike once each, and
   * within each path's budget, while everything settles).
   */
  async clear(options: { keepPsas?: boolean } = {}): Promise<void> {
    await http('DELETE', `${this.options.graphControl}/_emulator/faults`);
    await http('DELETE', `${this.options.connectwise}/_emulator/faults`);
    if (options.keepPsas) return;
    if (this.options.halopsa) await http('DELETE', `${this.options.halopsa}/_emulator/faults`);
    if (this.options.autotask) await http('DELETE', `${this.options.autotask}/_emulator/faults`);
  }

  /**
   * The writes each PSA emulator answered with an error (429, 5xx; a lost answer included), by PSA,
   * and each one's writes (for a report).
   */
  async psaErrors(): Promise<{ errors: Record<Psa, number>; writes: Record<Psa, string[]> }> {
    const errors = { connectwise: 0, halopsa: 0, autotask: 0 };
    const writes: Record<Psa, string[]> = { connectwise: [], halopsa: [], autotask: [] };
    for (const psa of ['connectwise', 'halopsa', 'autotask'] as const) {
      const base = this.options[psa];
      if (!base) continue;
      const answer = await http<Logged[] | { requests: Logged[] }>('GET', `${base}/_emulator/requests`, { timeoutMs: 30_000 });
      if (answer.status !== 200) throw new Error(`could not read the ${psa} emulator's request log: HTTP ${answer.status} ${answer.error ?? ''}`);
      const log = (Array.isArray(answer.body) ? answer.body : answer.body.requests).filter((r) => r.method !== 'GET' && !r.path.endsWith('/query'));
      errors[psa] = log.filter((r) => r.status === 429 || r.status >= 500).length;
      writes[psa] = log.map((r) => `${r.at ?? ''} ${r.method} ${r.path} ${r.status}`);
    }
    return { errors, writes };
  }

  summary(): string {
    return [...this.byShape.entries()]
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  }
}
