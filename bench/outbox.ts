import type { Logger } from "../src/log/logger.js";
import { silentLogger } from "../src/log/logger.js";
import { OutboxWorker } from "../src/queue/worker.js";
import type { Store } from "../src/store/index.js";

export interface OutboxFigures {
  enqueuePerSecond: number;
  throughputPerSecond: number;
  plainInsertMicros: number;
  queuedJobMicros: number;
  extraMicrosPerJob: number;
}

const elapsed = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;

/**
 * `count` jobs through a real worker with a no-op handler: enqueue (100 per transaction, like a page
 * of leads), lease, run, settle. The baseline is a plain insert of one timeline row per job, in the
 * same transactions, so the difference is what the outbox adds per job.
 */
export async function benchOutbox(store: Store, count: number, log: Logger): Promise<OutboxFigures> {
  const seed = await store.repos.leads.save(
    { account: "bench", referralId: `outbox-${Date.now()}`, program: "JointPlanning", name: "bench", state: "new", status: "New", substatus: "Received", eTag: "e", remoteCreatedAt: new Date(), remoteUpdatedAt: new Date(), contentHash: "h", raw: {} },
    new Date(),
  );
  let started = process.hrtime.bigint();
  for (let offset = 0; offset < count; offset += 100) {
    await store.transaction(async (repos) => {
      for (let i = offset; i < Math.min(count, offset + 100); i += 1) await repos.events.append({ leadId: seed.lead.id, at: new Date(), side: "daemon", kind: "bench", details: { i } });
    });
  }
  const plainSeconds = elapsed(started);

  started = process.hrtime.bigint();
  for (let offset = 0; offset < count; offset += 100) {
    await store.transaction(async (repos) => {
      for (let i = offset; i < Math.min(count, offset + 100); i += 1) {
        await repos.outbox.enqueue({ target: "bench:noop", kind: "noop", payload: { i }, coalesceKey: null, maxAttempts: 3 }, new Date());
      }
    });
  }
  const enqueueSeconds = elapsed(started);

  let done = 0;
  let finish: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (finish = resolve));
  const worker = new OutboxWorker({
    store,
    handlers: {
      noop: {
        handle: async (jobs) => {
          done += jobs.length;
          if (done % 5_000 < jobs.length) log.info({ done, of: count }, "outbox bench progress");
          if (done >= count) finish();
          return { outcomes: jobs.map(() => ({ ok: true as const })) };
        },
      },
    },
    targets: { "bench:noop": { concurrency: 1, batchSize: 100, requestsPerInterval: 1_000_000, intervalMs: 1_000 } },
    logger: silentLogger(),
    pollMs: 5,
  });
  started = process.hrtime.bigint();
  worker.start();
  await allDone;
  await worker.stop(10_000);
  const runSeconds = elapsed(started);
  const plainInsertMicros = (plainSeconds / count) * 1e6;
  const queuedJobMicros = ((enqueueSeconds + runSeconds) / count) * 1e6;
  return {
    enqueuePerSecond: count / enqueueSeconds,
    throughputPerSecond: count / runSeconds,
    plainInsertMicros,
    queuedJobMicros,
    extraMicrosPerJob: queuedJobMicros - plainInsertMicros,
  };
}
