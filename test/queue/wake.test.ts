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
  const leases = vi.spyOn(OutboxRepository.prototype, "lease");

  beforeEach(async () => {
    database = await createTestDatabase(kind);
    store = await openMigratedStore(database);
    handled.length = 0;
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

  const leasedTargets = () => leases.mock.calls.map(([request]) => request.target);
  const leasesDone = async () => {
    await Promise.allSettled(leases.mock.results.map((result) => result.value));
  };

  it("a wake naming targets sends only those to lease; a wake naming none sends all", async () => {
    worker.start();
    // Each target looks once as it starts, then waits for a wake.
    await until("the first looks", async () => (new Set(leasedTargets()).size === 2 ? true : undefined), 10_000);
    await leasesDone();
    leases.mockClear();

    await store.transaction((repos) => repos.outbox.enqueueMany([{ target: CRM, kind: "work", payload: {}, coalesceKey: null, maxAttempts: 3 }], clock.now()));
    worker.wake({ targets: [CRM] });
    await until("the CRM job", async () => (handled.length === 1 ? true : undefined), 10_000);
    await leasesDone();
    // Partner Center had nothing new and was not asked to look: no empty write transaction for it.
    expect(new Set(leasedTargets())).toEqual(new Set([CRM]));

    leases.mockClear();
    worker.wake();
    await until("both targets look", async () => (new Set(leasedTargets()).size === 2 ? true : undefined), 10_000);
    expect(handled).toEqual([CRM]);
  });
});
