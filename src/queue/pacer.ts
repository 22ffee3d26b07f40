import type { Clock } from "../shared/clock.js";
import type { RateInfo } from "../shared/rate-info.js";

export type { RateInfo } from "../shared/rate-info.js";

/**
 * How fast one target may be called: a sliding-window rate (requests per interval, from config),
 * tightened by what the target says (Retry-After, remaining quota, rate headers), and a circuit
 * breaker that stops calling a target that keeps failing, then tries one request after a pause.
 */
export interface PacerSettings {
  requestsPerInterval: number;
  intervalMs: number;
  /** Consecutive unavailable answers (5xx, network) that open the circuit. */
  breakerThreshold: number;
  /** How long the circuit stays open before one trial request. */
  breakerPauseMs: number;
  /** Stop early when a daily quota is this close to its limit (0..1 of the limit left). */
  quotaReserve: number;
}

export type BreakerState = "closed" | "open" | "half-open";

export interface PacerSnapshot {
  breaker: BreakerState;
  blockedUntil?: Date;
  reason?: string;
  dailyUsed?: number;
  dailyLimit?: number;
}

export const DEFAULT_PACER: PacerSettings = { requestsPerInterval: 10, intervalMs: 1_000, breakerThreshold: 5, breakerPauseMs: 30_000, quotaReserve: 0.02 };

export class Pacer {
  readonly #settings: PacerSettings;
  readonly #clock: Clock;
  /** When each call in the window was sent, or answered once the client said so. */
  readonly #sent: Array<{ at: number }> = [];
  #blockedUntil = 0;
  #reason: string | undefined;
  #failures = 0;
  #breaker: BreakerState = "closed";
  #trialInFlight = false;
  /** When the trial in flight was sent, and which it is (an older trial's answer frees nothing). */
  #trialSince = 0;
  #trials = 0;
  #daily: { used: number; limit: number } | undefined;

  constructor(settings: Partial<PacerSettings>, clock: Clock) {
    this.#settings = { ...DEFAULT_PACER, ...settings };
    this.#clock = clock;
  }

  /**
   * How long to wait before the next request may go (0: now). Calling it does not take the slot;
   * `take()` does, once the request is actually sent.
   */
  waitMs(): number {
    const now = this.#clock.now().getTime();
    if (this.#breaker === "open") {
      if (now < this.#blockedUntil) return this.#blockedUntil - now;
      this.#breaker = "half-open";
    }
    // One trial call at a time while half-open. A trial whose answer never came (a charge for calls
    // already made, a call that hung) is given up after a pause, so nothing waits on it for good.
    if (this.#breaker === "half-open" && this.#trialInFlight) {
      const left = this.#trialSince + this.#settings.breakerPauseMs - now;
      if (left > 0) return left;
      this.#trialInFlight = false;
    }
    if (now < this.#blockedUntil) return this.#blockedUntil - now;
    // The service counts a call from when it arrived, some time after we sent it: a call is
    // counted from its answer where the client tells (`take`'s callback), and a hundredth of the
    // interval more keeps a full window from drawing a 429 at its edge.
    const interval = this.#settings.intervalMs * 1.01;
    const windowStart = now - interval;
    let oldest = Number.POSITIVE_INFINITY;
    let inWindow = 0;
    for (let i = this.#sent.length - 1; i >= 0; i -= 1) {
      const at = (this.#sent[i] as { at: number }).at;
      if (at <= windowStart) this.#sent.splice(i, 1);
      else {
        inWindow += 1;
        oldest = Math.min(oldest, at);
      }
    }
    if (inWindow < this.#settings.requestsPerInterval) return 0;
    return Math.ceil(oldest + interval - now);
  }

  /**
   * Records `count` requests as sent now. The callback says they were answered: they then count
   * from that moment, as the service may have counted them from as late as that (once; later calls
   * do nothing).
   */
  take(count = 1): () => void {
    const now = this.#clock.now().getTime();
    const slots = Array.from({ length: count }, () => ({ at: now }));
    this.#sent.push(...slots);
    const trial = this.#breaker === "half-open" ? ++this.#trials : undefined;
    if (trial !== undefined) {
      this.#trialInFlight = true;
      this.#trialSince = now;
    }
    let answered = false;
    return () => {
      if (answered) return;
      answered = true;
      const at = this.#clock.now().getTime();
      for (const slot of slots) slot.at = Math.max(slot.at, at);
      // The trial is answered: the next call may go as the next trial. The verdict (closed again,
      // or open) comes from the job's outcome; a batch's later calls must not wait for their own.
      if (trial === this.#trials && this.#breaker === "half-open") this.#trialInFlight = false;
    };
  }

  /** Feeds back what the answer said about limits. */
  observe(info: RateInfo): void {
    const now = this.#clock.now().getTime();
    if (info.retryAfterMs !== undefined && info.retryAfterMs > 0) this.#block(now + info.retryAfterMs, "Retry-After");
    if (info.remaining !== undefined && info.remaining <= 0 && info.resetAt) this.#block(info.resetAt.getTime(), "window quota used up");
    if (info.dailyUsed !== undefined && info.dailyLimit !== undefined && info.dailyLimit > 0) {
      this.#daily = { used: info.dailyUsed, limit: info.dailyLimit };
      if (info.dailyLimit - info.dailyUsed <= info.dailyLimit * this.#settings.quotaReserve) {
        // Keep the reserve for people working in the CRM; resume when the rolling day moves on.
        this.#block(now + 60 * 60_000, "daily quota nearly used up");
      }
    }
  }

  /** A request succeeded: the breaker closes. */
  succeeded(): void {
    this.#failures = 0;
    this.#breaker = "closed";
    this.#trialInFlight = false;
  }

  /** The target was unavailable (5xx, network); enough in a row open the breaker. */
  unavailable(): void {
    this.#failures += 1;
    this.#trialInFlight = false;
    if (this.#breaker === "half-open" || this.#failures >= this.#settings.breakerThreshold) {
      this.#breaker = "open";
      this.#block(this.#clock.now().getTime() + this.#settings.breakerPauseMs, "circuit open after repeated failures");
    }
  }

  /** Any other failure (a bad record, a conflict) says nothing about the target's health. */
  otherFailure(): void {
    this.#trialInFlight = false;
  }

  snapshot(): PacerSnapshot {
    const now = this.#clock.now().getTime();
    return {
      breaker: this.#breaker,
      ...(this.#blockedUntil > now ? { blockedUntil: new Date(this.#blockedUntil), ...(this.#reason ? { reason: this.#reason } : {}) } : {}),
      ...(this.#daily ? { dailyUsed: this.#daily.used, dailyLimit: this.#daily.limit } : {}),
    };
  }

  #block(until: number, reason: string): void {
    if (until > this.#blockedUntil) {
      this.#blockedUntil = until;
      this.#reason = reason;
    }
  }
}
