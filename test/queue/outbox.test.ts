import pg from "pg";
import { afterEach, beforeEach, expect, it } from "vitest";
import { silentLogger } from "../../src/log/logger.js";
import { PER_JOB_BATCH, perJob } from "../../src/queue/per-job.js";
import type { BatchResult, JobHandler, JobOutcome } from "../../src/queue/types.js";
import { OutboxWorker } from "../../src/queue/worker.js";
import { ManualClock, WarpClock } from "../../src/shared/clock.js";
import { countCall } from "../../src/shared/call-meter.js";
import { CosellError } from "../../src/shared/errors.js";
import type { NewJob, OutboxJob, Store } from "../../src/store/index.js";
import { contentHash } from "../../src/shared/content-hash.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase, describeEachStore, openMigratedStore } from "../helpers/stores.js";

const HOUR = 60 * 60_000;
const TARGET = "crm:acme-sf";

describeEachStore("outbox", (kind) => {
  let database: TestDatabase;
  let store: Store;
  let clock: ManualClock;
  let leadId: number;

  beforeEach(async () => {
    database = await createTestDatabase(kind);
    store = await openMigratedStore(database);
    clock = new ManualClock("2026-06-01T12:00:00Z");
    const raw = { id: "r-1" };
    const saved = await store.repos.leads.save(
      { account: "a", referralId: "r-1", program: "JointPlanning", name: "L", state: "new", status: "New", substatus: "Received", eTag: "e", remoteCreatedAt: clock.now(), remoteUpdatedAt: clock.now(), contentHash: contentHash(raw), raw },
      clock.now(),
    );
    leadId = saved.lead.id;
  });

  afterEach(async () => {
    await store.close();
    await database.drop();
  });

  const job = (overrides: Partial<NewJob> = {}): NewJob => ({ target: TARGET, kind: "crm-upsert", payload: { n: 1 }, maxAttempts: 5, ...overrides });
  const enqueue = (overrides: Partial<NewJob> = {}) => store.transaction((repos) => repos.outbox.enqueue(job(overrides), clock.now()));

  function worker(handler: (jobs: OutboxJob[]) => JobOutcome[] | Promise<JobOutcome[]>, extra: Partial<ConstructorParameters<typeof OutboxWorker>[0]> = {}) {
    const handlers: Record<string, JobHandler> = { "crm-upsert": { handle: async (jobs) => ({ outcomes: await handler(jobs) }) } };
    return new OutboxWorker({
      store,
      handlers,
      targets: { [TARGET]: { concurrency: 1, batchSize: 10, requestsPerInterval: 1000, intervalMs: 1000 } },
      logger: silentLogger(),
      clock,
      random: () => 0.5,
      backoff: { baseMs: 1_000, capMs: 60_000, deadlineMarginMs: 10 * 60_000 },
      leaseMs: 30_000,
      urgentWindowMs: 24 * HOUR,
      ...extra,
    });
  }

  it("enqueues in the caller's transaction: a rollback leaves no job", async () => {
    await expect(
      store.transaction(async (repos) => {
        await repos.outbox.enqueue(job({ leadId }), clock.now());
        throw new Error("state change failed");
      }),
    ).rejects.toThrow("state change failed");
    expect(await store.repos.outbox.list()).toEqual([]);
  });

  it("coalesces: a newer pending job for the same lead, target and kind replaces the older", async () => {
    const first = await enqueue({ leadId, payload: { v: 1 }, dueBy: new Date(clock.now().getTime() + 10 * HOUR) });
    const second = await enqueue({ leadId, payload: { v: 2 }, dueBy: new Date(clock.now().getTime() + 20 * HOUR), priority: 3 });
    expect(second).toEqual({ id: first.id, coalesced: true });
    const jobs = await store.repos.outbox.list();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ payload: { v: 2 }, priority: 3, dueBy: new Date(clock.now().getTime() + 10 * HOUR) });
    // Another kind or lead is another job.
    await enqueue({ leadId, kind: "crm-task" });
    await enqueue({ coalesceKey: null });
    expect(await store.repos.outbox.list()).toHaveLength(3);
  });

  it("leads created by the caller's transaction: their default keys are not looked up, a key the caller names still is", async () => {
    await enqueue({ coalesceKey: "shared", payload: { v: 1 } });
    const reads: string[] = [];
    const sql = (query: { sql: string }) => void reads.push(query.sql);
    const result = await store.transaction(async (repos) => {
      const raw = { id: "r-new" };
      const created = await repos.leads.save({ account: "a", referralId: "r-new", program: "JointPlanning", name: "N", state: "new", status: "New", substatus: "Received", eTag: "e", remoteCreatedAt: clock.now(), remoteUpdatedAt: clock.now(), contentHash: contentHash(raw), raw }, clock.now());
      (repos.outbox as unknown as { db: { on(event: string, fn: typeof sql): unknown; off(event: string, fn: typeof sql): unknown } }).db.on("query", sql);
      try {
        return await repos.outbox.enqueueMany([job({ leadId: created.lead.id, payload: { fresh: 1 } }), job({ leadId: created.lead.id, kind: "crm-task", coalesceKey: "shared", payload: { v: 2 } })], clock.now(), { newLeads: new Set([created.lead.id]) });
      } finally {
        (repos.outbox as unknown as { db: { off(event: string, fn: typeof sql): unknown } }).db.off("query", sql);
      }
    });
    expect(result).toEqual({ queued: 1, coalesced: 1 });
    const lookups = reads.filter((text) => /select .* from .*outbox_jobs/i.test(text) && /coalesce_key/.test(text));
    expect(lookups).toHaveLength(1);
    // One key looked up: the named one (a placeholder is `?` on SQLite, `$n` on PostgreSQL).
    expect(lookups[0]?.match(/\?|\$\d+/g)).toHaveLength(1);
    expect((await store.repos.outbox.list()).map((j) => j.payload)).toEqual([{ v: 2 }, { fresh: 1 }]);
  });

  it("queues a batch as one job at a time would: pending keys coalesced, new ones inserted, a key named twice replaced in order", async () => {
    await enqueue({ leadId, payload: { v: 1 }, dueBy: new Date(clock.now().getTime() + 10 * HOUR) });
    const batch = [
      job({ leadId, payload: { v: 2 }, dueBy: new Date(clock.now().getTime() + 20 * HOUR) }),
      job({ leadId, kind: "crm-task", payload: { t: 1 } }),
      job({ coalesceKey: null, payload: { free: 1 } }),
      job({ coalesceKey: null, payload: { free: 2 } }),
    ];
    expect(await store.transaction((repos) => repos.outbox.enqueueMany(batch, clock.now()))).toEqual({ queued: 3, coalesced: 1 });
    const jobs = await store.repos.outbox.list();
    expect(jobs.map((j) => j.payload).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([{ free: 1 }, { free: 2 }, { t: 1 }, { v: 2 }]);
    expect(jobs.find((j) => (j.payload as { v?: number }).v === 2)?.dueBy).toEqual(new Date(clock.now().getTime() + 10 * HOUR));
    expect(new Set(jobs.map((j) => j.idempotencyKey)).size).toBe(4);

    // The same key twice in one batch: the later replaces the earlier, as two enqueues would.
    const twice = [job({ leadId, kind: "crm-note", payload: { n: 1 } }), job({ leadId, kind: "crm-note", payload: { n: 2 } })];
    expect(await store.transaction((repos) => repos.outbox.enqueueMany(twice, clock.now()))).toEqual({ queued: 1, coalesced: 1 });
    expect((await store.repos.outbox.list()).filter((j) => j.kind === "crm-note").map((j) => j.payload)).toEqual([{ n: 2 }]);

    // All or nothing with the caller's transaction.
    await expect(
      store.transaction(async (repos) => {
        await repos.outbox.enqueueMany([job({ coalesceKey: null, payload: { lost: 1 } })], clock.now());
        throw new Error("page failed");
      }),
    ).rejects.toThrow("page failed");
    expect(await store.repos.outbox.list()).toHaveLength(5);
  });

  it.runIf(kind === "postgres")("a batch racing another replica's job for the same key coalesces into it instead of failing the page", async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let queued = () => {};
    const replicaQueued = new Promise<void>((resolve) => (queued = resolve));
    const replica = store.transaction(async (repos) => {
      await repos.outbox.enqueue(job({ leadId, payload: { by: "replica" } }), clock.now());
      queued();
      await held;
    });
    await replicaQueued;
    // The batch reads no pending job (the replica's is uncommitted), then its insert waits on the replica's row.
    const batch = store.transaction((repos) => repos.outbox.enqueueMany([job({ leadId, payload: { by: "batch" } }), job({ coalesceKey: null, payload: { free: 1 } })], clock.now()));
    const watcher = new pg.Client({ connectionString: database.url });
    await watcher.connect();
    try {
      while (Number((await watcher.query("SELECT count(*) AS n FROM pg_locks WHERE NOT granted")).rows[0].n) === 0) await new Promise((resolve) => setImmediate(resolve));
    } finally {
      await watcher.end();
    }
    release();
    await replica;
    expect(await batch).toEqual({ queued: 1, coalesced: 1 });
    const jobs = await store.repos.outbox.list();
    expect(jobs.map((j) => j.payload)).toEqual(expect.arrayContaining([{ by: "batch" }, { free: 1 }]));
    expect(jobs).toHaveLength(2);
  });

  it("runs jobs of one key one at a time: the newer waits while the older runs, and a dead worker's job is superseded", async () => {
    await enqueue({ leadId, payload: { v: 1 } });
    const lease = (owner: string) => store.transaction((repos) => repos.outbox.lease({ owner, target: TARGET, limit: 10, leaseMs: 30_000, now: clock.now() }));
    expect((await lease("w1")).map((j) => j.payload)).toEqual([{ v: 1 }]);
    await enqueue({ leadId, payload: { v: 2 } });
    expect(await lease("w2")).toEqual([]);
    clock.advance(31_000);
    const next = await lease("w2");
    expect(next.map((j) => j.payload)).toEqual([{ v: 2 }]);
    const all = await store.repos.outbox.list();
    expect(all.map((j) => j.state).sort()).toEqual(["running", "superseded"]);
  });

  it("leases urgent deadlines first, then earliest deadline, then priority, and nothing before it is due", async () => {
    const inHours = (h: number) => new Date(clock.now().getTime() + h * HOUR);
    await enqueue({ payload: "routine-low", coalesceKey: null });
    await enqueue({ payload: "routine-high", coalesceKey: null, priority: 5 });
    await enqueue({ payload: "deadline-in-3-days", coalesceKey: null, dueBy: inHours(72) });
    await enqueue({ payload: "deadline-in-2-hours", coalesceKey: null, dueBy: inHours(2) });
    await enqueue({ payload: "deadline-in-20-hours", coalesceKey: null, dueBy: inHours(20) });
    await enqueue({ payload: "later", coalesceKey: null, runAt: inHours(1) });
    const seen: unknown[] = [];
    const w = worker((jobs) => {
      seen.push(...jobs.map((j) => j.payload));
      return jobs.map(() => ({ ok: true }));
    }, { targets: { [TARGET]: { concurrency: 1, batchSize: 1, requestsPerInterval: 1000, intervalMs: 1000 } } });
    while ((await w.runOnce(TARGET)) > 0);
    expect(seen).toEqual(["deadline-in-2-hours", "deadline-in-20-hours", "deadline-in-3-days", "routine-high", "routine-low"]);
    clock.advance(HOUR);
    await w.runOnce(TARGET);
    expect(seen.at(-1)).toBe("later");
  });

  it("puts an urgent push ahead of 1,000 routine jobs queued before it", async () => {
    await store.transaction(async (repos) => {
      for (let i = 0; i < 1_000; i += 1) await repos.outbox.enqueue(job({ payload: `routine-${i}`, coalesceKey: null }), clock.now());
    });
    clock.advance(1_000);
    await enqueue({ payload: "accept-by-in-3-hours", coalesceKey: null, dueBy: new Date(clock.now().getTime() + 3 * HOUR) });
    const seen: unknown[] = [];
    const w = worker((jobs) => {
      seen.push(...jobs.map((j) => j.payload));
      return jobs.map(() => ({ ok: true }));
    });
    await w.runOnce(TARGET);
    expect(seen[0]).toBe("accept-by-in-3-hours");
    expect(seen).toHaveLength(10);
  });

  it("backs off a retryable failure with jitter and honours Retry-After", async () => {
    const { id } = await enqueue();
    const w = worker(() => [{ ok: false, error: Object.assign(new CosellError("CRM_THROTTLED", "slow down", { retryable: true }), { retryAfterMs: 45_000 }) }]);
    await w.runOnce(TARGET);
    expect(await store.repos.outbox.get(id)).toMatchObject({ state: "pending", attempts: 1, lastErrorCode: "CRM_THROTTLED", runAt: new Date(clock.now().getTime() + 45_000) });
    expect(await w.runOnce(TARGET)).toBe(0);
    expect(w.pacer(TARGET).waitMs()).toBe(45_000);
  });

  it("jobs one failed call failed together retry together (one jitter draw); jobs failing each for itself spread out", async () => {
    for (let n = 0; n < 4; n += 1) await enqueue({ coalesceKey: null });
    const draws = [0.1, 0.4, 0.7, 0.9];
    const shared = new CosellError("CRM_UNAVAILABLE", "HubSpot 502", { retryable: true });
    // The first two failed in one call (one error), the last two each with its own.
    const w = worker((jobs) => jobs.map((_, index) => ({ ok: false, error: index < 2 ? shared : new CosellError("CRM_UNAVAILABLE", `HubSpot 502 for ${index}`, { retryable: true }) })), { random: () => draws.shift() ?? 0 });
    await w.runOnce(TARGET);
    const at = (await store.repos.outbox.list()).map((job) => job.runAt.getTime() - clock.now().getTime());
    expect(at).toEqual([100, 100, 400, 700]);
  });

  /** A worker whose rate is two calls per 10 s, on a rate clock the test moves (the test's clock by default). */
  const pacedWorker = (handlers: Record<string, JobHandler>, rateClock?: WarpClock, requests: number[] = []) =>
    new OutboxWorker({
      store,
      handlers,
      targets: { [TARGET]: { concurrency: 1, batchSize: 10, requestsPerInterval: 2, intervalMs: 10_000 } },
      logger: silentLogger(),
      clock,
      ...(rateClock ? { rateClock } : {}),
      pollMs: 2,
      observer: { settled: () => undefined, requests: (_target, count) => void requests.push(count) },
    });
  /** A handler whose every job makes `calls` calls, counted as a connector counts them. */
  const calling = (calls: number, made: { n: number; error?: unknown }): JobHandler =>
    perJob(async () => {
      try {
        for (let i = 0; i < calls; i += 1) {
          await countCall();
          made.n += 1;
        }
      } catch (error) {
        made.error = error;
        throw error;
      }
      return { ok: true };
    });
  const tick = () => new Promise((resolve) => setTimeout(resolve, 2));
  const until = async (done: () => boolean) => {
    for (let i = 0; i < 500 && !done(); i += 1) await tick();
  };

  it("paces each call of a batch after the first: one that would overrun the rate waits its turn", async () => {
    await enqueue({ leadId });
    // Rates run on real time (a warp clock: real time plus the jumps the test makes).
    const rateClock = new WarpClock();
    const sent: number[] = [];
    const requests: number[] = [];
    const w = pacedWorker(
      {
        "crm-upsert": {
          async handle(jobs) {
            // Three calls, as HubSpot makes for a lead.
            for (let i = 0; i < 3; i += 1) {
              await countCall();
              sent.push(rateClock.now().getTime());
            }
            return { outcomes: jobs.map(() => ({ ok: true as const })) };
          },
        },
      },
      rateClock,
      requests,
    );
    const started = rateClock.now().getTime();
    const run = w.runOnce(TARGET);
    await until(() => sent.length >= 2);
    for (let i = 0; i < 10; i += 1) await tick();
    // Two calls fill the window of two: the third waits for the first to leave it.
    expect(sent).toHaveLength(2);
    rateClock.jump(10_100);
    await run;
    expect(sent).toHaveLength(3);
    expect((sent[2] as number) - started).toBeGreaterThanOrEqual(10_100);
    // Counted once each: paced calls are not charged again.
    expect(requests).toEqual([1, 1, 1]);
    expect(await store.repos.outbox.stats(clock.now())).toMatchObject({ byState: { done: { [TARGET]: 1 } } });
  });

  it("a call on a separate budget (HubSpot's search) waits for that budget alone and leaves the main rate to the writes", async () => {
    await enqueue({ leadId });
    const rateClock = new WarpClock();
    const sent: string[] = [];
    const w = new OutboxWorker({
      store,
      handlers: {
        "crm-upsert": {
          async handle(jobs) {
            for (const call of ["write", "search", "search", "search", "write", "search"] as const) {
              await countCall(call === "search" ? "search" : undefined);
              sent.push(call);
            }
            return { outcomes: jobs.map(() => ({ ok: true as const })) };
          },
        },
      },
      // Two writes per 10 s; three searches a second of their own.
      targets: { [TARGET]: { concurrency: 1, batchSize: 10, requestsPerInterval: 2, intervalMs: 10_000, budgets: { search: { requestsPerInterval: 3, intervalMs: 1_000 } } } },
      logger: silentLogger(),
      clock,
      rateClock,
      pollMs: 2,
    });
    const run = w.runOnce(TARGET);
    await until(() => sent.length >= 5);
    for (let i = 0; i < 10; i += 1) await tick();
    // The searches did not take the writes' two slots; the fourth search waits for its own second.
    expect(sent).toEqual(["write", "search", "search", "search", "write"]);
    rateClock.jump(1_100);
    await run;
    expect(sent).toHaveLength(6);
    expect(w.pacer(TARGET).waitMs()).toBeGreaterThan(5_000);
    expect(w.pacer(TARGET, "search").waitMs()).toBe(0);
    // A call outside the outbox (a change poll's search) draws on the same budget.
    await w.paceCall(TARGET, 0, "search");
    await w.paceCall(TARGET, 0, "search");
    expect(w.pacer(TARGET, "search").waitMs()).toBeGreaterThan(0);
    expect(w.pacer(TARGET).waitMs()).toBeGreaterThan(5_000);
  });

  it("a job failed by a throttled search waits out the search budget, and the writes' rate stays open", async () => {
    await enqueue({ leadId });
    const targets = { [TARGET]: { concurrency: 1, batchSize: 10, requestsPerInterval: 1000, intervalMs: 1000, budgets: { search: { requestsPerInterval: 5, intervalMs: 1_000 } } } };
    const throttled = (rateBudget?: "search") => Object.assign(new CosellError("CRM_THROTTLED", "HubSpot 429 (SECONDLY)", { retryable: true }), { retryAfterMs: 1_000, ...(rateBudget ? { rateBudget } : {}) });
    const searchFailed = worker(() => [{ ok: false, error: throttled("search") }], { targets });
    await searchFailed.runOnce(TARGET);
    expect(searchFailed.pacer(TARGET).waitMs()).toBe(0);
    expect(searchFailed.pacer(TARGET, "search").waitMs()).toBeGreaterThan(0);
    // The same failure from a write's 429 holds the writes.
    clock.advance(60_000);
    const writeFailed = worker(() => [{ ok: false, error: throttled() }], { targets });
    await writeFailed.runOnce(TARGET);
    expect(writeFailed.pacer(TARGET).waitMs()).toBeGreaterThan(0);
  });

  it("paces the calls of every job of a one-job-at-a-time batch (CRM tasks: four calls each)", async () => {
    for (let n = 0; n < 3; n += 1) await enqueue({ coalesceKey: null, kind: "crm-task" });
    const rateClock = new WarpClock();
    const made = { n: 0 };
    const w = pacedWorker({ "crm-task": calling(4, made) }, rateClock);
    const run = w.runOnce(TARGET);
    await until(() => made.n >= 2);
    for (let i = 0; i < 10; i += 1) await tick();
    // Twelve calls for three jobs; the rate lets two go per window, not all twelve at once.
    expect(made.n).toBe(2);
    for (let window = 1; window < 6; window += 1) {
      rateClock.jump(10_100);
      await until(() => made.n >= 2 * (window + 1));
      expect(made.n).toBe(2 * (window + 1));
    }
    await run;
    expect(await store.repos.outbox.stats(clock.now())).toMatchObject({ byState: { done: { [TARGET]: 3 } } });
  });

  it("leases no more one-at-a-time jobs than one batch of them takes: the rest stay pending, their attempts untouched", async () => {
    for (let n = 0; n < PER_JOB_BATCH + 3; n += 1) await enqueue({ coalesceKey: null, kind: "crm-task" });
    const made = { n: 0 };
    const w = pacedWorker({ "crm-task": calling(1, made) });
    expect(await w.runOnce(TARGET)).toBe(PER_JOB_BATCH);
    const jobs = await store.repos.outbox.list();
    expect(jobs.filter((j) => j.state === "done")).toHaveLength(PER_JOB_BATCH);
    expect(jobs.filter((j) => j.state === "pending").map((j) => j.attempts)).toEqual([0, 0, 0]);
  });

  it("while stopping, lets no call burst past the rate: one that would wait is refused and its job handed back untried", async () => {
    await enqueue({ leadId, kind: "crm-task" });
    const made: { n: number; error?: unknown } = { n: 0 };
    const w = pacedWorker({ "crm-task": calling(4, made) }, new WarpClock());
    w.start();
    await until(() => made.n >= 2);
    // The third call waits for the window; the stop does not wait ten seconds with it, nor let it go.
    // The stop returns once the batch is settled.
    await w.stop(30_000);
    expect(made.n).toBe(2);
    expect(made.error).toMatchObject({ code: "OUTBOX_SHUTDOWN" });
    expect((await store.repos.outbox.list())[0]).toMatchObject({ state: "pending", attempts: 0 });
  });

  it("half-open after an outage, a batch's calls go one trial at a time instead of waiting on their own batch's verdict", async () => {
    await enqueue({ leadId, kind: "crm-task" });
    const rateClock = new WarpClock();
    const made = { n: 0 };
    // Two calls, each answered as a connector says it.
    const handler: JobHandler = perJob(async () => {
      for (let i = 0; i < 2; i += 1) {
        const answered = await countCall();
        made.n += 1;
        answered();
      }
      return { ok: true };
    });
    const w = pacedWorker({ "crm-task": handler }, rateClock);
    for (let i = 0; i < 5; i += 1) w.pacer(TARGET).unavailable();
    expect(w.pacer(TARGET).snapshot().breaker).toBe("open");
    rateClock.jump(30_000);
    const run = w.runOnce(TARGET);
    await until(() => made.n >= 2);
    expect(made.n).toBe(2);
    await run;
    expect((await store.repos.outbox.list())[0]).toMatchObject({ state: "done" });
    expect(w.pacer(TARGET).snapshot().breaker).toBe("closed");
  });

  it("under a test's clock, which stands still, a batch's calls go unpaced instead of waiting on the test", async () => {
    await enqueue({ leadId, kind: "crm-task" });
    const made = { n: 0 };
    const w = pacedWorker({ "crm-task": calling(5, made) });
    await w.runOnce(TARGET);
    expect(made.n).toBe(5);
    expect(w.pacer(TARGET).waitMs()).toBeGreaterThan(0);
  });

  it("a job that fails after a newer one for its record was queued is superseded by it, not queued beside it", async () => {
    await enqueue({ leadId, payload: { v: 1 } });
    const failing = worker(async (jobs) => {
      // The lead changed while its write ran: a newer job for the same record is queued.
      await enqueue({ leadId, payload: { v: 2 } });
      return jobs.map(() => ({ ok: false, error: new CosellError("CRM_THROTTLED", "429", { retryable: true }) }));
    });
    await failing.runOnce(TARGET);
    expect((await store.repos.outbox.list()).map((j) => [j.state, j.payload])).toEqual([
      ["superseded", { v: 1 }],
      ["pending", { v: 2 }],
    ]);
  });

  it("a job handed back at shutdown whose record got a newer job meanwhile is superseded; the others go back untried", async () => {
    const first = await enqueue({ leadId, payload: { v: 1 } });
    const other = await enqueue({ coalesceKey: null, payload: { other: true } });
    const leased = await store.transaction((repos) => repos.outbox.lease({ owner: "w", target: TARGET, limit: 10, leaseMs: 30_000, now: clock.now() }));
    expect(leased.map((j) => j.id).sort()).toEqual([first.id, other.id].sort());
    await enqueue({ leadId, payload: { v: 2 } });
    expect(await store.repos.outbox.release([first.id, other.id], "w", clock.now())).toBe(2);
    expect(await store.repos.outbox.get(first.id)).toMatchObject({ state: "superseded" });
    expect(await store.repos.outbox.get(other.id)).toMatchObject({ state: "pending", attempts: 0 });
  });

  it("leases run on real time: business time jumping a day (the demo) does not lapse a running job's lease", async () => {
    const { id } = await enqueue({ leadId });
    const real = new ManualClock(clock.now().toISOString());
    let finish: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (finish = resolve));
    const a = worker(async (jobs) => {
      await held;
      return jobs.map(() => ({ ok: true as const }));
    }, { rateClock: real, owner: "a" });
    const b = worker((jobs) => jobs.map(() => ({ ok: true as const })), { rateClock: real, owner: "b" });
    const running = a.runOnce(TARGET);
    for (let i = 0; i < 200 && (await store.repos.outbox.get(id))?.state !== "running"; i += 1) await tick();
    clock.advance(24 * HOUR);
    expect(await b.runOnce(TARGET)).toBe(0);
    finish();
    await running;
    expect(await store.repos.outbox.get(id)).toMatchObject({ state: "done", attempts: 1 });
  });

  it("never plans a retry after the deadline it serves, and escalates when none can land in time", async () => {
    const escalated: string[] = [];
    const dueBy = new Date(clock.now().getTime() + 15 * 60_000);
    const { id } = await enqueue({ leadId, dueBy });
    const failing = worker(() => [{ ok: false, error: new CosellError("PC_UNAVAILABLE", "down", { retryable: true }) }], {
      backoff: { baseMs: 60 * 60_000, capMs: 10 * HOUR, deadlineMarginMs: 10 * 60_000 },
      onEscalate: (j, reason) => void escalated.push(`${j.id}:${reason}`),
    });
    await failing.runOnce(TARGET);
    const afterFirst = await store.repos.outbox.get(id);
    expect(afterFirst?.runAt.getTime()).toBeLessThanOrEqual(dueBy.getTime() - 10 * 60_000);
    expect(afterFirst?.escalatedAt).toBeUndefined();

    clock.set(afterFirst?.runAt ?? clock.now());
    const throttled = worker(() => [{ ok: false, error: Object.assign(new CosellError("PC_THROTTLED", "wait", { retryable: true }), { retryAfterMs: 20 * 60_000 }) }], {
      onEscalate: (j, reason) => void escalated.push(`${j.id}:${reason}`),
    });
    await throttled.runOnce(TARGET);
    const dead = await store.repos.outbox.get(id);
    expect(dead).toMatchObject({ state: "dead", lastErrorCode: "PC_THROTTLED" });
    expect(dead?.escalatedAt).toEqual(clock.now());
    expect(escalated).toEqual([`${id}:no attempt can land before the deadline it serves`]);
    const timeline = await store.repos.events.timeline(leadId);
    expect(timeline[0]).toMatchObject({ kind: "deadline-escalated", side: "daemon", details: { jobId: id } });
  });

  it("dead-letters a non-retryable failure and one out of attempts, with the failure's facts", async () => {
    const bad = await enqueue({ coalesceKey: null, payload: "bad" });
    const flaky = await enqueue({ coalesceKey: null, payload: "flaky", maxAttempts: 2 });
    const w = worker((jobs) =>
      jobs.map((j) =>
        j.payload === "bad"
          ? { ok: false, error: new CosellError("MAPPING_REQUIRED_FIELD", "Country is missing", { retryable: false }) }
          : { ok: false, error: new CosellError("CRM_UNAVAILABLE", "503", { retryable: true }) },
      ),
    );
    await w.runOnce(TARGET);
    expect(await store.repos.outbox.get(bad.id)).toMatchObject({ state: "dead", attempts: 1, lastErrorCode: "MAPPING_REQUIRED_FIELD", lastErrorMessage: "Country is missing", firstFailedAt: clock.now(), lastFailedAt: clock.now() });
    clock.advance(HOUR);
    await w.runOnce(TARGET);
    expect(await store.repos.outbox.get(flaky.id)).toMatchObject({ state: "dead", attempts: 2, lastErrorCode: "CRM_UNAVAILABLE" });
    expect((await store.repos.outbox.stats(clock.now())).deadByCode).toEqual({ MAPPING_REQUIRED_FIELD: 1, CRM_UNAVAILABLE: 1 });
  });

  it("redrives dead jobs by code, retries one, and drops one", async () => {
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await enqueue({ coalesceKey: null, payload: i })).id);
    const w = worker((jobs) => jobs.map(() => ({ ok: false, error: new CosellError("CRM_FIELD_MISSING", "no field", { retryable: false }) })));
    await w.runOnce(TARGET);
    expect(await store.repos.outbox.redrive("CRM_FIELD_MISSING", clock.now())).toBe(3);
    await w.runOnce(TARGET);
    expect(await store.repos.outbox.drop(ids[0] ?? 0, clock.now())).toBe(true);
    expect(await store.repos.outbox.retry(ids[1] ?? 0, clock.now())).toBe(true);
    expect(await store.repos.outbox.retry(ids[1] ?? 0, clock.now())).toBe(false);
    const states = (await store.repos.outbox.list()).map((j) => [j.id, j.state, j.attempts]);
    expect(states).toEqual([
      [ids[0], "dropped", 1],
      [ids[1], "pending", 0],
      [ids[2], "dead", 1],
    ]);
  });

  it("an expired lease makes the job due again; the old owner's late completion is refused", async () => {
    const { id } = await enqueue();
    const lease = (owner: string) => store.transaction((repos) => repos.outbox.lease({ owner, target: TARGET, limit: 1, leaseMs: 30_000, now: clock.now() }));
    await lease("w1");
    expect(await store.repos.outbox.renew([id], "w1", 30_000, clock.now())).toBe(1);
    clock.advance(29_000);
    expect(await lease("w2")).toEqual([]);
    clock.advance(2_000);
    expect((await lease("w2"))[0]).toMatchObject({ id, attempts: 2, leaseOwner: "w2" });
    expect(await store.repos.outbox.renew([id], "w1", 30_000, clock.now())).toBe(0);
    expect(await store.repos.outbox.complete(id, "w1", clock.now())).toBe(false);
    expect(await store.repos.outbox.complete(id, "w2", clock.now())).toBe(true);
  });

  it("a job that keeps killing its worker goes dead instead of looping", async () => {
    const { id } = await enqueue({ maxAttempts: 2 });
    const lease = () => store.transaction((repos) => repos.outbox.lease({ owner: "w", target: TARGET, limit: 1, leaseMs: 1_000, now: clock.now() }));
    await lease();
    clock.advance(2_000);
    await lease();
    clock.advance(2_000);
    expect(await lease()).toEqual([]);
    expect(await store.repos.outbox.get(id)).toMatchObject({ state: "dead", lastErrorCode: "OUTBOX_LEASE_EXPIRED" });
  });

  it("released jobs are due at once and the untried attempt is not counted", async () => {
    const { id } = await enqueue();
    await store.transaction((repos) => repos.outbox.lease({ owner: "w", target: TARGET, limit: 1, leaseMs: 30_000, now: clock.now() }));
    expect(await store.repos.outbox.release([id], "w", clock.now())).toBe(1);
    expect(await store.repos.outbox.get(id)).toMatchObject({ state: "pending", attempts: 0, leaseOwner: undefined });
  });

  it("reports counts by state and target, the oldest due job's age, and retries in progress", async () => {
    await enqueue({ coalesceKey: null });
    await enqueue({ coalesceKey: null, target: "partner-center", kind: "pc-patch" });
    clock.advance(90_000);
    const stats = await store.repos.outbox.stats(clock.now());
    expect(stats).toEqual({ byState: { pending: { [TARGET]: 1, "partner-center": 1 } }, oldestDueAgeMs: 90_000, retrying: 0, deadByCode: {} });
  });

  it("a handler that throws fails its whole batch as retryable and marks the target unavailable", async () => {
    await enqueue({ coalesceKey: null });
    await enqueue({ coalesceKey: null });
    const w = worker(() => {
      throw new Error("socket hang up");
    });
    await w.runOnce(TARGET);
    const jobs = await store.repos.outbox.list();
    expect(jobs.map((j) => [j.state, j.lastErrorCode])).toEqual([
      ["pending", "OUTBOX_HANDLER_CRASHED"],
      ["pending", "OUTBOX_HANDLER_CRASHED"],
    ]);
    expect(w.counters).toMatchObject({ leased: 2, retried: 2 });
  });

  it("tells whether a lease would find anything: a due pending job, or a running one whose lease ran out", async () => {
    const has = () => store.reads.outbox.hasDue(TARGET, clock.now());
    expect(await has()).toBe(false);
    await enqueue({ coalesceKey: null, runAt: new Date(clock.now().getTime() + 60_000) });
    await enqueue({ coalesceKey: null, target: "crm:other" });
    // Not due yet, or another target's.
    expect(await has()).toBe(false);
    clock.advance(60_000);
    expect(await has()).toBe(true);
    const [leased] = await store.transaction((repos) => repos.outbox.lease({ owner: "w", target: TARGET, limit: 1, leaseMs: 30_000, now: clock.now() }));
    expect(leased).toBeDefined();
    // Running on a live lease: nothing to lease.
    expect(await has()).toBe(false);
    clock.advance(30_000);
    expect(await has()).toBe(true);
    expect(await store.reads.outbox.hasDue(TARGET, clock.now(), new Date(clock.now().getTime() - 1))).toBe(false);
  });

  /** A worker whose handler succeeds and records `commit` of its batch. */
  function committing(commit: NonNullable<BatchResult["commit"]>) {
    return worker(() => [], { handlers: { "crm-upsert": { handle: async (jobs) => ({ outcomes: jobs.map(() => ({ ok: true as const })), commit }) } } });
  }

  it("records what a batch commits in the transaction that settles its jobs", async () => {
    await enqueue({ coalesceKey: null });
    const seen: string[] = [];
    const w = committing(async (repos) => {
      await repos.cursors.save("batch", "recorded", { jobs: 1 }, clock.now());
      // The jobs are still running here: done lands with the record, in one transaction.
      seen.push(...(await repos.outbox.list()).map((j) => j.state));
    });
    expect(await w.runOnce(TARGET)).toBe(1);
    expect(seen).toEqual(["running"]);
    expect((await store.repos.cursors.get("batch", "recorded"))?.value).toEqual({ jobs: 1 });
    expect((await store.repos.outbox.list()).map((j) => j.state)).toEqual(["done"]);
  });

  it("a one-job-at-a-time batch records what each successful job commits, together, as it settles", async () => {
    for (const n of [1, 2, 3]) await enqueue({ coalesceKey: null, payload: { n } });
    const handler = perJob(async (job) => {
      const n = (job.payload as { n: number }).n;
      if (n === 2) throw new CosellError("PC_UNAVAILABLE", "down", { retryable: true });
      return { ok: true, commit: (repos) => repos.cursors.save("job", String(n), { n }, clock.now()) };
    });
    const w = worker(() => [], { handlers: { "crm-upsert": handler } });
    expect(await w.runOnce(TARGET)).toBe(3);
    expect((await store.repos.cursors.get("job", "1"))?.value).toEqual({ n: 1 });
    expect(await store.repos.cursors.get("job", "2")).toBeUndefined();
    expect((await store.repos.cursors.get("job", "3"))?.value).toEqual({ n: 3 });
    expect((await store.repos.outbox.list()).map((j) => j.state).sort()).toEqual(["done", "done", "pending"]);
  });

  it("a batch whose record fails to land retries its jobs, and nothing of the record is left", async () => {
    await enqueue({ coalesceKey: null });
    await enqueue({ coalesceKey: null });
    const w = committing(async (repos) => {
      await repos.cursors.save("batch", "recorded", { jobs: 2 }, clock.now());
      throw new Error("disk I/O error");
    });
    expect(await w.runOnce(TARGET)).toBe(2);
    expect(await store.repos.cursors.get("batch", "recorded")).toBeUndefined();
    const jobs = await store.repos.outbox.list();
    expect(jobs.map((j) => [j.state, j.lastErrorCode, j.attempts])).toEqual([
      ["pending", "OUTBOX_COMMIT_FAILED", 1],
      ["pending", "OUTBOX_COMMIT_FAILED", 1],
    ]);
    expect(w.counters).toMatchObject({ leased: 2, retried: 2, done: 0 });
  });
});
