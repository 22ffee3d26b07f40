import { describe, expect, it } from "vitest";
import type { BackoffPolicy } from "../../src/queue/backoff.js";
import { planRetry } from "../../src/queue/backoff.js";

const policy: BackoffPolicy = { baseMs: 1_000, capMs: 60_000, deadlineMarginMs: 10 * 60_000 };
const now = new Date("2026-06-01T12:00:00Z");
const at = (ms: number) => new Date(now.getTime() + ms);
const base = { attempts: 1, maxAttempts: 20, retryable: true, now, random: () => 0.999999 };

describe("planRetry", () => {
  it("grows exponentially with full jitter, up to the cap", () => {
    const waits = [1, 2, 3, 4, 10].map((attempts) => {
      const plan = planRetry({ ...base, attempts }, policy);
      return plan.kind === "retry" ? plan.at.getTime() - now.getTime() : -1;
    });
    expect(waits).toEqual([999, 1_999, 3_999, 7_999, 59_999]);
    const low = planRetry({ ...base, attempts: 5, random: () => 0 }, policy);
    expect(low).toEqual({ kind: "retry", at: now, escalate: false });
  });

  it("never retries sooner than Retry-After", () => {
    expect(planRetry({ ...base, retryAfterMs: 57_000 }, policy)).toEqual({ kind: "retry", at: at(57_000), escalate: false });
  });

  it("caps the next attempt at the deadline minus the margin", () => {
    const dueBy = at(10 * 60_000 + 30_000);
    const plan = planRetry({ ...base, attempts: 10, dueBy }, policy);
    expect(plan).toEqual({ kind: "retry", at: at(30_000), escalate: false });
  });

  it("escalates when the earliest allowed attempt falls inside the margin, and gives up when it is past the deadline", () => {
    const dueBy = at(5 * 60_000);
    expect(planRetry({ ...base, retryAfterMs: 60_000, dueBy }, policy)).toMatchObject({ kind: "retry", at: at(60_000), escalate: true });
    expect(planRetry({ ...base, retryAfterMs: 6 * 60_000, dueBy }, policy)).toEqual({
      kind: "dead",
      escalate: true,
      reason: "no attempt can land before the deadline it serves",
    });
  });

  it("is dead on a non-retryable error or when attempts run out, escalating only when a deadline is at stake", () => {
    expect(planRetry({ ...base, retryable: false }, policy)).toMatchObject({ kind: "dead", escalate: false });
    expect(planRetry({ ...base, attempts: 20 }, policy)).toMatchObject({ kind: "dead", escalate: false, reason: "gave up after 20 attempts" });
    expect(planRetry({ ...base, attempts: 20, dueBy: at(86_400_000) }, policy)).toMatchObject({ kind: "dead", escalate: true });
  });
});
