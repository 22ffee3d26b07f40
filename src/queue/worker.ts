import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import PQueue from "p-queue";
import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import type { Clock } from "../shared/clock.js";
import { systemClock } from "../shared/clock.js";
import type { Answered, RateBudget } from "../shared/call-meter.js";
import { metered } from "../shared/call-meter.js";
import { CosellError, toCosellError } from "../shared/errors.js";
import type { OutboxJob, Store } from "../store/index.js";
import type { BackoffPolicy } from "./backoff.js";
import { DEFAULT_BACKOFF, planRetry } from "./backoff.js";
import type { PacerSettings } from "./pacer.js";
import { Pacer } from "./pacer.js";
import { isShutdown, shutdownRefusal } from "./shutdown.js";
import type { BatchResult, JobHandler, JobOutcome, TargetSettings } from "./types.js";

export interface WorkerOptions {
  store: Store;
  /** Handlers by job kind. */
  handlers: Record<string, JobHandler>;
  /** The targets this worker serves, with their pacing. */
  targets: Record<string, TargetSettings & Partial<PacerSettings>>;
  logger: Logger;
  clock?: Clock;
  /** The clock rate limits and leases run on: real time, even when the business clock runs fast (the demo). */
  rateClock?: Clock;
  owner?: string;
  leaseMs?: number;
  /** How long an idle target waits before looking again (an enqueue in this process wakes it sooner). */
  pollMs?: number;
  /**
   * Jobs whose deadline falls within this window never wait for a batch to fill (every job runs
   * earliest deadline first anyway).
   */
  urgentWindowMs?: number;
  backoff?: BackoffPolicy;
  random?: () => number;
  /** Called after the transaction that escalated a job commits. */
  onEscalate?: (job: OutboxJob, reason: string) => void | Promise<void>;
  /** Told of every settled job and every request made, for metrics and the status page. */
  observer?: OutboxObserver;
  /**
   * Monotonic milliseconds for lingering batches. Real time by default even when the clock is
   * injected: lingering is process scheduling, like a timer, not business time.
   */
  monotonic?: () => number;
}

/** A paced call looks again this often (so a clock that stands still is told within this). */
const PACE_STEP_MS = 25;

/** A partial batch goes once nothing was queued for this long (or its linger is over). */
const QUIET_MS = 250;

/** A job due within this goes at once, partial batch or not (the config's `urgentWindow` default). */
const DEFAULT_URGENT_WINDOW_MS = 60 * 60_000;
/** How long a producer that said more is coming (a pull between pages) is waited for. */
const MORE_MS = 1_000;

export type JobSettlement = "done" | "retried" | "dead" | "superseded";

export interface OutboxObserver {
  settled(job: OutboxJob, outcome: JobSettlement, code?: string): void;
  requests(target: string, count: number): void;
}

export interface WorkerCounters {
  leased: number;
  done: number;
  retried: number;
  dead: number;
  escalated: number;
  leaseLost: number;
}

/** Errors that say the target is down, not that the job is wrong. */
function isUnavailable(error: CosellError): boolean {
  return /_(UNAVAILABLE|UNREACHABLE|TIMEOUT)$/.test(error.code) || error.code === "OUTBOX_HANDLER_CRASHED";
}

function retryAfterOf(error: unknown): number | undefined {
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof value === "number" ? value : undefined;
}

/** The separate rate a throttled call drew on, when the error says (a HubSpot search's 429). */
function rateBudgetOf(error: unknown): RateBudget | undefined {
  return (error as { rateBudget?: RateBudget }).rateBudget;
}

/**
 * Leases due jobs target by target, runs them through the target's handler under its pacer and
 * concurrency, renews leases while they run, and settles each one: done, due again with backoff,
 * or dead in the failure index. Stopping stops leasing, lets running batches finish within a grace
 * period, and gives back what is left.
 */
