import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { cwError, type Reply } from './wire.ts';

/**
 * Faults injected into ConnectWise calls (through `/_emulator/faults` or `addFault`): an error
 * status (429 with Retry-After, 5xx), a delay, or a dropped connection, struck before the call is
 * handled or after it (the change is made, the answer is lost). The first fault matching a call's
 * method and path is used and counted down.
 */

export interface EmulatorFault {
  id: number;
  /** 0 when the fault only delays or drops. */
  status: number;
  remaining: number;
  pathContains?: string;
  method?: string;
  retryAfterSeconds?: number;
  delayMs?: number;
  /** The call is handled (its change made), then `status` is answered or the connection dropped. */
  afterEffect: boolean;
  /** No answer at all: the connection is destroyed (before the call, or after it with `afterEffect`). */
  dropConnection: boolean;
  hits: number;
}

export const faultSchema = z
  .object({
    /** A status below 400 only delays (with delayMs). */
    status: z.number().int().min(0).max(599).optional(),
    count: z.number().int().min(1).default(1),
    pathContains: z.string().min(1).optional(),
    method: z.string().min(1).optional(),
    retryAfterSeconds: z.number().min(0).optional(),
    delayMs: z.number().int().min(0).max(60_000).optional(),
    afterEffect: z.boolean().default(false),
    dropConnection: z.boolean().default(false),
  })
  .refine((f) => f.status !== undefined || f.delayMs !== undefined || f.dropConnection, {
    message: 'a fault needs a status, a delayMs or dropConnection',
  })
  .refine((f) => !f.afterEffect || (f.status ?? 0) >= 400 || f.dropConnection, {
    message: 'an afterEffect fault needs an error status (400 or more) or dropConnection: something must replace the real answer',
  });
export type FaultInput = z.input<typeof faultSchema>;

/** What a fault leaves the caller with: ConnectWise's error answer, or no answer at all. */
export type FaultOutcome = { reply: Reply } | { drop: true };

export class FaultBook {
  private faults: EmulatorFault[] = [];
  private nextId = 1;

  add(input: z.output<typeof faultSchema>): EmulatorFault {
    const fault: EmulatorFault = {
      id: this.nextId++,
      status: input.status ?? 0,
      remaining: input.count,
      afterEffect: input.afterEffect,
      dropConnection: input.dropConnection,
      hits: 0,
      ...(input.pathContains !== undefined ? { pathContains: input.pathContains } : {}),
      ...(input.method !== undefined ? { method: input.method } : {}),
      ...(input.retryAfterSeconds !== undefined ? { retryAfterSeconds: input.retryAfterSeconds } : {}),
      ...(input.delayMs !== undefined ? { delayMs: input.delayMs } : {}),
    };
    this.faults.push(fault);
    return fault;
  }

  list(): EmulatorFault[] {
    return this.faults;
  }

  clear(): void {
    this.faults = [];
  }

  /** The first fault matching the call, counted down, after its delay. */
  async take(method: string, path: string): Promise<EmulatorFault | undefined> {
    const fault = this.faults.find(
      (f) => f.remaining > 0 && (f.pathContains === undefined || path.includes(f.pathContains)) && (f.method === undefined || f.method.toUpperCase() === method),
    );
    if (!fault) return undefined;
    fault.remaining--;
    fault.hits++;
    if (fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault);
    if (fault.delayMs) await sleep(fault.delayMs);
    return fault;
  }
}

/** Whether the fault answers instead of the call (rather than only delaying it). */
export function strikesBefore(fault: EmulatorFault): boolean {
  return !fault.afterEffect && (fault.dropConnection || fault.status >= 400);
}

/** The injected answer (ConnectWise's error body) or, with dropConnection, no answer at all. */
export function faultOutcome(fault: EmulatorFault): FaultOutcome {
  if (fault.dropConnection) return { drop: true };
  const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
  const message =
    fault.status === 429
      ? 'Too many requests. Please retry after the number of seconds in the Retry-After header.'
      : 'An error occurred while processing the request.';
  return { reply: { ...cwError(fault.status, 'ConnectWiseApi', message), headers } };
}
