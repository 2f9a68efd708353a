import { randomInt } from 'node:crypto';
import { z } from 'zod';

/**
 * The ConnectWise emulator's record of what its API calls changed, and the knobs that make calls
 * slow. Request logs show what was asked; the effects log shows what happened, so that tests can
 * prove a note was posted exactly once however many times the post was tried.
 */

export type ConnectWiseEffectOp = 'ticket_created' | 'note_added' | 'status_changed';

export interface NoteFlags {
  detailDescription: boolean;
  internalAnalysis: boolean;
  resolution: boolean;
}

export interface ConnectWiseEffect {
  /** 1, 2, 3 ... from the start (or the last reset) of the emulator. */
  seq: number;
  /**
   * When the effect was applied, on the machine's monotonic clock (process.hrtime.bigint(), in
   * nanoseconds, as a decimal string): every emulator of one process (or one machine) shares that
   * clock, so `BigInt(a.order) < BigInt(b.order)` says which came first across emulators (a note
   * here, a change in Microsoft 365), where `seq` counts this emulator's effects only and `at` (like
   * ConnectWise's own dates, whole seconds) cannot.
   */
  order: string;
  at: string;
  /** The emulated ConnectWise (its login company id, e.g. `northwind`). */
  companyId: string;
  op: ConnectWiseEffectOp;
  ticketId: number;
  /** The new note's id; null for a ticket. */
  noteId: number | null;
  /** The note's visibility flags; null for a ticket. */
  flags: NoteFlags | null;
  /** The member whose API keys made the change, e.g. `deskhand`. */
  member: string;
  /** The note's first line, the ticket's summary, or the new status's name (at most 200 characters). */
  firstLine: string;
  /** The API path that made the change (no query string, no body). */
  requestPath: string;
}

export type ConnectWiseEffectInput = Omit<ConnectWiseEffect, 'seq' | 'order' | 'at' | 'firstLine'> & { text: string };

const FIRST_LINE_MAX = 200;
/** Far more than any test or benchmark makes; a long-lived emulator process drops the oldest. */
const EFFECTS_LIMIT = 100_000;

export class ConnectWiseEffectsLog {
  private entries: ConnectWiseEffect[] = [];
  private nextSeq = 1;
  private lastOrder = 0n;

  /** process.hrtime.bigint(), kept strictly increasing within this log. */
  private nextOrder(): string {
    const now = process.hrtime.bigint();
    this.lastOrder = now > this.lastOrder ? now : this.lastOrder + 1n;
    return String(this.lastOrder);
  }

  append(input: ConnectWiseEffectInput, at: Date = new Date()): ConnectWiseEffect {
    const { text, ...rest } = input;
    const entry: ConnectWiseEffect = { seq: this.nextSeq++, order: this.nextOrder(), at: at.toISOString(), ...rest, firstLine: firstLine(text) };
    this.entries.push(entry);
    if (this.entries.length > EFFECTS_LIMIT) this.entries.splice(0, this.entries.length - EFFECTS_LIMIT);
    return entry;
  }

  /** Every effect, or those of one emulated ConnectWise (by login company id). */
  list(companyId?: string): ConnectWiseEffect[] {
    const wanted = companyId?.toLowerCase();
    return this.entries
      .filter((e) => wanted === undefined || e.companyId.toLowerCase() === wanted)
      .map((e) => ({ ...e, flags: e.flags ? { ...e.flags } : null }));
  }

  clear(): void {
    this.entries = [];
    this.nextSeq = 1;
  }
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  return line.trim().slice(0, FIRST_LINE_MAX);
}

// --- latency -----------------------------------------------------------------------------------

export const latencySchema = z
  .strictObject({
    min: z.number().int().min(0).max(60_000),
    max: z.number().int().min(0).max(60_000),
  })
  .refine((l) => l.max >= l.min, { message: 'max must be at least min' });
export type Latency = z.output<typeof latencySchema>;

/** A delay drawn uniformly from [min, max] milliseconds; 0 without latency. */
export function latencyDelay(latency: Latency | null): number {
  if (!latency || latency.max === 0) return 0;
  return latency.min + randomInt(latency.max - latency.min + 1);
}