export class OutboxWorker {
  readonly owner: string;
  readonly counters: WorkerCounters = { leased: 0, done: 0, retried: 0, dead: 0, escalated: 0, leaseLost: 0 };
  readonly #options: WorkerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #pacers = new Map<string, Pacer>();
  readonly #inFlight = new Set<number>();
  readonly #running = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  /** Who waits to be woken, and for which target (none: woken by any wake). */
  readonly #wakers = new Map<() => void, string | undefined>();
  #loops: Promise<void>[] = [];
  #stopping = false;
  #lastWakeAt = Number.NEGATIVE_INFINITY;
  /** Per target, when the first job its next batch may hold was announced by a wake. */
  readonly #waitingSince = new Map<string, number>();
  /** Until when a producer said more is coming (monotonic ms; 0: nobody did). */
  #moreUntil = 0;
  /** A rate clock reading that stood still through a real wait (a test's clock): calls at it go unpaced. */
  #stoodStillAt: number | undefined;
  /** Handlers' own batch limits by job kind, for the lease. */
  readonly #kindLimits: Record<string, number>;

  constructor(options: WorkerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#log = componentLogger(options.logger, "outbox", { job: undefined });
    this.#kindLimits = Object.fromEntries(Object.entries(options.handlers).flatMap(([kind, handler]) => (handler.maxJobs === undefined ? [] : [[kind, handler.maxJobs]])));
  }

