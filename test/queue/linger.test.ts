import { afterEach, beforeEach, expect, it } from "vitest";
import { silentLogger } from "../../src/log/logger.js";
import { OutboxWorker } from "../../src/queue/worker.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { Store } from "../../src/store/index.js";
import { until } from "../helpers/fleet.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase, describeEachStore, openMigratedStore } from "../helpers/stores.js";

const TARGET = "crm:acme";

describeEachStore("outbox linger", (kind) => {
  let database: TestDatabase;
  let store: Store;
  let worker: OutboxWorker;
  /** The worker's monotonic time: frozen unless a test moves it. */
  let t = 0;
  const batches: number[] = [];
  const clock = new ManualClock("2026-06-01T12:00:00Z");

  beforeEach(async () => {
    database = await createTestDatabase(kind);
    store = await openMigratedStore(database);
    t = 0;
    batches.length = 0;
    worker = new OutboxWorker({
      store,
      handlers: { "crm-upsert": { handle: async (jobs) => (batches.push(jobs.length), { outcomes: jobs.map(() => ({ ok: true as const })) }) } },
      targets: { [TARGET]: { concurrency: 1, batchSize: 5, requestsPerInterval: 1000, intervalMs: 1000, lingerMs: 2_000 } },
      logger: silentLogger(),
      clock,
      monotonic: () => t,
      // Only a wake makes it look, so a page is never leased between its commit and its wake.
      pollMs: 60_000,
    });
  });

  afterEach(async () => {
    await worker.stop(1_000);
    await store.close();
    await database.drop();
  });

  /** Queues `n` jobs and wakes the worker, as a pull's page does. */
  async function page(n: number, dueBy?: Date): Promise<void> {
    await store.transaction((repos) => repos.outbox.enqueueMany(Array.from({ length: n }, () => ({ target: TARGET, kind: "crm-upsert", payload: {}, coalesceKey: null, maxAttempts: 3, ...(dueBy ? { dueBy } : {}) })), clock.now()));
    worker.wake();
  }

  const batchesSeen = (n: number) => until(`${n} batches`, async () => (batches.length >= n ? [...batches] : undefined), 10_000);

  // The first page is queued before the worker starts, so its first look already sees it.
  it("holds a partial batch while pages keep coming and sends it once full", async () => {
    await page(2);
    worker.start();
    await page(1);
    await page(2);
    expect(await batchesSeen(1)).toEqual([5]);
  });

  it("sends a partial batch after a quiet spell with no new jobs", async () => {
    await page(2);
    worker.start();
    t = 300;
    expect(await batchesSeen(1)).toEqual([2]);
  });

  it("holds a partial batch through a pause between pages while the pull says more are coming, and sends it when the last is in", async () => {
    await store.transaction((repos) => repos.outbox.enqueueMany([1, 2].map(() => ({ target: TARGET, kind: "crm-upsert", payload: {}, coalesceKey: null, maxAttempts: 3 })), clock.now()));
    worker.wake({ more: true });
    worker.start();
    // 600 ms without a page, past the quarter-second quiet spell: without the pull's word the batch
    // would go when the worker looks again (at most 250 ms of real time later).
    t = 600;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(batches).toEqual([]);
    // The last page brought nothing new: after the quiet spell the partial batch goes.
    worker.wake({ more: false });
    t = 900;
    expect(await batchesSeen(1)).toEqual([2]);
  });

  it("never holds a batch longer than its linger, even while pages keep coming", async () => {
    await page(1);
    worker.start();
    for (const at of [200, 400, 1_000, 1_900]) {
      t = at;
      await page(at === 1_900 ? 1 : 0);
    }
    t = 2_100;
    worker.wake();
    // Both jobs in one batch: the first was still held at 1.9 s, and went at 2 s though pages kept coming.
    expect(await batchesSeen(1)).toEqual([2]);
  });

  it("never holds a job whose deadline is within the urgent window", async () => {
    await page(1, new Date(clock.now().getTime() + 60 * 60_000));
    worker.start();
    expect(await batchesSeen(1)).toEqual([1]);
  });

  it("lets a batch wait for the pull's next page to fill a call: only while the pull says more are coming, within its linger, never for an urgent batch", async () => {
    const answers: boolean[] = [];
    /** What each batch does with `awaitMore`: the worker's answers in order. */
    let script: (awaitMore: () => Promise<boolean>) => Promise<void> = async () => undefined;
    const held = new OutboxWorker({
      store,
      handlers: { "crm-upsert": { handle: async (jobs, context) => (await script(context.awaitMore as () => Promise<boolean>), { outcomes: jobs.map(() => ({ ok: true as const })) }) } },
      targets: { [TARGET]: { concurrency: 1, batchSize: 5, requestsPerInterval: 1000, intervalMs: 1000, lingerMs: 2_000 } },
      logger: silentLogger(),
      clock,
      monotonic: () => t,
      pollMs: 60_000,
    });
    const ask = async (awaitMore: () => Promise<boolean>) => void answers.push(await awaitMore());
    // Nobody said more is coming: no wait.
    await page(1);
    script = ask;
    await held.runOnce(TARGET);
    // The pull has pages left: the wait ends at its next page; once the linger is spent, no more.
    held.wake({ more: true });
    await page(1);
    script = async (awaitMore) => {
      const next = awaitMore();
      await page(1);
      held.wake({ more: true });
      answers.push(await next);
      t += 2_001;
      await ask(awaitMore);
      t = 0;
    };
    await held.runOnce(TARGET);
    // A job due within the urgent window: the batch goes as it is.
    await store.repos.outbox.enqueue({ target: TARGET, kind: "crm-upsert", payload: {}, coalesceKey: null, maxAttempts: 3, dueBy: new Date(clock.now().getTime() + 60_000) }, clock.now());
    held.wake({ more: true });
    script = ask;
    await held.runOnce(TARGET);
    // The pull's last page: nothing more to wait for.
    held.wake({ more: false });
    await page(1);
    await held.runOnce(TARGET);
    expect(answers).toEqual([false, true, false, false, false]);
    await held.stop(1_000);
  });
});
