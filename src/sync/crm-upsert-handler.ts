import type { CrmConnector, UpsertResult } from "../../connectors/types.js";
import type { BatchResult, JobHandler, JobOutcome } from "../queue/types.js";
import type { Clock } from "../shared/clock.js";
import type { OutboxJob, Store } from "../store/index.js";
import type { CrmUpsertPayload, QueuedRecord } from "./enqueue-crm-upsert.js";

/**
 * Runs CRM upsert jobs in batches: each object of the mapping in turn (an object that associates
 * others after them, as a HubSpot lead after its company and contact), known CRM ids passed along,
 * and every written record's link confirmed with the hash of what was pushed.
 */
export function crmUpsertHandler(options: { connector: CrmConnector; store: Store; clock: Clock }): JobHandler {
  return {
    async handle(jobs: OutboxJob[]): Promise<BatchResult> {
      const payloads = jobs.map((job) => job.payload as CrmUpsertPayload);
      const failures = new Map<number, unknown>();
      const written = new Map<number, Map<string, { record: QueuedRecord; id: string }>>();
      // A job queued while an identical one ran (an overlap re-read during a slow push) finds its
      // payload already written: it succeeds without touching the CRM.
      const current = new Set<number>();
      for (const [index, job] of jobs.entries()) {
        const payload = payloads[index];
        if (job.leadId === undefined || !payload) continue;
        const links = (await options.store.repos.crmLinks.forLead(job.leadId)).filter((link) => link.pair === payload.pair);
        if (payload.records.every((record) => links.some((link) => link.crmObject === record.name && link.status === "confirmed" && link.lastPushedHash === payload.hash))) current.add(job.id);
      }
      const names = orderedObjects(payloads.flatMap((p) => p.records));
      for (const name of names) {
        const entries = jobs.flatMap((job, index) => {
          const record = payloads[index]?.records.find((r) => r.name === name);
          return record && !failures.has(job.id) && !current.has(job.id) ? [{ job, record }] : [];
        });
        if (entries.length === 0) continue;
        const links = new Map<number, string | undefined>();
        for (const { job, record } of entries) {
          const link = job.leadId === undefined ? undefined : await options.store.repos.crmLinks.find(job.leadId, payloads[jobs.indexOf(job)]?.pair ?? "", record.name);
          links.set(job.id, link?.status === "confirmed" ? link.crmRecordId : undefined);
        }
        const first = entries[0]?.record as QueuedRecord;
        let results: UpsertResult[];
        try {
          results = await options.connector.upsert({
            object: first.object,
            externalIdField: first.externalIdField,
            records: entries.map(({ job, record }) => ({
              key: record.externalId,
              fields: record.fields,
              ...(links.get(job.id) ? { id: links.get(job.id) as string } : {}),
              associations: record.associate.flatMap((other) => {
                const done = written.get(job.id)?.get(other);
                return done ? [{ object: done.record.object, id: done.id }] : [];
              }),
            })),
          });
        } catch (error) {
          // The whole call failed (limits, network, auth): every job of the batch retries, and the
          // worker's classifier reads the CrmError for how long to wait. Records an earlier object
          // wrote are written again by key on the retry, so nothing duplicates.
          return { outcomes: jobs.map((job) => ({ ok: false, error: failures.get(job.id) ?? error })), rate: options.connector.rateInfo() };
        }
        entries.forEach(({ job, record }, index) => {
          const result = results[index];
          if (!result || result.outcome === "failed") failures.set(job.id, result?.outcome === "failed" ? result.error : new Error("no result"));
          else {
            const map = written.get(job.id) ?? new Map();
            map.set(name, { record, id: result.id });
            written.set(job.id, map);
          }
        });
      }
      const now = options.clock.now();
      await options.store.transaction(async (repos) => {
        for (const [index, job] of jobs.entries()) {
          if (failures.has(job.id) || current.has(job.id) || job.leadId === undefined) continue;
          const payload = payloads[index] as CrmUpsertPayload;
          for (const [name, { id }] of written.get(job.id) ?? new Map<string, { id: string }>()) {
            const link = await repos.crmLinks.reserve(job.leadId, payload.pair, name, now);
            await repos.crmLinks.confirmPush(link.id, id, payload.hash, now);
          }
          await repos.events.append({ leadId: job.leadId, pair: payload.pair, at: now, side: "crm", kind: "crm-upserted", cause: `${payload.records.map((r) => r.object).join(" + ")} written`, details: { ids: Object.fromEntries([...(written.get(job.id) ?? new Map<string, { id: string }>())].map(([k, v]) => [k, v.id])) } });
        }
      });
      const outcomes: JobOutcome[] = jobs.map((job) => (failures.has(job.id) ? { ok: false, error: failures.get(job.id) } : { ok: true }));
      return { outcomes, rate: options.connector.rateInfo() };
    },
  };
}

/** Objects others associate with come first (a HubSpot lead after its company and contact). */
function orderedObjects(records: QueuedRecord[]): string[] {
  const needs = new Map<string, string[]>();
  for (const record of records) needs.set(record.name, [...new Set([...(needs.get(record.name) ?? []), ...record.associate])]);
  const ordered: string[] = [];
  const visit = (name: string, path: Set<string>) => {
    if (ordered.includes(name) || path.has(name)) return;
    path.add(name);
    for (const other of needs.get(name) ?? []) if (needs.has(other)) visit(other, path);
    ordered.push(name);
  };
  for (const name of needs.keys()) visit(name, new Set());
  return ordered;
}
