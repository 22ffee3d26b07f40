import { afterEach, expect, it } from "vitest";
import type { DynamicsConnector } from "../../connectors/dynamics/connector.js";
import type { DataverseSandbox } from "../../connectors/dynamics/sandbox/server.js";
import { CrmError } from "../../connectors/types.js";
import { silentLogger } from "../../src/log/logger.js";
import type { JobHandler } from "../../src/queue/types.js";
import { OutboxWorker } from "../../src/queue/worker.js";
import { startDataverse } from "../helpers/dynamics.js";
import { useMigratedStore } from "../helpers/stores.js";

let sandbox: DataverseSandbox;
let connector: DynamicsConnector;
const store = useMigratedStore("sqlite");

afterEach(async () => {
  await sandbox?.close();
});

it("a run over the service protection limit slows down on 429 + Retry-After and completes", async () => {
  ({ sandbox, connector } = await startDataverse({ requestLimit: 6, windowMs: 1_000 }));
  const handler: JobHandler = {
    handle: async (jobs) => {
      try {
        const results = await connector.upsert({ object: "lead", externalIdField: "cosell_referralid", records: jobs.map((job) => ({ key: String((job.payload as { key: string }).key), fields: { subject: "S", companyname: "C" } })) });
        return { outcomes: results.map((r) => (r.outcome === "failed" ? { ok: false as const, error: r.error } : { ok: true as const })), rate: connector.rateInfo() };
      } catch (error) {
        if (!(error instanceof CrmError)) throw error;
        return { outcomes: jobs.map(() => ({ ok: false as const, error })), rate: connector.rateInfo() };
      }
    },
  };
  const now = new Date();
  await store().transaction(async (repos) => {
    for (let i = 0; i < 200; i += 1) await repos.outbox.enqueue({ target: "crm:dv", kind: "upsert", payload: { key: `k${i}` }, coalesceKey: null, maxAttempts: 50 }, now);
  });
  const worker = new OutboxWorker({
    store: store(),
    handlers: { upsert: handler },
    targets: { "crm:dv": { concurrency: 4, batchSize: 10, requestsPerInterval: 1_000, intervalMs: 1_000 } },
    logger: silentLogger(),
    pollMs: 10,
    backoff: { baseMs: 50, capMs: 500, deadlineMarginMs: 0 },
  });
  worker.start();
  const started = Date.now();
  while ((await store().repos.outbox.stats(new Date())).byState.done?.["crm:dv"] !== 200) {
    if (Date.now() - started > 60_000) throw new Error("did not finish");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await worker.stop(5_000);
  expect(sandbox.stats.throttled).toBeGreaterThan(0);
  expect(sandbox.rows).toHaveLength(200);
  expect((await store().repos.outbox.stats(new Date())).byState.dead).toBeUndefined();
}, 90_000);
