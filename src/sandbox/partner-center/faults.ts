import type { SeededRandom } from "../../shared/seeded-random.js";
import { SandboxHttpError } from "./sandbox-error.js";

/** Knobs for making the sandbox misbehave the way the real service does, each by rate (0..1). */
export interface FaultSettings {
  /** Share of API calls answered 429 with Retry-After. */
  throttleRate: number;
  retryAfterSeconds: number;
  /** Share of API calls answered 503 serviceNotAvailable. */
  errorRate: number;
  /** Added to every API call, in milliseconds (real time: it exercises timeouts, not deadlines). */
  latencyMs: number;
  /** Share of webhook events dropped without a single delivery attempt. */
  webhookDropRate: number;
}

export const NO_FAULTS: FaultSettings = { throttleRate: 0, retryAfterSeconds: 2, errorRate: 0, latencyMs: 0, webhookDropRate: 0 };

export function faultFor(settings: FaultSettings, random: SeededRandom): SandboxHttpError | undefined {
  if (random.chance(settings.throttleRate)) {
    // Both documented 429 shapes: the error envelope with Retry-After, and the bare statusCode body.
    if (random.chance(0.5)) {
      return new SandboxHttpError(429, "tooManyRequests", "Too many requests.", undefined, { "Retry-After": String(settings.retryAfterSeconds) });
    }
    return Object.assign(new SandboxHttpError(429, "", `Rate limit is exceeded. Try again in ${settings.retryAfterSeconds} seconds.`), { bare: true });
  }
  if (random.chance(settings.errorRate)) {
    return new SandboxHttpError(503, "serviceNotAvailable", "The service is temporarily unavailable.", undefined, { "Retry-After": "1" });
  }
  return undefined;
}
