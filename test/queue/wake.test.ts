import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/log/logger.js";
import { OutboxWorker } from "../../src/queue/worker.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { Store } from "../../src/store/index.js";
import { OutboxRepository } from "../../src/store/repositories/outbox-repository.js";
import { until } from "../helpers/fleet.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase, describeEachStore, openMigratedStore } from "../helpers/stores.js";

const CRM = "crm:acme";
const PC = "partner-center";

describeEachStore("outbox wake", (kind) => {
  let database: TestDatabase;
  let store: Store;
  let worker: OutboxWorker;
  const handled: string[] = [];
  const clock = new ManualClock("2026-06-01T12:00:00Z");
  const looks = vi.spyOn(OutboxRepository.prototype, "hasDue");
  const leases = vi.spyOn(OutboxRepository.prototype, "lease");

  beforeEach(async () => {
    database = await createTestDatabase(kind);
    store = await openMigratedStore(database);
    handled.length = 0;
    looks.mockClear();
    leases.mockClear();
    const settings = { concurrency: 1, batchSize: 10, requestsPerInterval: 1000, intervalMs: 1000 };
    worker = new OutboxWorker({
      store,
      handlers: { work: { handle: async (jobs) => (handled.push(...jobs.map((job) => job.target)), { outcomes: jobs.map(() => ({ ok: true as const })) }) } },
      targets: { [CRM]: settings, [PC]: settings },
      logger: silentLogger(),
      clock,
      // Only a wake makes a target look again.
      pollMs: 60_000,
    });
  });

  afterEach(async () => {
    await worker.stop(1_000);
    await store.close();
    await database.drop();
  });

  const lookedAt = () => looks.mock.calls.map(([target]) => target);
  const leasedTargets = () => leases.mock.calls.map(([request]) => request.target);
  const settled = async () => {
    await Promise.allSettled([...looks.mock.results, ...leases.mock.results].map((result) => result.value));
  };

  it("a wake naming targets sends only those to look; a wake naming none sends all; looking at an empty queue leases nothing", async () => {
    worker.start();
    // Each target looks once as it starts, then waits for a wake.
    await until("the first looks", async () => (new Set(lookedAt()).size === 2 ? true : undefined), 10_000);
    await settled();
    // Both queues were empty: neither opened a write transaction to lease nothing.
    expect(leasedTargets()).toEqual([]);
    looks.mockClear();

    await store.transaction((repos) => repos.outbox.enqueueMany([{ target: CRM, kind: "work", payload: {}, coalesceKey: null, maxAttempts: 3 }], clock.now()));
    worker.wake({ targets: [CRM] });
    await until("the CRM job", async () => (handled.length === 1 ? true : undefined), 10_000);
    await settled();
    // Partner Center had nothing new and was not asked to look.
    expect(new Set(lookedAt())).toEqual(new Set([CRM]));
    expect(new Set(leasedTargets())).toEqual(new Set([CRM]));

    looks.mockClear();
    worker.wake();
    await until("both targets look", async () => (new Set(lookedAt()).size === 2 ? true : undefined), 10_000);
    expect(handled).toEqual([CRM]);
  });
});
