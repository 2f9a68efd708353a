import { randomInt } from 'node:crypto';
import { z } from 'zod';

/**
 * The Graph emulator's bad days: injected faults (an error status, a delay, a dropped connection,
 * before or after the call takes effect) and latency on every call. Faults that strike after the
 * effect are what exactly-once code has to survive: the change is made, the answer is lost.
 */

export const faultSchema = z
  .strictObject({
    /** Answer this status (Graph error body) instead of the real answer. */
    status: z.number().int().min(400).max(599).optional(),
    /** How many matching calls the fault applies to. */
    count: z.number().int().min(1).default(1),
    /** Only calls whose path (after the host) contains this text; e.g. `/memberOf`, `/oauth2/`. */
    pathContains: z.string().min(1).optional(),
    /** Only calls with this HTTP method. */
    method: z.enum(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']).optional(),
    retryAfterSeconds: z.number().int().min(0).optional(),
    /** Wait this long before answering (with `status`) or before handling the call normally. */
    delayMs: z.number().int().min(0).max(120_000).optional(),
    code: z.string().min(1).optional(),
    message: z.string().min(1).optional(),
    /** Handle the call first (its change is made), then answer `status` or drop: a response lost in transit. */
    afterEffect: z.boolean().default(false),
    /** Destroy the connection without any answer (before the call, or after it with `afterEffect`). */
    dropConnection: z.boolean().default(false),
  })
  .refine((f) => f.status !== undefined || f.delayMs !== undefined || f.dropConnection, {
    message: 'a fault needs a status, a delayMs or dropConnection',
  })
  .refine((f) => !f.afterEffect || f.status !== undefined || f.dropConnection, {
    message: 'an afterEffect fault needs a status or dropConnection: something must replace the real answer',
  });
export type FaultInput = z.input<typeof faultSchema>;
export type Fault = z.output<typeof faultSchema>;

export const FAULT_SHAPE =
  '{status?, count?, pathContains?, method?, retryAfterSeconds?, delayMs?, code?, message?, afterEffect?, dropConnection?} with a status, a delayMs or dropConnection';

/** The faults waiting for matching calls, in the order they were injected. */
export class FaultBook {
  private faults: Fault[] = [];

  add(input: FaultInput): Fault {
    const fault = faultSchema.parse(input);
    this.faults.push(fault);
    return fault;
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  clear(): void {
    this.faults = [];
  }

  /** The first fault matching the call, counted down (and forgotten when used up). */
  take(method: string, target: string): Fault | undefined {
    const fault = this.faults.find((f) => (!f.pathContains || target.includes(f.pathContains)) && (!f.method || f.method === method));
    if (!fault) return undefined;
    fault.count--;
    if (fault.count <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return { ...fault };
  }
}

// ---------------------------------------------------------------------------------------------
// Latency
// ---------------------------------------------------------------------------------------------

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
