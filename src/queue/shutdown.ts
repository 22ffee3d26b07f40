import { CosellError } from "../shared/errors.js";

/**
 * What a call gets that a stopping worker will not let wait for its rate: the job is handed back
 * untried (its attempt not counted) for this worker's successor, instead of bursting past the rate
 * or holding the stop up.
 */
export function shutdownRefusal(): CosellError {
  return new CosellError("OUTBOX_SHUTDOWN", "The worker is stopping; the job was handed back untried for the next worker.", { retryable: true });
}

/** The refusal, or an error a client wrapped it in (each keeps what it wraps as its cause). */
export function isShutdown(error: unknown): boolean {
  for (let seen = error, depth = 0; seen instanceof Error && depth < 8; seen = seen.cause, depth += 1) {
    if (seen instanceof CosellError && seen.code === "OUTBOX_SHUTDOWN") return true;
  }
  return false;
}
