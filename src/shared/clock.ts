/**
 * Time is injected everywhere so tests move it instead of sleeping, and so deadline logic can be
 * replayed. Nothing in src/ calls `Date.now()` or `new Date()` for "now" except `systemClock`.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = {
  now: () => new Date(),
};

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  #ms: number;

  constructor(start: Date | string | number = "2026-01-01T00:00:00Z") {
    this.#ms = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#ms);
  }

  advance(ms: number): Date {
    if (ms < 0) throw new RangeError("ManualClock only moves forward");
    this.#ms += ms;
    return this.now();
  }

  set(to: Date | string | number): Date {
    const next = new Date(to).getTime();
    if (next < this.#ms) throw new RangeError("ManualClock only moves forward");
    this.#ms = next;
    return this.now();
  }
}

/**
 * Real time plus an offset that only grows: the demo's fast sandbox time. Between jumps it runs at
 * real speed (so leases, debounce windows and timers behave as configured); each jump moves every
 * party on this clock (sandboxes, deadlines, the daemon) forward together.
 */
export class WarpClock implements Clock {
  #offsetMs = 0;

  constructor(private readonly base: Clock = systemClock) {}

  now(): Date {
    return new Date(this.base.now().getTime() + this.#offsetMs);
  }

  /** How far ahead of real time this clock runs. */
  get aheadMs(): number {
    return this.#offsetMs;
  }

  jump(ms: number): Date {
    if (ms < 0) throw new RangeError("WarpClock only moves forward");
    this.#offsetMs += ms;
    return this.now();
  }
}
