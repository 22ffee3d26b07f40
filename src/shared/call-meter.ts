import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Counts the HTTP calls made on behalf of one piece of work (a batch of upserts, a change poll),
 * however many run at once: each runs in its own async context, and a client counts its calls into
 * the context it was called from. The outbox paces a target by these counts, so a batch that took
 * five calls uses five of the target's rate, not one.
 */
/** Said once a call has its answer (or failed): a rate counts the call from then. */
export type Answered = () => void;

/**
 * A rate a service keeps apart from its main one for some calls: HubSpot's search endpoints are
 * exempt from the ten-second window and limited to five a second of their own. A call names its
 * budget; a call that names none draws on the main rate.
 */
export type RateBudget = "search";

interface Meter {
  calls: number;
  /** Waits before a call, with the count including it; may give back what to say once it is answered. */
  gate?: (calls: number, budget?: RateBudget) => Promise<Answered | undefined> | Answered | undefined;
}

const nothing: Answered = () => undefined;

const meters = new AsyncLocalStorage<Meter>();

/**
 * Called by a client before every request it sends: counts it, and waits if the work's gate says
 * so (the outbox's pacer). The client calls what it gives back once the answer is in. Outside
 * `metered` it counts nothing and never waits.
 */
export async function countCall(budget?: RateBudget): Promise<Answered> {
  const meter = meters.getStore();
  if (!meter) return nothing;
  meter.calls += 1;
  return (meter.gate ? await meter.gate(meter.calls, budget) : undefined) ?? nothing;
}

/** Runs `work` and says how many calls it made; `gate` is asked before each. */
export async function metered<T>(work: () => Promise<T>, gate?: Meter["gate"]): Promise<{ value: T; calls: number }> {
  const meter: Meter = { calls: 0, ...(gate ? { gate } : {}) };
  const value = await meters.run(meter, work);
  return { value, calls: meter.calls };
}
