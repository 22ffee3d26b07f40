import type { Lead } from "../domain/index.js";
import { isTerminal } from "../domain/index.js";
import type { RoutingDecision } from "../routing/decide.js";
import { decideRouting } from "../routing/decide.js";
import type { RoutingConfig } from "../routing/schema.js";
import type { AdaptedReferral } from "../partner-center/adapter.js";
import type { CompiledMapping, MappedRecord } from "../mapping/index.js";
import { mappingSource } from "../mapping/index.js";
import { contentHash } from "../shared/content-hash.js";
import { groupBy } from "../shared/group-by.js";
import type { CrmLink, LeadInput, LeadRecord, NewJob, NewLeadEvent, Repositories, SaveOutcome } from "../store/index.js";

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
  /**
   * The owner routing chose, still to be looked up in the CRM when the record is written: the owner
   * fields (written on create, or on every write when the mapping says so), the candidates in order
   * and why. `readBackField` is where the inbound side reads the owner back.
   */
  owner?: OwnerPlan;
}

export interface OwnerPlan {
  fields: Array<{ name: string; field: string; onUpdate: boolean }>;
  candidates: RoutingDecision["candidates"];
  reason: string;
  readBackField?: string;
}

/** What a job carries of a mapped record: the rule descriptions stay with the mapping. */
export type QueuedRecord = Omit<MappedRecord, "produced">;

/** The outbox target of a CRM's writes. */
export function crmTarget(crm: string): string {
  return `crm:${crm}`;
}

export interface PairTarget {
  pair: string;
  crm: string;
  mapping: CompiledMapping;
  maxAttempts: number;
  /** Who owns the pair's leads in the CRM (pairs[].routing). */
  routing?: RoutingConfig;
}

/** A stored lead to map: what the store holds and what Partner Center sent. */
export interface StoredLead {
  /** `created`: stored by this very transaction, so no CRM link can name it yet. */
  saved: { lead: LeadRecord; outcome?: SaveOutcome };
  adapted: AdaptedReferral;
}

/**
 * After a lead is stored (or a seller's change refused): map it for the pair's CRM and, only when
 * the payload differs from what was last pushed, enqueue one upsert, in the caller's transaction. A
 * payload that did not change (a replay, an overlap re-read) enqueues nothing.
 */
export async function enqueueCrmUpsert(repos: Repositories, target: PairTarget, saved: { lead: LeadRecord }, adapted: AdaptedReferral, now: Date, cause?: string): Promise<boolean> {
  return (await enqueueCrmUpserts(repos, target, [{ saved, adapted }], now, cause === undefined ? {} : { cause })) > 0;
}

/**
 * `enqueueCrmUpsert` for a page of leads in a few statements (their links read at once, the jobs
 * and timeline entries written at once); returns how many upserts were queued. Given `timeline`,
 * the entries go there for the caller to write with its own.
 */
export async function enqueueCrmUpserts(repos: Repositories, target: PairTarget, stored: readonly StoredLead[], now: Date, options: { cause?: string; timeline?: NewLeadEvent[]; drafts?: UpsertDrafts } = {}): Promise<number> {
  const { cause, timeline } = options;
  if (stored.length === 0) return 0;
  const known = stored.filter(({ saved }) => saved.outcome !== "created").map(({ saved }) => saved.lead.id);
  const links = known.length > 0 ? await repos.crmLinks.forLeads(known) : [];
  const byLead = groupBy(links.filter((link) => link.pair === target.pair), (link) => link.leadId);
  const drafts = options.drafts?.for(target, now, cause);
  const newLeads = new Set<number>();
  const jobs: NewJob[] = [];
  const events: NewLeadEvent[] = [];
  for (const { saved, adapted } of stored) {
    const created = saved.outcome === "created";
    if (created) newLeads.add(saved.lead.id);
    const draft = created ? drafts?.get(adapted) : undefined;
    const planned = draft ? forLead(draft, saved.lead.id) : planUpsert(target, saved.lead, adapted, byLead.get(saved.lead.id) ?? [], now, cause);
    if (planned.job) jobs.push(planned.job);
    if (planned.event) events.push(planned.event);
  }
  if (jobs.length > 0) await repos.outbox.enqueueMany(jobs, now, { newLeads });
  if (timeline) timeline.push(...events);
  else if (events.length > 0) await repos.events.appendMany(events);
  return jobs.length;
}

type Planned = { job?: NewJob; event?: NewLeadEvent };

/** The lead id a draft was planned without (the store gives it when the lead is created). */
const DRAFT_LEAD_ID = 0;

/**
 * Upserts planned before the transaction that stores their leads, for the leads that turn out new:
 * a new lead has no link to read, and its id is the only thing of it the plan takes from the store.
 * Mapping and hashing a page then no longer hold SQLite's one writer. A lead the store already had
 * is planned in the transaction as before (its links decide).
 */
export class UpsertDrafts {
  readonly #plans = new Map<string, { target: PairTarget; now: number; cause: string | undefined; byReferral: WeakMap<AdaptedReferral, Planned> }>();

