import type { Logger } from "../log/logger.js";
import type { RateBudget } from "../shared/call-meter.js";
import type { OutboxJob, Repositories } from "../store/index.js";
import type { RateInfo } from "./pacer.js";

export type JobOutcome = { ok: true } | { ok: false; error: unknown };

export interface BatchResult {
  /** One outcome per job, in the order the jobs were given. */
  outcomes: JobOutcome[];
  /** What the target said about its limits (rate headers, quota). */
  rate?: RateInfo;
  /**
   * Requests the batch made, for clients that do not count their calls (`countCall`): the worker
   * paces counted calls one by one as they go, and charges these after.
   */
  requests?: number;
  /**
   * What the batch records of its work (links to the records written, follow-up jobs, timeline
   * entries): run in the transaction that settles its jobs, so the two land together and the batch
   * costs one write transaction, not two. Should it fail, the batch's jobs are settled as failed
   * (to retry) without it.
   */
  commit?: (repos: Repositories) => Promise<void>;
}

/**
 * Runs jobs of one kind against one target. Gets 1..batchSize jobs; must report an outcome for
 * each. Throwing fails the whole batch with that error. Jobs carry an idempotency key: a handler
 * must make a repeat of the same key harmless (the CRM upserts on an external id; Partner Center
 * writes carry the eTag they were planned on).
 */
export interface HandlerContext {
  signal: AbortSignal;
  logger: Logger;
  /**
   * Waits for the next thing a producer enqueues while it says more is coming (a pull between
   * pages), within the batch's linger: false at once when nothing more is coming, the time is
   * spent, or a job of the batch is urgent. A handler about to send a part-full call may wait so.
   */
  awaitMore?: () => Promise<boolean>;
}

export interface JobHandler {
  handle(jobs: OutboxJob[], context: HandlerContext): Promise<BatchResult>;
  /** Most jobs of this kind in one batch, when fewer than the target's batch size. */
  maxJobs?: number;
}

export interface TargetSettings {
  /** Batches in flight at once against this target. */
  concurrency: number;
  /** Most jobs handed to one handler call. */
  batchSize: number;
  requestsPerInterval: number;
  intervalMs: number;
  /**
   * How long a partial batch may wait for more jobs while they keep being queued in this process (a
   * backfill's pages): the batch goes once it is full, once nothing was queued for a quiet spell,
   * or after this long. 0 sends whatever is due at once.
   */
  lingerMs?: number;
  /**
   * Rates the service keeps apart from the main one for some calls (see `RateBudget`): a call
   * naming one waits for that rate alone and leaves the main one to the writes.
   */
  budgets?: Partial<Record<RateBudget, { requestsPerInterval: number; intervalMs: number }>>;
}
