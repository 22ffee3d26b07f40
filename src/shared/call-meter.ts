import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Counts the HTTP calls made on behalf of one piece of work (a batch of upserts, a change poll),
 * however many run at once: each runs in its own async context, and a client counts its calls into
 * the context it was called from. The outbox paces a target by these counts, so a batch that took
 * five calls uses five of the target's rate, not one.
 */
const meters = new AsyncLocalStorage<{ calls: number }>();

/** Called by a client for every request it sends. Outside `metered` it counts nothing. */
export function countCall(): void {
  const meter = meters.getStore();
  if (meter) meter.calls += 1;
}

/** The calls the current metered work has made so far (0 outside one). */
export function callsSoFar(): number {
  return meters.getStore()?.calls ?? 0;
}

/** Runs `work` and says how many calls it made. */
export async function metered<T>(work: () => Promise<T>): Promise<{ value: T; calls: number }> {
  const meter = { calls: 0 };
  const value = await meters.run(meter, work);
  return { value, calls: meter.calls };
}
