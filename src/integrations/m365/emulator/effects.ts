/**
 * The Graph emulator's effects log: one entry for every change it applied to a tenant, in order.
 * Request logs show what was asked; this shows what happened, so that tests can prove a change was
 * made exactly once however many times it was asked for (a duplicate add that Graph refuses with
 * 400 is not an effect; neither is writing a value the account already has). Never a secret: a
 * password reset is logged without the password, a mail without its body.
 */

export type GraphEffectOp =
  | 'member_added'
  | 'member_removed'
  | 'license_assigned'
  | 'license_removed'
  | 'account_enabled'
  | 'account_disabled'
  | 'password_reset'
  | 'sessions_revoked'
  | 'auth_method_deleted'
  | 'mail_sent';

export interface GraphEffect {
  /** 1, 2, 3 ... from the start (or the last reset) of the emulator. */
  seq: number;
  /**
   * When the effect was applied, on the machine's monotonic clock (process.hrtime.bigint(), in
   * nanoseconds, as a decimal string): every emulator of one process (or one machine) shares that
   * clock, so `BigInt(a.order) < BigInt(b.order)` says which came first across emulators, where
   * `seq` counts this emulator's effects only.
   */
  order: string;
  at: string;
  /** The tenant id, and the fixture client it belongs to. */
  tenant: string;
  clientId: string;
  op: GraphEffectOp;
  /** The user's object id; for mail, the sending mailbox's address. */
  target: string;
  /** The user's UPN, or the sending mailbox. */
  targetName: string;
  /** The group id, SKU id, method id or Sent Items message id; null for changes to the user itself. */
  object: string | null;
  /** The group's display name, SKU part number, method type or mail subject. */
  objectName: string | null;
  /** The Graph path that made the change (no query string, no body). */
  requestPath: string;
}

export type EffectInput = Omit<GraphEffect, 'seq' | 'order' | 'at'>;

/**
 * Far more than any test or benchmark run makes; only a `deskhand emulators` process left running
 * for days reaches it, and then the oldest entries go (seq keeps counting, so gaps show it).
 */
const EFFECTS_LIMIT = 100_000;

export class EffectsLog {
  private entries: GraphEffect[] = [];
  private nextSeq = 1;
  private lastOrder = 0n;

  /** process.hrtime.bigint(), kept strictly increasing within this log. */
  private nextOrder(): string {
    const now = process.hrtime.bigint();
    this.lastOrder = now > this.lastOrder ? now : this.lastOrder + 1n;
    return String(this.lastOrder);
  }

  append(effect: EffectInput, at: Date = new Date()): GraphEffect {
    const entry: GraphEffect = { seq: this.nextSeq++, order: this.nextOrder(), at: at.toISOString(), ...effect };
    this.entries.push(entry);
    if (this.entries.length > EFFECTS_LIMIT) this.entries.splice(0, this.entries.length - EFFECTS_LIMIT);
    return entry;
  }

  /** Every effect, or those of one tenant (by tenant id). */
  list(tenantId?: string): GraphEffect[] {
    return this.entries.filter((e) => tenantId === undefined || e.tenant === tenantId).map((e) => ({ ...e }));
  }

  clear(): void {
    this.entries = [];
    this.nextSeq = 1;
  }
}
