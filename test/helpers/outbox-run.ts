import type { CrmConnector } from "../../connectors/types.js";
import { CrmError } from "../../connectors/types.js";
import { silentLogger } from "../../src/log/logger.js";
import type { JobHandler } from "../../src/queue/types.js";
import { OutboxWorker } from "../../src/queue/worker.js";
import type { Store } from "../../src/store/index.js";

/**
 * Pushes `count` upserts through a real OutboxWorker to a connector, with the outbox paced far
 * faster than the CRM allows, and waits until every job is done. What rate-limit tests share.
 */
export async function upsertThroughOutbox(store: Store, connector: CrmConnector, options: { object: string; externalIdField: string; count: number; fields: Record<string, unknown> }): Promise<OutboxWorker> {
  const handler: JobHandler = {
    handle: async (jobs) => {
      try {
        const records = jobs.map((job) => ({ key: String((job.payload as { key: string }).key), fields: options.fields }));
        const results = await connector.upsert({ object: options.object, externalIdField: options.externalIdField, records });
        return { outcomes: results.map((r) => (r.outcome === "failed" ? { ok: false as const, error: r.error } : { ok: true as const })), rate: connector.rateInfo() };
      } catch (error) {
        if (!(error instanceof CrmError)) throw error;
        return { outcomes: jobs.map(() => ({ ok: false as const, error })), rate: connector.rateInfo() };
      }
    },
  };
  const now = new Date();
  await store.transaction(async (repos) => {
    for (let i = 0; i < options.count; i += 1) await repos.outbox.enqueue({ target: "crm:test", kind: "upsert", payload: { key: `k${i}` }, coalesceKey: null, maxAttempts: 50 }, now);
  });
  const worker = new OutboxWorker({
    store,
    handlers: { upsert: handler },
    targets: { "crm:test": { concurrency: 4, batchSize: 10, requestsPerInterval: 1_000, intervalMs: 1_000 } },
    logger: silentLogger(),
    pollMs: 10,
    backoff: { baseMs: 50, capMs: 500, deadlineMarginMs: 0 },
  });
  worker.start();
  const started = Date.now();
  while ((await store.repos.outbox.stats(new Date())).byState.done?.["crm:test"] !== options.count) {
    if (Date.now() - started > 60_000) throw new Error("the outbox did not finish within a minute");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await worker.stop(5_000);
  return worker;
}
