import type { AdaptedReferral } from "../partner-center/adapter.js";
import type { CompiledMapping, MappedRecord } from "../mapping/index.js";
import { mappingSource } from "../mapping/index.js";
import { contentHash } from "../shared/content-hash.js";
import type { Repositories, SavedLead } from "../store/index.js";

export const CRM_UPSERT = "crm-upsert";

export interface CrmUpsertPayload {
  pair: string;
  /** Hash of what the mapping produced, less the last-sync stamp; recorded on the links once written. */
  hash: string;
  records: QueuedRecord[];
}

/** What a job carries of a mapped record: the rule descriptions stay with the mapping. */
export type QueuedRecord = Omit<MappedRecord, "produced">;

export interface PairTarget {
  pair: string;
  crm: string;
  mapping: CompiledMapping;
  maxAttempts: number;
}

/**
 * After a lead is stored: map it for the pair's CRM and, only when the payload differs from what was
 * last pushed, enqueue one upsert, in the caller's transaction. A payload that did not change (a
 * replay, an overlap re-read) enqueues nothing.
 */
export async function enqueueCrmUpsert(repos: Repositories, target: PairTarget, saved: SavedLead, adapted: AdaptedReferral, now: Date): Promise<boolean> {
  const links = await repos.crmLinks.forLead(saved.lead.id);
  const ours = links.filter((link) => link.pair === target.pair);
  const primary = target.mapping.inboundObject ?? target.mapping.describeObjects()[0]?.name ?? "";
  const created = ours.some((link) => link.crmObject === primary && link.status === "confirmed");
  const source = mappingSource(adapted.referral as Record<string, unknown>, adapted.lead, now);
  const result = target.mapping.outbound(source, { create: !created });
  if (result.problems.length > 0) {
    await repos.events.append({ leadId: saved.lead.id, pair: target.pair, at: now, side: "daemon", kind: "mapping-refused", cause: result.problems.map((p) => p.message).join(" "), details: { problems: result.problems } });
    return false;
  }
  // Hashed over the create-time payload, so an update (which leaves out fields only set on create)
  // compares like with like against what was first pushed.
  const hash = payloadHash(created ? target.mapping.outbound(source, { create: true }).records : result.records);
  if (created && ours.every((link) => link.lastPushedHash === hash)) return false;
  await repos.outbox.enqueue(
    {
      pair: target.pair,
      target: `crm:${target.crm}`,
      kind: CRM_UPSERT,
      leadId: saved.lead.id,
      payload: { pair: target.pair, hash, records: result.records.map(({ produced: _produced, ...record }) => record) } satisfies CrmUpsertPayload,
      ...(saved.lead.acceptBy && saved.lead.state === "new" ? { dueBy: saved.lead.acceptBy } : saved.lead.actBy ? { dueBy: saved.lead.actBy } : {}),
      maxAttempts: target.maxAttempts,
    },
    now,
  );
  await repos.events.append({ leadId: saved.lead.id, pair: target.pair, at: now, side: "daemon", kind: "crm-upsert-queued", cause: created ? "lead changed in Partner Center" : "new lead", details: { records: result.records.map((r) => `${r.object}:${r.externalId}`) } });
  return true;
}

/** The last-sync stamp changes every pass; leaving it out keeps an unchanged lead from being re-pushed. */
function payloadHash(records: MappedRecord[]): string {
  return contentHash(
    records.map((record) => ({
      object: record.object,
      key: record.externalId,
      fields: Object.fromEntries(Object.entries(record.fields).filter(([field]) => !String(record.produced[field] ?? "").startsWith("sync.lastSyncAt"))),
    })),
  );
}
