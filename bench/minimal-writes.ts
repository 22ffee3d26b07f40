import { createReadStream, createWriteStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { once } from "node:events";
import PQueue from "p-queue";
import type { CrmConnector, UpsertRequest } from "../connectors/types.js";
import { Pacer } from "../src/queue/pacer.js";
import { systemClock } from "../src/shared/clock.js";
import type { Store } from "../src/store/index.js";
import type { CrmUpsertPayload } from "../src/sync/enqueue-crm-upsert.js";
import { CRM_UPSERT } from "../src/sync/enqueue-crm-upsert.js";

/** What a sandbox lets one client do: calls at once, and the rate it answers 429 past (if any). */
export interface Allowance {
  concurrency: number;
  requestsPerInterval?: number;
  intervalMs?: number;
}

export interface MinimalWrites {
  seconds: number;
  calls: number;
  /** Calls the sandbox refused for the rate and that went again. */
  throttled: number;
}

/** A record of a call as built: its key and fields, and the records of other objects it associates. */
interface BuiltRecord {
  key: string;
  fields: Record<string, unknown>;
  associate: Array<{ name: string; key: string }>;
}

/** A call as fast as the service allows: a throttled one waits what it was told and goes again. */
export async function allowed<T>(call: () => Promise<T>, onThrottle?: () => void): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const wait = (error as { retryAfterMs?: number; retryable?: boolean }).retryAfterMs;
      if (!(error as { retryable?: boolean }).retryable || wait === undefined) throw error;
      onThrottle?.();
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * The limit a backfill is measured against: the fewest write calls the CRM's batch sizes allow for
 * what the daemon wrote (each object's distinct records once, in full calls, objects in association
 * order, as `minimumCalls` counts them), sent straight through the same client with nothing in
 * between, `allowance.concurrency` at once and no faster than the sandbox's own rate.
 *
 * The calls are built first from the store into files under `dir` (not timed: the daemon's own
 * reading is what is being compared) and then sent, one object after another, since a HubSpot lead
 * needs the ids of its company and contact.
 */
export async function writeMinimal(connector: CrmConnector, store: Store, target: string, batchSize: number, allowance: Allowance, dir: string): Promise<MinimalWrites> {
  const plan = await buildCalls(store, target, batchSize, dir);
  const queue = new PQueue({ concurrency: allowance.concurrency });
  const pacer = allowance.requestsPerInterval ? new Pacer({ requestsPerInterval: allowance.requestsPerInterval, intervalMs: allowance.intervalMs ?? 1_000 }, systemClock) : undefined;
  // Ids of records other objects associate, by "name|key": only those are kept.
  const ids = new Map<string, { object: string; id: string }>();
  let calls = 0;
  let throttled = 0;
  let failure: unknown;
  const started = process.hrtime.bigint();
  for (const { name, object, externalIdField, file } of plan.objects) {
    const keep = plan.associated.has(name);
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of lines) {
      const built = JSON.parse(line) as BuiltRecord[];
      const request: UpsertRequest = {
        object,
        externalIdField,
        records: built.map((record) => ({ key: record.key, fields: record.fields, associations: record.associate.flatMap((other) => ids.get(`${other.name}|${other.key}`) ?? []) })),
      };
      await queue.onSizeLessThan(allowance.concurrency);
      void queue.add(async () => {
        try {
          const results = await allowed(async () => {
            if (pacer) for (let wait = pacer.waitMs(); wait > 0; wait = pacer.waitMs()) await new Promise((resolve) => setTimeout(resolve, wait));
            pacer?.take();
            calls += 1;
            return connector.upsert(request);
          }, () => (throttled += 1));
          if (keep) results.forEach((result) => result.outcome !== "failed" && ids.set(`${name}|${result.key}`, { object, id: result.id }));
        } catch (error) {
          failure ??= error;
        }
      });
    }
    // A later object associates this one's records: all of them are written first.
    await queue.onIdle();
    if (failure) throw failure;
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, calls: calls - throttled, throttled };
}

interface CallPlan {
  objects: Array<{ name: string; object: string; externalIdField: string; file: string }>;
  /** Names of the records other records associate. */
  associated: Set<string>;
}

/** Writes each object's distinct records, in calls of `batchSize`, one call per line of a file. */
async function buildCalls(store: Store, target: string, batchSize: number, dir: string): Promise<CallPlan> {
  const files = new Map<string, { object: string; externalIdField: string; file: string; out: ReturnType<typeof createWriteStream>; seen: Set<string>; pending: BuiltRecord[]; after: Set<string> }>();
  const associated = new Set<string>();
  const flush = async (entry: { out: ReturnType<typeof createWriteStream>; pending: BuiltRecord[] }) => {
    if (entry.pending.length === 0) return;
    if (!entry.out.write(`${JSON.stringify(entry.pending)}\n`)) await once(entry.out, "drain");
    entry.pending = [];
  };
  for (let afterId = 0; ; ) {
    const jobs = await store.repos.outbox.list({ state: "done", target, limit: 500, afterId });
    if (jobs.length === 0) break;
    afterId = jobs.at(-1)?.id ?? afterId;
    for (const job of jobs) {
      if (job.kind !== CRM_UPSERT) continue;
      const payload = job.payload as CrmUpsertPayload;
      const keyOf = new Map(payload.records.map((record) => [record.name, record.externalId]));
      for (const record of payload.records) {
        let entry = files.get(record.name);
        if (!entry) {
          const file = join(dir, `limit-${files.size}.jsonl`);
          entry = { object: record.object, externalIdField: record.externalIdField, file, out: createWriteStream(file), seen: new Set(), pending: [], after: new Set() };
          files.set(record.name, entry);
        }
        for (const other of record.associate) {
          associated.add(other);
          entry.after.add(other);
        }
        if (entry.seen.has(record.externalId)) continue;
        entry.seen.add(record.externalId);
        entry.pending.push({ key: record.externalId, fields: record.fields, associate: record.associate.flatMap((other) => (keyOf.has(other) ? [{ name: other, key: keyOf.get(other) as string }] : [])) });
        if (entry.pending.length >= batchSize) await flush(entry);
      }
    }
  }
  for (const entry of files.values()) {
    await flush(entry);
    entry.out.end();
    await once(entry.out, "finish");
  }
  // Association order: an object goes after every object its records associate.
  const ordered: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string) => {
    if (ordered.includes(name) || visiting.has(name)) return;
    visiting.add(name);
    for (const other of files.get(name)?.after ?? []) if (files.has(other)) visit(other);
    ordered.push(name);
  };
  for (const name of files.keys()) visit(name);
  return { objects: ordered.map((name) => ({ name, ...(files.get(name) as { object: string; externalIdField: string; file: string }) })), associated };
}