  /**
   * The pacer of a target's rate, or of one of its separate budgets. A budget the target does not
   * keep apart is its main rate.
   */
  pacer(target: string, budget?: RateBudget): Pacer {
    const settings = this.#options.targets[target];
    const own = budget ? settings?.budgets?.[budget] : undefined;
    const key = own ? `${target}\0${budget}` : target;
    let pacer = this.#pacers.get(key);
    if (!pacer) {
      // A budget keeps the target's breaker settings; only its rate is its own.
      pacer = new Pacer({ ...settings, ...own }, this.#options.rateClock ?? this.#clock);
      this.#pacers.set(key, pacer);
    }
    return pacer;
  }

  /**
   * A call made to a target outside the outbox (a CRM change poll, an owner lookup) shares its
   * rate (or the budget it names): it waits its turn as a batch's calls do, at most `maxWaitMs`,
   * and is counted as sent; the caller says when it was answered.
   */
  async paceCall(target: string, maxWaitMs: number, budget?: RateBudget): Promise<Answered> {
    const pacer = this.pacer(target, budget);
    await this.#turn(pacer, this.#now() + maxWaitMs);
    this.#options.observer?.requests(target, 1);
    return pacer.take();
  }

  /** Starts one loop per target. */
  start(): void {
    this.#loops = Object.keys(this.#options.targets).map((target) => this.#loop(target));
  }

  /**
   * Something was enqueued: look now instead of at the next poll. `more` says whether the producer
   * has more on its way (a pull with pages left): a partial batch then waits for them (within its
   * linger) through a pause longer than the quiet spell, and goes as soon as the last page is in.
   */
  wake(options: { more?: boolean; targets?: readonly string[] } = {}): void {
    this.#lastWakeAt = this.#now();
    if (options.more !== undefined) this.#moreUntil = options.more ? this.#lastWakeAt + MORE_MS : 0;
    // Only the targets that were given work look now: a backfill's every page would otherwise
    // send each idle target to lease nothing, a write transaction each time.
    const named = options.targets ? new Set(options.targets) : undefined;
    for (const target of Object.keys(this.#options.targets)) if ((!named || named.has(target)) && !this.#waitingSince.has(target)) this.#waitingSince.set(target, this.#lastWakeAt);
    for (const [wake, target] of [...this.#wakers]) if (!named || target === undefined || named.has(target)) wake();
  }

  /**
   * One lease-run-settle cycle for a target, awaited to the end: what tests drive with an injected
   * clock, and what the loop does each turn.
   */
  async runOnce(target: string): Promise<number> {
    const settings = this.#options.targets[target];
    if (!settings) throw new CosellError("OUTBOX_UNKNOWN_TARGET", `No settings for outbox target "${target}".`);
    const jobs = await this.#lease(target, settings.batchSize);
    if (jobs.length > 0) await this.#run(target, jobs);
    return jobs.length;
  }

  async stop(graceMs = 30_000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.wake();
    await Promise.all(this.#loops);
    const finished = Promise.all([...this.#running]).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    const inTime = await Promise.race([finished, timedOut]);
    if (timer) clearTimeout(timer);
    if (!inTime) {
      this.#abort.abort(shutdownRefusal());
      const left = [...this.#inFlight];
      const released = await this.#options.store.repos.outbox.release(left, this.owner, this.#clock.now());
      this.#log.warn({ released, graceMs }, "grace period over; unfinished jobs released for the next worker");
    }
  }

  async #loop(target: string): Promise<void> {
    const settings = this.#options.targets[target] as TargetSettings;
    const queue = new PQueue({ concurrency: settings.concurrency });
    const pacer = this.pacer(target);
    const pollMs = this.#options.pollMs ?? 1_000;
    while (!this.#stopping) {
      const wait = pacer.waitMs();
      if (wait > 0) {
        await this.#idle(Math.min(wait, pollMs * 5), target);
        continue;
      }
      if (queue.pending >= settings.concurrency) {
        await Promise.race([new Promise((resolve) => queue.once("next", resolve)), this.#idle(pollMs, target)]);
        continue;
      }
      let jobs: OutboxJob[];
      try {
        const linger = await this.#lingerMs(target, settings);
        if (linger > 0) {
          await this.#idle(linger, target);
          continue;
        }
        this.#waitingSince.delete(target);
        // Nothing to lease is found on the read connection, not in a write transaction: an idle
        // target's every look would otherwise queue behind (and hold up) the store's writes.
        const now = this.#clock.now();
        if (!(await this.#options.store.reads.outbox.hasDue(target, now, this.#options.rateClock?.now() ?? now))) {
          await this.#idle(pollMs, target);
          continue;
        }
        jobs = await this.#lease(target, settings.batchSize);
      } catch (error) {
        this.#log.error({ err: error, target }, "leasing failed; retrying after the poll interval");
        await this.#idle(pollMs, target);
        continue;
      }
      if (jobs.length === 0) {
        await this.#idle(pollMs, target);
        continue;
      }
      const run = queue.add(() => this.#run(target, jobs));
      const tracked = run.then(
        () => undefined,
        (error: unknown) => this.#log.error({ err: error, target }, "batch failed outside the handler"),
      );
      this.#running.add(tracked);
      void tracked.finally(() => this.#running.delete(tracked));
    }
  }

  /**
   * How long to wait before leasing a partial batch: while jobs keep being queued here, the batch
   * is not full and none of it is urgent, up to the target's linger. Two bounded reads answer.
   */
  async #lingerMs(target: string, settings: TargetSettings): Promise<number> {
    const lingerMs = settings.lingerMs ?? 0;
    if (lingerMs <= 0 || settings.batchSize <= 1) return 0;
    const now = this.#now();
    const quietLeft = Math.max(this.#lastWakeAt + QUIET_MS, this.#moreUntil) - now;
    const lingerLeft = (this.#waitingSince.get(target) ?? now) + lingerMs - now;
    if (quietLeft <= 0 || lingerLeft <= 0) return 0;
    const at = this.#clock.now();
    const { due, urgent } = await this.#options.store.reads.outbox.countDue(target, at, settings.batchSize, new Date(at.getTime() + (this.#options.urgentWindowMs ?? DEFAULT_URGENT_WINDOW_MS)));
    // Nothing due yet while a producer is busy is the start of a batch too: a page committing as
    // this looked would otherwise be leased alone the moment it lands.
    return due < settings.batchSize && !urgent ? Math.min(quietLeft, lingerLeft) : 0;
  }

  #now(): number {
    return (this.#options.monotonic ?? performance.now.bind(performance))();
  }

  async #lease(target: string, limit: number): Promise<OutboxJob[]> {
    const now = this.#clock.now();
    const leaseMs = this.#options.leaseMs ?? 30_000;
    const leaseNow = this.#options.rateClock?.now();
    const jobs = await this.#options.store.transaction((repos) => repos.outbox.lease({ owner: this.owner, target, limit, leaseMs, now, kindLimits: this.#kindLimits, ...(leaseNow ? { leaseNow } : {}) }));
    for (const job of jobs) this.#inFlight.add(job.id);
    this.counters.leased += jobs.length;
    return jobs;
  }

  async #run(target: string, jobs: OutboxJob[]): Promise<void> {
    const pacer = this.pacer(target);
    const leaseMs = this.#options.leaseMs ?? 30_000;
    const ids = jobs.map((j) => j.id);
    // Renew well before expiry; a renewal that finds the lease gone means another worker took over.
    const heartbeat = setInterval(() => {
      const now = this.#clock.now();
      void this.#options.store.repos.outbox.renew(ids, this.owner, leaseMs, now, this.#options.rateClock?.now() ?? now).catch((error: unknown) => {
        this.#log.warn({ err: error, target }, "lease renewal failed");
      });
    }, Math.max(50, Math.floor(leaseMs / 3)));
    heartbeat.unref();
    const outcomes = new Map<number, JobOutcome>();
    const commits: Array<{ group: OutboxJob[]; commit: NonNullable<BatchResult["commit"]> }> = [];
    try {
      const byKind = new Map<string, OutboxJob[]>();
      for (const job of jobs) byKind.set(job.kind, [...(byKind.get(job.kind) ?? []), job]);
      for (const [kind, group] of byKind) {
        const handler = this.#options.handlers[kind];
        if (!handler) {
          for (const job of group) outcomes.set(job.id, { ok: false, error: new CosellError("OUTBOX_NO_HANDLER", `No handler for job kind "${kind}"; this daemon version cannot run it.`) });
          continue;
        }
        // The group's first call waits its turn too: the loop looked at the rate before leasing, but
        // other batches may have taken what it saw free since.
        try {
          await this.#turn(pacer);
        } catch (error) {
          for (const job of group) outcomes.set(job.id, { ok: false, error });
          continue;
        }
        const firstAnswered = pacer.take();
        this.#options.observer?.requests(target, 1);
        // Every later call a client makes for this batch (connectors count theirs) waits its turn
        // in the target's rate too: a HubSpot lead is three calls, a CRM task four, and a batch of a
        // hundred tasks must not fire four hundred at once. Each counts from its answer.
        // A call on a separate budget (a HubSpot search) waits for that budget instead.
        let paced = 0;
        const gate = async (calls: number, budget?: RateBudget) => {
          const own = this.pacer(target, budget);
          if (calls <= 1 && own === pacer) return firstAnswered;
          paced += 1;
          await this.#turn(own);
          this.#options.observer?.requests(target, 1);
          return own.take();
        };
        // A batch none of whose jobs is urgent may wait within the target's linger for what a
        // producer still has on its way, to fill a call that would go part-full.
        const at = this.#clock.now().getTime() + (this.#options.urgentWindowMs ?? DEFAULT_URGENT_WINDOW_MS);
        const holdUntil = this.#now() + (group.some((job) => job.dueBy !== undefined && job.dueBy.getTime() <= at) ? 0 : (this.#options.targets[target]?.lingerMs ?? 0));
        const awaitMore = () => this.#awaitMore(holdUntil - this.#now(), target);
        try {
          const context = { signal: this.#abort.signal, logger: this.#log.child({ job: group.length === 1 ? group[0]?.id : `${group.length} jobs` }), awaitMore };
          const { value: result, calls } = await metered(() => handler.handle(group, context), gate).finally(firstAnswered);
          if (result.rate) pacer.observe(result.rate);
          // A client that does not count its calls reports them in the result; they are charged now.
          const unpaced = Math.max(result.requests ?? 1, calls) - 1 - paced;
          if (unpaced > 0) {
            pacer.take(unpaced);
            this.#options.observer?.requests(target, unpaced);
          }
          group.forEach((job, index) => outcomes.set(job.id, result.outcomes[index] ?? { ok: false, error: new CosellError("OUTBOX_HANDLER_INCOMPLETE", "The handler reported no outcome for this job.", { retryable: true }) }));
          if (result.commit) commits.push({ group, commit: result.commit });
        } catch (error) {
          const failure = error instanceof CosellError ? error : new CosellError("OUTBOX_HANDLER_CRASHED", `The handler threw: ${(error as Error).message}`, { retryable: true, cause: error });
          for (const job of group) outcomes.set(job.id, { ok: false, error: failure });
        }
      }
    } finally {
      clearInterval(heartbeat);
    }
    try {
      await this.#settle(target, jobs, outcomes, commits);
    } catch (error) {
      if (!(error instanceof CommitFailure)) throw error;
      // What the batch would have recorded did not land (the transaction rolled back before any
      // settlement): its jobs retry, settled without it.
      const failure = new CosellError("OUTBOX_COMMIT_FAILED", `Recording the batch's results failed: ${(error.cause as Error).message}. Its jobs retry; if this repeats, check the store (disk space, permissions).`, { retryable: true, cause: error.cause });
      this.#log.error({ err: error.cause, target }, "recording a batch's results failed; its jobs retry");
      for (const { group } of commits) for (const job of group) outcomes.set(job.id, { ok: false, error: failure });
      await this.#settle(target, jobs, outcomes, []);
    }
  }

  /**
   * Waits until the pacer lets one more call go. A stopping worker lets a call go that the rate
   * allows now and refuses one that would wait (a burst would draw 429s that fail what was running;
   * a wait holds the stop up): its job is handed back untried. A rate clock that stood still
   * through a real wait is a test's, moved only between steps: the call goes then, as it would have
   * unpaced, instead of waiting for a step that waits on this batch.
   */
  async #turn(pacer: Pacer, until = Number.POSITIVE_INFINITY): Promise<void> {
    const clock = this.#options.rateClock ?? this.#clock;
    for (let wait = pacer.waitMs(); wait > 0 && this.#now() < until; wait = pacer.waitMs()) {
      if (this.#stopping) throw shutdownRefusal();
      const before = clock.now().getTime();
      // Found standing at this reading already: told once, not once per call.
      if (before === this.#stoodStillAt) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, PACE_STEP_MS)));
      if (clock.now().getTime() === before) {
        this.#stoodStillAt = before;
        return;
      }
    }
  }

  async #settle(target: string, jobs: OutboxJob[], outcomes: Map<number, JobOutcome>, commits: ReadonlyArray<{ commit: NonNullable<BatchResult["commit"]> }>): Promise<void> {
    const pacer = this.pacer(target);
    const now = this.#clock.now();
    const escalations: Array<{ job: OutboxJob; reason: string }> = [];
    const settlements: Array<[OutboxJob, JobSettlement, string?]> = [];
    let healthy = false;
    await this.#options.store.transaction(async (repos) => {
      for (const { commit } of commits) {
        try {
          await commit(repos);
        } catch (error) {
          throw new CommitFailure(error);
        }
      }
      const succeeded = jobs.filter((job) => outcomes.get(job.id)?.ok === true).map((job) => job.id);
      if (succeeded.length > 0) {
        healthy = true;
        const completed = await repos.outbox.completeMany(succeeded, this.owner, now);
        this.counters.done += completed;
        for (const job of jobs) if (outcomes.get(job.id)?.ok === true) settlements.push([job, "done"]);
        if (completed < succeeded.length) {
          this.counters.leaseLost += succeeded.length - completed;
          this.#log.warn({ jobs: succeeded.length - completed, target }, "lease lost before completion; the target's idempotency key absorbs any repeat");
        }
      }
      // Jobs that one failed call failed together (the same error) retry together: one jitter draw
      // for them, so they come back as the batch they were, not as part-full slices of it.
      const draws = new Map<unknown, number>();
      const random = this.#options.random ?? Math.random;
      // Jobs a stopping worker would not let wait for the rate go back untried.
      const handedBack = jobs.filter((job) => {
        const outcome = outcomes.get(job.id);
        return outcome?.ok === false && isShutdown(outcome.error);
      });
      if (handedBack.length > 0) {
        const released = await repos.outbox.release(handedBack.map((job) => job.id), this.owner, now);
        this.#log.info({ jobs: released, target }, "stopping: jobs that would wait for the rate handed back untried");
      }
      for (const job of jobs) {
        const outcome = outcomes.get(job.id) ?? { ok: false, error: new CosellError("OUTBOX_HANDLER_INCOMPLETE", "No outcome.", { retryable: true }) };
        if (outcome.ok || handedBack.includes(job)) continue;
        const draw = draws.get(outcome.error) ?? random();
        draws.set(outcome.error, draw);
        const error = toCosellError(outcome.error, "OUTBOX_JOB_FAILED");
        const retryAfterMs = retryAfterOf(outcome.error);
        // A throttle of a separate budget (a search) waits that budget out, not the writes.
        if (retryAfterMs !== undefined) this.pacer(target, rateBudgetOf(outcome.error)).observe({ retryAfterMs });
        if (isUnavailable(error)) pacer.unavailable();
        else pacer.otherFailure();
        const plan = planRetry(
          { attempts: job.attempts, maxAttempts: job.maxAttempts, retryable: error.retryable, ...(retryAfterMs === undefined ? {} : { retryAfterMs }), ...(job.dueBy ? { dueBy: job.dueBy } : {}), now, random: () => draw },
          this.#options.backoff ?? DEFAULT_BACKOFF,
        );
        const settled = await repos.outbox.settleFailure(
          job.id,
          this.owner,
          plan.kind === "retry"
            ? { outcome: "retry", at: plan.at, code: error.code, message: error.message, escalate: plan.escalate }
            : { outcome: "dead", code: error.code, message: error.message, escalate: plan.escalate },
          now,
        );
        if (!settled) {
          this.counters.leaseLost += 1;
          continue;
        }
        if (settled === "superseded") {
          settlements.push([job, "superseded", error.code]);
          this.#log.info({ job: job.id, target, kind: job.kind, code: error.code }, "job failed and was superseded by a newer one for the same record, queued while it ran");
          continue;
        }
        if (plan.kind === "retry") this.counters.retried += 1;
        else this.counters.dead += 1;
        settlements.push([job, plan.kind === "retry" ? "retried" : "dead", error.code]);
        this.#log[plan.kind === "dead" ? "error" : "warn"]({ job: job.id, target, kind: job.kind, code: error.code, attempts: job.attempts, next: plan.kind === "retry" ? plan.at.toISOString() : "dead" }, plan.kind === "dead" ? "job dead" : "job will be retried");
        if (plan.escalate && !job.escalatedAt) {
          const reason = plan.reason ?? "deadline at risk";
          escalations.push({ job, reason });
          if (job.leadId !== undefined) {
            await repos.events.append({
              leadId: job.leadId,
              ...(job.pair ? { pair: job.pair } : {}),
              at: now,
              side: "daemon",
              kind: "deadline-escalated",
              cause: `${job.kind} to ${target}: ${reason}`,
              details: { jobId: job.id, dueBy: job.dueBy?.toISOString(), code: error.code, attempts: job.attempts },
            });
          }
        }
      }
    });
    if (healthy) pacer.succeeded();
    for (const job of jobs) this.#inFlight.delete(job.id);
    for (const [job, outcome, code] of settlements) this.#options.observer?.settled(job, outcome, code);
    for (const { job, reason } of escalations) {
      this.counters.escalated += 1;
      this.#log.error({ job: job.id, target, dueBy: job.dueBy?.toISOString(), reason }, "deadline escalated");
      await this.#options.onEscalate?.(job, reason);
    }
  }

  /**
   * While a producer says more is coming, waits for its next enqueue (at most `ms`, and no longer
   * than a producer's pause is trusted): true when one came or may still come.
   */
  #awaitMore(ms: number, target: string): Promise<boolean> {
    if (this.#stopping || ms <= 0 || this.#moreUntil <= this.#now()) return Promise.resolve(false);
    return this.#idle(Math.min(ms, MORE_MS), target).then(() => !this.#stopping);
  }

  /** Waits `ms`, or until a wake that names `target` (or names none). */
  #idle(ms: number, target?: string): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.set(done, target);
    });
  }
}

/** A batch's commit failed: its settle transaction rolled back before anything was settled. */
class CommitFailure extends Error {
  constructor(cause: unknown) {
    super("a batch's commit failed", { cause });
  }
}
