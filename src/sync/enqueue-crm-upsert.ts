import { isTerminal } from "../domain/index.js";
import type { AdaptedReferral } from "../partner-center/adapter.js";
import type { CompiledMapping, MappedRecord } from "../mapping/index.js";
import { mappingSource } from "../mapping/index.js";
import { contentHash } from "../shared/content-hash.js";
import type { CrmLink, LeadRecord, Repositories } from "../store/index.js";

export const CRM_UPSERT = "crm-upsert";

export interface CrmUpsertPayload {
  pair: string;
  account: string;
  referralId: string;
  /** Hash of what the mapping produced, less the last-sync stamp; recorded on the links once written. */
  hash: string;
  records: QueuedRecord[];
  /**
   * The object sellers work in and the lifecycle fields read back from it (remembered as pushed, for
   * echo checks), with the seller's values this write leaves standing (they are what the record
   * shows after it, so reading them back is not a new edit).
   */
  readBack?: { name: string; fields: string[]; kept?: Record<string, unknown> };
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
 * After a lead is stored (or a seller's change refused): map it for the pair's CRM and, only when
 * the payload differs from what was last pushed, enqueue one upsert, in the caller's transaction. A
 * payload that did not change (a replay, an overlap re-read) enqueues nothing.
 */
export async function enqueueCrmUpsert(repos: Repositories, target: PairTarget, saved: { lead: LeadRecord }, adapted: AdaptedReferral, now: Date, cause?: string): Promise<boolean> {
  const links = await repos.crmLinks.forLead(saved.lead.id);
  const ours = links.filter((link) => link.pair === target.pair);
  const inbound = target.mapping.inboundTarget();
  const primaryName = inbound?.name ?? target.mapping.describeObjects()[0]?.name ?? "";
  const primary = ours.find((link) => link.crmObject === primaryName);
  const created = primary?.status === "confirmed";
  const view = withLocalClose(saved.lead, adapted);
  const source = mappingSource(view.referral as Record<string, unknown>, view.lead, now, primary?.syncError ? { error: primary.syncError } : {});
  const crmNewer = sellerNewer(primary, saved.lead);
  const result = target.mapping.outbound(source, { create: !created, ...(crmNewer ? { crmNewer } : {}) });
  if (result.problems.length > 0) {
    await repos.events.append({ leadId: saved.lead.id, pair: target.pair, at: now, side: "daemon", kind: "mapping-refused", cause: result.problems.map((p) => p.message).join(" "), details: { problems: result.problems } });
    return false;
  }
  // Hashed over the create-time payload, so an update (which leaves out fields only set on create)
  // compares like with like against what was first pushed.
  const hash = payloadHash(created ? target.mapping.outbound(source, { create: true }).records : result.records);
  if (created && ours.every((link) => link.lastPushedHash === hash)) return false;
  const readBack = target.mapping.readBackFields();
  await repos.outbox.enqueue(
    {
      pair: target.pair,
      target: `crm:${target.crm}`,
      kind: CRM_UPSERT,
      leadId: saved.lead.id,
      payload: {
        pair: target.pair,
        account: saved.lead.account,
        referralId: saved.lead.referralId,
        hash,
        records: result.records.map(({ produced: _produced, ...record }) => record),
        ...(inbound && readBack.length > 0 ? { readBack: { name: inbound.name, fields: readBack, ...(crmNewer && primary?.sellerFields ? { kept: keptValues(primary.sellerFields, crmNewer, readBack) } : {}) } } : {}),
      } satisfies CrmUpsertPayload,
      ...(saved.lead.acceptBy && saved.lead.state === "new" ? { dueBy: saved.lead.acceptBy } : saved.lead.actBy ? { dueBy: saved.lead.actBy } : {}),
      maxAttempts: target.maxAttempts,
    },
    now,
  );
  await repos.events.append({ leadId: saved.lead.id, pair: target.pair, at: now, side: "daemon", kind: "crm-upsert-queued", cause: cause ?? (created ? "lead changed in Partner Center" : "new lead"), details: { records: result.records.map((r) => `${r.object}:${r.externalId}`) } });
  return true;
}

/**
 * The lead as the CRM should show it: a lead the daemon closed at its deadline shows that close
 * (expired, or lost "closed by the 60-day rule") until Partner Center closes it too.
 */
export function withLocalClose(lead: LeadRecord, adapted: AdaptedReferral): AdaptedReferral {
  if (!lead.closedLocallyAt || isTerminal(adapted.lead.state)) return adapted;
  return {
    ...adapted,
    lead: { ...adapted.lead, state: lead.state, closedAt: lead.closedLocallyAt, ...(lead.localCloseReason ? { closeReason: lead.localCloseReason } : {}) },
  };
}

/**
 * `latest`-owned fields the seller changed after Partner Center last changed the lead: the seller's
 * value stands (a refused change stays visible next to its reason) until Partner Center moves again.
 */
export function sellerNewer(link: CrmLink | undefined, lead: LeadRecord): Set<string> | undefined {
  if (!link?.sellerFields || !link.sellerChangedAt || link.sellerChangedAt <= lead.remoteUpdatedAt) return undefined;
  const fields = Object.keys(link.sellerFields);
  return fields.length > 0 ? new Set(fields) : undefined;
}

function keptValues(sellerFields: Record<string, unknown>, kept: ReadonlySet<string>, readBack: string[]): Record<string, unknown> {
  return Object.fromEntries(readBack.filter((field) => kept.has(field) && field in sellerFields).map((field) => [field, sellerFields[field]]));
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
