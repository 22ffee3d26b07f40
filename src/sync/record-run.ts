import type { Clock } from "../shared/clock.js";
import { toCosellError } from "../shared/errors.js";
import type { Store, SyncRunKind } from "../store/index.js";

/**
 * Runs one pull or poll and records how it went (status page, /readyz, /metrics read it). A
 * failure to record never hides the run's own outcome.
 */
export async function recordRun<T>(store: Store, clock: Clock, kind: SyncRunKind, name: string, run: () => Promise<T>, onRecorded?: RunObserver): Promise<T> {
  try {
    const result = await run();
    await store.repos.syncRuns.succeeded(kind, name, clock.now()).catch(() => undefined);
    onRecorded?.(kind, name, true);
    return result;
  } catch (error) {
    const code = toCosellError(error, "UNEXPECTED_ERROR").code;
    await store.repos.syncRuns.failed(kind, name, clock.now(), code, (error as Error).message ?? String(error)).catch(() => undefined);
    onRecorded?.(kind, name, false);
    throw error;
  }
}

/** Told how each pull and poll went (metrics). */
export type RunObserver = (kind: SyncRunKind, name: string, ok: boolean) => void;