  /** Plans `leads` for `target` as new leads, at `now` (the time the transaction will store them at). */
  draft(target: PairTarget, leads: ReadonlyArray<{ input: LeadInput; adapted: AdaptedReferral }>, now: Date, cause?: string): void {
    const byReferral = new WeakMap<AdaptedReferral, Planned>();
    for (const { input, adapted } of leads) {
      const lead: LeadRecord = { ...input, id: DRAFT_LEAD_ID, createdAt: now, updatedAt: now };
      byReferral.set(adapted, planUpsert(target, lead, adapted, [], now, cause));
    }
    this.#plans.set(target.pair, { target, now: now.getTime(), cause, byReferral });
  }

  /** The drafts for this target, if they were made for it (the same mapping), at this time, for this cause. */
  for(target: PairTarget, now: Date, cause: string | undefined): WeakMap<AdaptedReferral, Planned> | undefined {
    const plans = this.#plans.get(target.pair);
    return plans && plans.target === target && plans.now === now.getTime() && plans.cause === cause ? plans.byReferral : undefined;
  }
}

function forLead(draft: Planned, leadId: number): Planned {
  return { ...(draft.job ? { job: { ...draft.job, leadId } } : {}), ...(draft.event ? { event: { ...draft.event, leadId } } : {}) };
}

function planUpsert(target: PairTarget, lead: LeadRecord, adapted: AdaptedReferral, ours: readonly CrmLink[], now: Date, cause?: string): Planned {
  const inbound = target.mapping.inboundTarget();
  const primaryName = inbound?.name ?? target.mapping.describeObjects()[0]?.name ?? "";
  const primary = ours.find((link) => link.crmObject === primaryName);
  const created = primary?.status === "confirmed";
  const view = withLocalClose(lead, adapted);
  const source = mappingSource(view.referral as Record<string, unknown>, view.lead, now, primary?.syncError ? { error: primary.syncError } : {});
  const crmNewer = sellerNewer(primary, lead);
  const result = target.mapping.outbound(source, { create: !created, ...(crmNewer ? { crmNewer } : {}) });
  if (result.problems.length > 0) {
    return { event: { leadId: lead.id, pair: target.pair, at: now, side: "daemon", kind: "mapping-refused", cause: result.problems.map((p) => p.message).join(" "), details: { problems: result.problems } } };
  }
  // Hashed over the create-time payload, so an update (which leaves out fields only set on create)
  // compares like with like against what was first pushed.
  const hash = payloadHash(created ? target.mapping.outbound(source, { create: true }).records : result.records);
  if (created && ours.every((link) => link.lastPushedHash === hash)) return {};
  const readBack = target.mapping.readBackFields();
  const owner = ownerPlan(target, view.lead, created, crmNewer);
  return {
    job: {
      pair: target.pair,
      target: crmTarget(target.crm),
      kind: CRM_UPSERT,
      leadId: lead.id,
      payload: {
        pair: target.pair,
        account: lead.account,
        referralId: lead.referralId,
        hash,
        records: result.records.map(({ produced: _produced, ...record }) => record),
        ...(inbound && readBack.length > 0 ? { readBack: { name: inbound.name, fields: readBack, ...(crmNewer && primary?.sellerFields ? { kept: keptValues(primary.sellerFields, crmNewer, readBack) } : {}) } } : {}),
        ...(owner ? { owner } : {}),
      } satisfies CrmUpsertPayload,
      ...(lead.acceptBy && lead.state === "new" ? { dueBy: lead.acceptBy } : lead.actBy ? { dueBy: lead.actBy } : {}),
      maxAttempts: target.maxAttempts,
    },
    event: { leadId: lead.id, pair: target.pair, at: now, side: "daemon", kind: "crm-upsert-queued", cause: cause ?? (created ? "lead changed in Partner Center" : "new lead"), details: { records: result.records.map((r) => `${r.object}:${r.externalId}`) } },
  };
}

/** Routing, when the pair has it and this write may set an owner (a create, or a mapping that re-routes). */
function ownerPlan(target: PairTarget, lead: Lead, created: boolean, crmNewer: ReadonlySet<string> | undefined): OwnerPlan | undefined {
  if (!target.routing) return undefined;
  const readBackField = target.mapping.inboundOwnerField();
  // A `latest` owner field is re-routed on updates unless a seller gave the record away since
  // Partner Center last changed the lead.
  const fields = target.mapping
    .routedOwnerFields()
    .map(({ owner, ...field }) => ({ ...field, onUpdate: field.onUpdate && !(owner === "latest" && readBackField !== undefined && crmNewer?.has(readBackField)) }));
  if (fields.length === 0 || (created && !fields.some((field) => field.onUpdate))) return undefined;
  const decision = decideRouting(target.routing, lead);
  return { fields, candidates: decision.candidates, reason: decision.reason, ...(readBackField ? { readBackField } : {}) };
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
