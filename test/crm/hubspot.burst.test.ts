import { afterEach, expect, it } from "vitest";
import type { HubSpotConnector } from "../../connectors/hubspot/connector.js";
import type { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { CrmError } from "../../connectors/types.js";
import { silentLogger } from "../../src/log/logger.js";
import type { JobHandler } from "../../src/queue/types.js";
import { OutboxWorker } from "../../src/queue/worker.js";
import { startHubSpot } from "../helpers/hubspot.js";
import { useMigratedStore } from "../helpers/stores.js";

let sandbox: HubSpotSandbox;
let connector: HubSpotConnector;
const store = useMigratedStore("sqlite");

afterEach(async () => {
  await sandbox?.close();
});

it("a burst over the rate limit slows down on 429s and finishes with nothing lost", async () => {
  // HubSpot allows 20 requests a second here; the outbox is configured far faster, as if misconfigured.
  ({ sandbox, connector } = await startHubSpot({ rateLimit: 20, rateWindowMs: 1_000 }));
  const handler: JobHandler = {
    handle: async (jobs) => {
      try {
        const records = jobs.map((job) => ({ key: String((job.payload as { key: string }).key), fields: { name: `Customer ${String((job.payload as { key: string }).key)}` } }));
        const results = await connector.upsert({ object: "companies", externalIdField: "cosell_customer_key", records });
        return { outcomes: results.map((r) => (r.outcome === "failed" ? { ok: false as const, error: r.error } : { ok: true as const })), rate: connector.rateInfo() };
      } catch (error) {
        if (!(error instanceof CrmError)) throw error;
        return { outcomes: jobs.map(() => ({ ok: false as const, error })), rate: connector.rateInfo() };
      }
    },
  };
  const now = new Date();
  await store().transaction(async (repos) => {
    for (let i = 0; i < 600; i += 1) await repos.outbox.enqueue({ target: "crm:hs", kind: "upsert", payload: { key: `k${i}` }, coalesceKey: null, maxAttempts: 50 }, now);
  });
  const worker = new OutboxWorker({
    store: store(),
    handlers: { upsert: handler },
    targets: { "crm:hs": { concurrency: 4, batchSize: 10, requestsPerInterval: 1_000, intervalMs: 1_000 } },
    logger: silentLogger(),
    pollMs: 10,
    backoff: { baseMs: 50, capMs: 500, deadlineMarginMs: 0 },
  });
  worker.start();
  const started = Date.now();
  while ((await store().repos.outbox.stats(new Date())).byState.done?.["crm:hs"] !== 600) {
    if (Date.now() - started > 60_000) throw new Error("did not finish");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await worker.stop(5_000);
  expect(sandbox.stats.throttled).toBeGreaterThan(0);
  expect(sandbox.count("companies")).toBe(600);
  const stats = await store().repos.outbox.stats(new Date());
  expect(stats.byState.dead).toBeUndefined();
  expect(worker.counters.retried).toBeGreaterThan(0);
}, 90_000);
