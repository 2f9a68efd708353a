/**
 * Time as the product sees it. Every due time, expiry and audit timestamp is computed from a Clock,
 * never from `Date.now()` directly, so that tests and the demo move time forward instead of waiting.
 * A normal start always uses the system clock.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = {
  now: () => new Date(),
};

/** A clock that follows the system clock plus an offset that only its owner can move forward. */
export class ManualClock implements Clock {
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error('a clock only moves forward');
    this.offsetMs += ms;
  }
}

export const HOUR_MS = 60 * 60 * 1000;
