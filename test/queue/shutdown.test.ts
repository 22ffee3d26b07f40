import { beforeEach, expect, it } from "vitest";
import { silentLogger } from "../../src/log/logger.js";
import type { JobHandler } from "../../src/queue/types.js";
import { OutboxWorker } from "../../src/queue/worker.js";
import type { OutboxJob, Store } from "../../src/store/index.js";
import { describeEachStore, useMigratedStore } from "../helpers/stores.js";

describeEachStore("outbox shutdown", (kind) => {
  const current = useMigratedStore(kind);
  let store: Store;
  beforeEach(() => {
    store = current();
  });

  function startWorker(handler: JobHandler) {
    const worker = new OutboxWorker({
      store,
      handlers: { work: handler },
      targets: { "test:t": { concurrency: 2, batchSize: 1, requestsPerInterval: 1000, intervalMs: 1000 } },
      logger: silentLogger(),
      pollMs: 10,
      leaseMs: 60_000,
    });
    worker.start();
    return worker;
  }

  async function enqueue(payload: string): Promise<number> {
    return (await store.transaction((repos) => repos.outbox.enqueue({ target: "test:t", kind: "work", payload, coalesceKey: null, maxAttempts: 5 }, new Date()))).id;
  }

  it("stops leasing, lets a running job finish within the grace period, and hands back one that does not", async () => {
    let finishQuick: () => void = () => undefined;
    let bothStarted: () => void = () => undefined;
    const bothRunning = new Promise<void>((resolve) => (bothStarted = resolve));
    const started: string[] = [];
    const aborted: string[] = [];
    const worker = startWorker({
      handle: async (jobs: OutboxJob[], { signal }) => {
        const payload = String(jobs[0]?.payload);
        // The stuck one gives up when aborted, as a fetch does: with the abort's reason.
        const finished =
          payload === "quick"
            ? new Promise<void>((done) => (finishQuick = done))
            : new Promise<void>((_, fail) =>
                signal.addEventListener("abort", () => {
                  aborted.push(payload);
                  fail(signal.reason);
                }),
              );
        started.push(payload);
        if (started.length === 2) bothStarted();
        await finished;
        return { outcomes: [{ ok: true }] };
      },
    });
    const quick = await enqueue("quick");
    const stuck = await enqueue("stuck");
    await bothRunning;
    // Long enough for the quick job to settle on a loaded machine; the stuck one is aborted at its end.
    const stopping = worker.stop(2_000);
    finishQuick();
    await stopping;
    await enqueue("after-stop");
    expect(started.sort()).toEqual(["quick", "stuck"]);
    expect(aborted).toEqual(["stuck"]);
    expect((await store.repos.outbox.get(quick))?.state).toBe("done");
    // Handed back untried: due again, the attempt not counted, for the next worker to take.
    expect(await store.repos.outbox.get(stuck)).toMatchObject({ state: "pending", attempts: 0, leaseOwner: undefined });
    expect((await store.repos.outbox.list({ state: "pending" })).map((j) => j.payload)).toEqual(["stuck", "after-stop"]);
  });
});
