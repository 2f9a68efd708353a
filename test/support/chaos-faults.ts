import { http, type prng } from './chaos-processes.ts';
import type { Placed } from './chaos-world.ts';

/**
 * Faults injected into the emulators while the chaos runs: 429 with Retry-After 1, 500, a dropped
 * connection, the same after the write took effect (the answer is lost), and slow answers, on the
 * Graph writes (member adds, revocations, password resets, sendMail) and on ConnectWise note POSTs.
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
const SHAPES: readonly Shape[] = ['status429', 'status500', 'after500', 'afterDrop', 'drop', 'delay', 'delay', 'after500'];

export class FaultInjector {
  injected = 0;
  readonly byShape = new Map<string, number>();
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly options: {
      rng: ReturnType<typeof prng>;
      connectwise: string;
      graphControl: string;
      tenant: TenantIds;
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
    const userId = this.options.tenant.users.get(p.spec.requester);
    // Shared-mailbox groups and lists change through Exchange Online (the same emulator state and fault book).
    if (effect.op === 'member_added' && /^(SM|DL)-/.test(effect.group!)) return { pathContains: '/InvokeCommand', method: 'POST' };
    if (effect.op === 'member_added') return { pathContains: `/groups/${this.options.tenant.groups.get(effect.group!)}/members`, method: 'POST' };
    if (effect.op === 'sessions_revoked') return { pathContains: `/users/${userId}/revokeSignInSessions`, method: 'POST' };
    return { pathContains: `/users/${userId}`, method: 'PATCH' };
  }

  /** One random fault on one of these requests' paths (or on sendMail); false when the budget is spent. */
  async injectOne(candidates: Placed[]): Promise<boolean> {
    const { rng } = this.options;
    const target = this.pickTarget(candidates);
    if (!target) return false;
    // Graph writes are often slow: that is when a kill catches a step in the middle of its call.
    let shape = target.system === 'graph' && rng.chance(0.35) ? 'delay' : rng.pick(SHAPES);
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
    const base = target.system === 'graph' ? this.options.graphControl : this.options.connectwise;
    const answer = await http('POST', `${base}/_emulator/faults`, { body: fault, timeoutMs: 5_000 });
    if (answer.status !== 201 && answer.status !== 200) throw new Error(`the ${target.system} emulator refused the fault ${JSON.stringify(fault)}: ${answer.status} ${answer.text}`);
    if (shape !== 'delay') this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    this.injected++;
    const label = `${target.system}:${shape}`;
    this.byShape.set(label, (this.byShape.get(label) ?? 0) + 1);
    return true;
  }

  private pickTarget(candidates: Placed[]): { system: 'graph' | 'connectwise'; pathContains: string; method: string } | null {
    const { rng } = this.options;
    if (candidates.length === 0) return null;
    const p = rng.pick(candidates);
    const roll = rng.next();
    if (roll < 0.1) return { system: 'graph', pathContains: '/sendMail', method: 'POST' };
    const write = this.graphWrite(p);
    if (write && roll < 0.55) return { system: 'graph', ...write };
    return { system: 'connectwise', pathContains: `/service/tickets/${p.ticketId}/notes`, method: 'POST' };
  }

  /** Forget every fault not yet used, on both emulators. */
  async clear(): Promise<void> {
    await http('DELETE', `${this.options.graphControl}/_emulator/faults`);
    await http('DELETE', `${this.options.connectwise}/_emulator/faults`);
  }

  summary(): string {
    return [...this.byShape.entries()]
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  }
}
