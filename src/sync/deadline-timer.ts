import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import type { Clock } from "../shared/clock.js";
import type { Store } from "../store/index.js";

/** Sets a one-off timer and returns its cancel; injected so tests move time instead of sleeping. */
export type SetTimer = (fire: () => void, delayMs: number) => () => void;

export const realTimer: SetTimer = (fire, delayMs) => {
  const timer = setTimeout(fire, delayMs);
  // A pending deadline must not keep a stopping process alive.
  timer.unref();
  return () => clearTimeout(timer);
};

/** The next instant the sweep has work: a deadline passing, or a reminder's lead time reached. */
export async function nextDueAt(store: Store, leadTimesMs: readonly number[], now: Date): Promise<Date | undefined> {
  const leads = store.repos.leads;
  const candidates = [await leads.earliestDeadlineAfter(now)];
  for (const leadTime of leadTimesMs) {
    const deadline = await leads.earliestDeadlineAfter(new Date(now.getTime() + leadTime));
    candidates.push(deadline ? new Date(deadline.getTime() - leadTime) : undefined);
  }
  const times = candidates.filter((at): at is Date => at !== undefined).map((at) => at.getTime());
  return times.length > 0 ? new Date(Math.min(...times)) : undefined;
}

export interface DeadlineTimerOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  leadTimesMs: readonly number[];
  /** Runs the sweep (which re-arms the timer when it is done). */
  sweep: () => Promise<unknown>;
  /** Only instants this close are timed exactly; later ones are found by a later sweep. */
  horizonMs?: number;
  setTimer?: SetTimer;
}

/**
 * The sweep's schedule runs every minute; this makes the nearest deadline or reminder happen at its
 * instant rather than up to a minute late. After each sweep it looks up the next instant and sets
 * one timer for it; the timer runs the sweep, which arms the next.
 */
export class DeadlineTimer {
  readonly #options: DeadlineTimerOptions;
  readonly #log: Logger;
  readonly #setTimer: SetTimer;
  #cancel: (() => void) | undefined;
  #armedFor: Date | undefined;
  #stopped = false;

  constructor(options: DeadlineTimerOptions) {
    this.#options = options;
    this.#log = componentLogger(options.logger, "deadlines");
    this.#setTimer = options.setTimer ?? realTimer;
  }

  /** When the timer will fire next, if it is armed. */
  get armedFor(): Date | undefined {
    return this.#armedFor;
  }

  async rearm(): Promise<void> {
    if (this.#stopped) return;
    const now = this.#options.clock.now();
    const next = await nextDueAt(this.#options.store, this.#options.leadTimesMs, now);
    this.#cancel?.();
    this.#cancel = undefined;
    this.#armedFor = undefined;
    if (this.#stopped || !next) return;
    const delay = next.getTime() - now.getTime();
    if (delay > (this.#options.horizonMs ?? 3_600_000)) return;
    this.#armedFor = next;
    this.#cancel = this.#setTimer(() => {
      this.#cancel = undefined;
      this.#armedFor = undefined;
      this.#options.sweep().catch((error: unknown) => this.#log.error({ err: error }, "timed deadline sweep failed; the scheduled sweep retries"));
    }, Math.max(0, delay));
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = undefined;
    this.#armedFor = undefined;
  }
}
