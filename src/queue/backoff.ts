/**
 * When to try a failed job again. Exponential backoff with full jitter (AWS's "full jitter": a
 * uniform wait between zero and the exponential cap, so a crowd of failing jobs spreads out),
 * never sooner than the target's Retry-After, and never later than the deadline the job serves
 * minus a margin. When even the earliest allowed attempt cannot land before the deadline, the job
 * is escalated rather than quietly missing it.
 */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /** Plan the last attempt at least this long before `due_by`, so it can still land. */
  deadlineMarginMs: number;
}

export interface RetryInput {
  /** Attempts made so far, including the one that just failed. */
  attempts: number;
  maxAttempts: number;
  retryable: boolean;
  retryAfterMs?: number;
  dueBy?: Date;
  now: Date;
  /** A float in [0, 1); injected so tests are exact. */
  random: () => number;
}

export type RetryPlan =
  | { kind: "retry"; at: Date; escalate: boolean; reason?: string }
  | { kind: "dead"; escalate: boolean; reason: string };

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 15 * 60_000, deadlineMarginMs: 10 * 60_000 };

export function planRetry(input: RetryInput, policy: BackoffPolicy = DEFAULT_BACKOFF): RetryPlan {
  const now = input.now.getTime();
  const hasDeadline = input.dueBy !== undefined;
  if (!input.retryable) return { kind: "dead", escalate: hasDeadline, reason: "not retryable" };
  if (input.attempts >= input.maxAttempts) return { kind: "dead", escalate: hasDeadline, reason: `gave up after ${input.attempts} attempts` };

  const exponential = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, input.attempts - 1));
  const jittered = Math.floor(input.random() * exponential);
  const earliest = now + Math.max(0, input.retryAfterMs ?? 0);
  const planned = Math.max(now + jittered, earliest);
  if (!input.dueBy) return { kind: "retry", at: new Date(planned), escalate: false };

  const deadline = input.dueBy.getTime();
  const latest = deadline - policy.deadlineMarginMs;
  if (earliest <= latest) return { kind: "retry", at: new Date(Math.min(planned, latest)), escalate: false };
  if (earliest < deadline) {
    return { kind: "retry", at: new Date(earliest), escalate: true, reason: "the next allowed attempt falls inside the deadline margin" };
  }
  return { kind: "dead", escalate: true, reason: "no attempt can land before the deadline it serves" };
}
