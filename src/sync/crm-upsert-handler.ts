import type { CrmConnector, UpsertResult } from "../../connectors/types.js";
import type { Logger } from "../log/logger.js";
import type { OwnerDirectory, RoutedOwner } from "../routing/owner-directory.js";
import type { BatchResult, HandlerContext, JobHandler, JobOutcome } from "../queue/types.js";
import { CosellError } from "../shared/errors.js";
import { groupBy } from "../shared/group-by.js";
import type { Clock } from "../shared/clock.js";
import type { CrmLink, NewJob, NewLeadEvent, OutboxJob, PushConfirmation, Repositories, Store } from "../store/index.js";
import type { CrmUpsertPayload, QueuedRecord } from "./enqueue-crm-upsert.js";
import { externalReferenceJob } from "./external-reference.js";
import type { AheadRecord, SharedLookahead } from "./shared-lookahead.js";
import type { SharedRecordCache, WriteOutcome } from "./shared-record-cache.js";
import { fieldsHash } from "./shared-record-cache.js";

/**
 * Runs CRM upsert jobs in batches: each object of the mapping in turn (an object that associates
 * others after them, as a HubSpot lead after its company and contact), known CRM ids passed along,
 * and every written record's link confirmed with the hash of what was pushed.
 */
export interface CrmUpsertOptions {
  connector: CrmConnector;
  store: Store;
  clock: Clock;
  /** The owner directory of a pair with routing (the CRM's users and teams, cached). */
  owners?: (pair: string) => OwnerDirectory | undefined;
  /** Shared records (a company, a contact) this process wrote: unchanged ones are not written again. */
  shared?: SharedRecordCache;
  /** Shared records of the leads queued next, to fill a call that would go part-full. */
  lookahead?: SharedLookahead;
  logger?: Logger;
}

export function crmUpsertHandler(options: CrmUpsertOptions): JobHandler {
  // A routing problem is logged once per message, not once per lead of a backfill.
  const warned = new Set<string>();
  return {
    async handle(jobs: OutboxJob[], context?: HandlerContext): Promise<BatchResult> {
      // The worker paces each call the connector makes (HubSpot writes a lead in up to five).
      return upsertBatch(options, jobs, warned, context?.awaitMore);
    },
  };
}

async function upsertBatch(options: CrmUpsertOptions, jobs: OutboxJob[], warned: Set<string>, awaitMore?: () => Promise<boolean>): Promise<BatchResult> {
  // One read of the batch's links serves the "already written" check, the known ids, and the
  // links the confirmations update.
  const byLead = groupBy(await options.store.reads.crmLinks.forLeads(jobs.flatMap((job) => (job.leadId === undefined ? [] : [job.leadId]))), (link) => link.leadId);
  const work: Work[] = [];
  for (const job of jobs) {
    const payload = job.payload as CrmUpsertPayload;
    const links = (job.leadId === undefined ? [] : (byLead.get(job.leadId) ?? [])).filter((link) => link.pair === payload.pair);
    work.push({ job, payload, links: new Map(links.map((link) => [link.crmObject, link])), known: new Map(links.filter((link) => link.status === "confirmed").map((link) => [link.crmObject, link])), written: new Map(), routedFields: new Set() });
  }
  // A job queued while an identical one ran (an overlap re-read during a slow push) finds its
  // payload already written: it succeeds without touching the CRM.
  const pending = work.filter(({ payload, known }) => !payload.records.every((record) => known.get(record.name)?.lastPushedHash === payload.hash));
  const failures = new Map<number, unknown>();
  await routeOwners(options, pending, failures, warned);
  for (const name of orderedObjects(pending.flatMap((w) => w.payload.records))) {
    const candidates = pending.flatMap((w) => {
      const record = w.payload.records.find((r) => r.name === name);
      return record && !failures.has(w.job.id) ? [{ w, record }] : [];
    });
    const first = candidates[0]?.record;
    if (!first) continue;
    const { entries, copies } = sharedWrites(options.shared, name, candidates);
    let results: UpsertResult[] = [];
    if (entries.length > 0) {
      // Other batches finding these records in this call wait for it rather than write them too.
      const settle = entries.map(({ record, hash }) => (hash === undefined ? undefined : options.shared?.begin(record, hash)));
      const ahead = await fillAhead(options, name, entries, settle, awaitMore);
      let answered: UpsertResult[] | undefined;
      try {
        answered = await options.connector.upsert({
          object: first.object,
          externalIdField: first.externalIdField,
          records: [
            ...entries.map(({ w, record }) => {
              const id = w.known.get(name)?.crmRecordId;
              return {
                key: record.externalId,
                fields: record.fields,
                ...(id ? { id } : {}),
                associations: record.associate.flatMap((other) => {
                  const done = w.written.get(other);
                  return done ? [{ object: done.object, id: done.id }] : [];
                }),
              };
            }),
            ...ahead.map(({ record }) => ({ key: record.externalId, fields: record.fields, associations: [] })),
          ],
        });
        results = answered;
      } catch (error) {
        settleAll(settle, undefined, error);
        // The whole call failed (limits, network, auth): every job of the batch retries, and the
        // worker's classifier reads the CrmError for how long to wait. Records an earlier object
        // wrote are written again by key on the retry, so nothing duplicates.
        // A whole call refused for an owner (HubSpot validates a batch create as one) retries every
        // job of it with fresh lookups: which record's owner it was is not said.
        const routed = entries.filter(({ w, record }) => w.routed?.owner && w.routedFields.has(record.name));
        const byOwner = routed.length > 0 ? ownerRefusal(options, routed[0]?.w as Work, routed[0]?.record.name ?? "", error) : error;
        // ownerRefusal forgot the first one's owner already; the rest of the call's go too.
        if (byOwner !== error) for (const { w } of routed.slice(1)) if (w.routed?.owner) options.owners?.(w.payload.pair)?.forget(w.routed.owner);
        // A refusal may be about a shared record we did not write again (deleted in the CRM since).
        if (!(error as { retryable?: boolean }).retryable) forgetShared(options.shared, pending);
        return { outcomes: jobs.map((job) => ({ ok: false, error: failures.get(job.id) ?? byOwner })), rate: options.connector.rateInfo() };
      }
      settleAll(settle, answered);
    }
    entries.forEach(({ w, record, hash }, index) => {
      const result = results[index];
      if (!result || result.outcome === "failed") failures.set(w.job.id, result?.outcome === "failed" ? ownerRefusal(options, w, record.name, result.error) : new Error("no result"));
      else {
        w.written.set(name, { object: record.object, id: result.id, ...(result.modstamp ? { modstamp: result.modstamp } : {}) });
        if (hash !== undefined) options.shared?.remember(record, hash, result.id);
      }
    });
    // A copy shares its original's fate: the id it was written under, or the reason it was not.
    for (const { w, record, id, of, wait } of copies) {
      const outcome = wait ? await wait : undefined;
      const written = id ?? (outcome && "id" in outcome ? outcome.id : of?.w.written.get(name)?.id);
      if (written) w.written.set(name, { object: record.object, id: written });
      else failures.set(w.job.id, outcome && "error" in outcome ? outcome.error : (failures.get(of?.w.job.id ?? -1) ?? new Error("no result")));
    }
  }
  // A failed job forgets the shared records it used: its retry writes them again.
  forgetShared(options.shared, pending.filter((w) => failures.has(w.job.id)));
  const now = options.clock.now();
  // The batch's confirmations, Partner Center references and timeline entries land in a few statements.
  const confirmations: PushConfirmation[] = [];
  const references: NewJob[] = [];
  const events: NewLeadEvent[] = [];
  for (const w of pending) {
    const { job, payload, written, links } = w;
    if (failures.has(job.id) || job.leadId === undefined) continue;
    for (const [name, { id, modstamp }] of written) {
      const link = links.get(name);
      const sellerRecord = payload.readBack?.name === name ? payload.records.find((r) => r.name === name) : undefined;
      // What we wrote of the fields sellers change: the change feed compares against it to drop our echo.
      // The owner we set is remembered under the field it is read back from (Dataverse writes
      // ownerid@odata.bind and reads _ownerid_value): a seller's reassignment is told from it.
      const routedOwner = sellerRecord && w.routed?.owner && w.routedFields.has(name) && payload.owner?.readBackField ? { [payload.owner.readBackField]: w.routed.owner.id } : {};
      const pushed = sellerRecord ? { ...link?.lastPushedFields, ...payload.readBack?.kept, ...pick(sellerRecord.fields, payload.readBack?.fields ?? []), ...routedOwner } : undefined;
      // The stamp our write left tells the change feed "nothing since" for the record sellers work in.
      const stamped = modstamp && sellerRecord ? { crmModstamp: modstamp } : {};
      confirmations.push({ leadId: job.leadId, pair: payload.pair, crmObject: name, crmRecordId: id, pushedHash: payload.hash, ...(pushed ? { pushedFields: pushed } : {}), ...stamped });
      if (sellerRecord && link?.status !== "confirmed" && payload.account) {
        references.push(externalReferenceJob(job.leadId, { account: payload.account, referralId: payload.referralId, pair: payload.pair, crmRecordId: id }, job.maxAttempts));
      }
    }
    const owner = w.routed?.owner;
    events.push({
      leadId: job.leadId,
      pair: payload.pair,
      at: now,
      side: "crm",
      kind: "crm-upserted",
      cause: `${payload.records.map((r) => r.object).join(" + ")} written${owner ? `, owned by ${owner.name}` : ""}`,
      details: { ids: Object.fromEntries([...written].map(([name, { id }]) => [name, id])), ...(owner ? { owner: { id: owner.id, name: owner.name, kind: owner.kind, why: w.routed?.via?.why, routing: payload.owner?.reason } } : {}) },
    });
    if (w.routed && w.routed.problems.length > 0) {
      events.push({
        leadId: job.leadId,
        pair: payload.pair,
        at: now,
        side: "daemon",
        kind: owner ? "routing-fallback" : "routing-no-owner",
        cause: owner ? w.routed.problems.map((p) => p.message).join(" ") : `No owner routing names exists in the CRM, so the record keeps the CRM's default owner. ${w.routed.problems.map((p) => p.message).join(" ")}`,
        details: { problems: w.routed.problems.map(({ code, owner: spec }) => ({ code, owner: spec })) },
      });
    }
  }
  const outcomes: JobOutcome[] = jobs.map((job) => (failures.has(job.id) ? { ok: false, error: failures.get(job.id) } : { ok: true }));
  // Recorded in the transaction that settles the batch's jobs: one write transaction per batch.
  const commit = async (repos: Repositories) => {
    await repos.crmLinks.confirmPushes(confirmations, now);
    if (references.length > 0) await repos.outbox.enqueueMany(references, now);
    await repos.events.appendMany(events);
  };
  return { outcomes, rate: options.connector.rateInfo(), commit };
}

/**
 * Looks up the owner of each record about to be created (or re-routed, when the mapping says so)
 * and writes it into the owner fields. A lookup that fails (the CRM is down) fails that job, which
 * retries; an owner that does not exist falls back along the decision's candidates.
 */
async function routeOwners(options: CrmUpsertOptions, pending: Work[], failures: Map<number, unknown>, warned: Set<string>): Promise<void> {
  for (const w of pending) {
    const plan = w.payload.owner;
    const directory = plan ? options.owners?.(w.payload.pair) : undefined;
    if (!plan || !directory) continue;
    const due = plan.fields.filter((field) => field.onUpdate || !w.known.has(field.name));
    if (due.length === 0) continue;
    try {
      w.routed = await directory.resolve(plan);
    } catch (error) {
      failures.set(w.job.id, error);
      continue;
    }
    for (const problem of w.routed.problems) {
      if (warned.has(problem.message)) continue;
      warned.add(problem.message);
      options.logger?.warn({ pair: w.payload.pair, code: problem.code }, problem.message);
    }
    const owner = w.routed.owner;
    if (!owner) continue;
    w.payload.records = w.payload.records.map((record) => {
      const fields = due.filter((field) => field.name === record.name);
      if (fields.length === 0) return record;
      w.routedFields.add(record.name);
      return { ...record, fields: { ...record.fields, ...Object.fromEntries(fields.map((field) => [field.field, owner.value])) } };
    });
  }
}

interface Entry {
  w: Work;
  record: QueuedRecord;
  /** The fields' hash, for a shared record (not the seller's own). */
  hash?: string;
}

/**
 * A shared record not sent: written before with these fields (`id`), sent once for the batch
 * (`of`), or under way in another batch's call (`wait`).
 */
interface Copy {
  w: Work;
  record: QueuedRecord;
  id?: string;
  of?: Entry;
  wait?: Promise<WriteOutcome>;
}

/**
 * Which of an object's records go to the CRM: a shared record this process already wrote with the
 * same fields reuses its id, and one that several leads of the batch carry identically goes once.
 */
function sharedWrites(cache: SharedRecordCache | undefined, name: string, candidates: Array<{ w: Work; record: QueuedRecord }>): { entries: Entry[]; copies: Copy[] } {
  const entries: Entry[] = [];
  const copies: Copy[] = [];
  const inBatch = new Map<string, Entry>();
  for (const { w, record } of candidates) {
    if (!cache || w.payload.readBack?.name === name || w.routedFields.has(name)) {
      entries.push({ w, record });
      continue;
    }
    const hash = fieldsHash(record.fields);
    const id = cache.unchanged(record, hash);
    const original = inBatch.get(record.externalId);
    const wait = id === undefined && !original ? cache.inFlight(record, hash) : undefined;
    if (id !== undefined) copies.push({ w, record, id });
    else if (original?.hash === hash) copies.push({ w, record, of: original });
    else if (wait) copies.push({ w, record, wait });
    else if (original) {
      // One record per key in a call (a CRM refuses an id twice in one batch): the later lead's
      // fields, as writing the two in turn would leave it.
      const entry = { w, record, hash };
      entries[entries.indexOf(original)] = entry;
      inBatch.set(record.externalId, entry);
      copies.push({ w: original.w, record: original.record, of: entry });
    } else {
      const entry = { w, record, hash };
      inBatch.set(record.externalId, entry);
      entries.push(entry);
    }
  }
  // A copy follows the entry its key was finally sent with.
  for (const copy of copies) if (copy.of) copy.of = inBatch.get(copy.record.externalId) ?? copy.of;
  return { entries, copies };
}

/** A call of shared records this much under full waits for pages still coming (within the batch's linger). */
const HOLD_BELOW = 0.75;

/**
 * The shared records of leads queued next that fit in this call beside the batch's own, when the
 * CRM isolates each record's failure; each taken is marked under way (`settle` gets its settler).
 * While a pull has pages left, a call under three quarters full waits for them and looks again: a
 * backfill discovers its customers page by page, and a call of five new companies per page would
 * otherwise go every batch. The look-ahead is a saving, not a duty: when the store cannot answer,
 * the call goes as it is.
 */
async function fillAhead(options: CrmUpsertOptions, name: string, entries: Entry[], settle: Array<((outcome: WriteOutcome) => void) | undefined>, awaitMore?: () => Promise<boolean>): Promise<AheadRecord[]> {
  const limit = options.connector.upsertBatchLimit;
  const { lookahead, shared } = options;
  if (!lookahead || !shared || !limit || entries.length >= limit || !entries.some((entry) => entry.hash !== undefined)) return [];
  const ahead: AheadRecord[] = [];
  const keys = new Set(entries.map(({ record }) => record.externalId));
  try {
    do {
      for (const found of await lookahead.fill(name, limit - entries.length - ahead.length, keys)) {
        keys.add(found.record.externalId);
        settle.push(shared.begin(found.record, found.hash));
        ahead.push(found);
      }
    } while (entries.length + ahead.length < limit * HOLD_BELOW && awaitMore && (await awaitMore()));
  } catch (error) {
    options.logger?.warn({ err: error }, "could not look at the queue for shared records to write ahead; the call goes as it is");
  }
  return ahead;
}

/** Tells batches waiting on this call's shared records how each went: the record's id or failure. */
function settleAll(settle: Array<((outcome: WriteOutcome) => void) | undefined>, results: UpsertResult[] | undefined, error?: unknown): void {
  settle.forEach((done, index) => {
    const result = results?.[index];
    done?.(result && result.outcome !== "failed" ? { id: result.id } : { error: result?.outcome === "failed" ? result.error : (error ?? new Error("no result")) });
  });
}

function forgetShared(cache: SharedRecordCache | undefined, failed: Work[]): void {
  if (!cache) return;
  for (const w of failed) for (const record of w.payload.records) if (w.payload.readBack?.name !== record.name) cache.forget(record);
}

/** Owners deactivated since they were looked up are retried this many times with a fresh lookup. */
const OWNER_RETRIES = 2;

/**
 * A CRM that refuses the owner we looked up (deactivated since, removed from the queue) is not the
 * lead's fault: the looked-up owner is forgotten and the job retried, when routing falls back.
 */
function ownerRefusal(options: CrmUpsertOptions, w: Work, name: string, error: unknown): unknown {
  const owner = w.routed?.owner;
  if (!owner || !w.routedFields.has(name) || w.job.attempts > OWNER_RETRIES) return error;
  const text = `${(error as Error).message} ${JSON.stringify((error as { details?: unknown }).details ?? {})}`;
  if ((error as { retryable?: boolean }).retryable || !/owner|systemuser|team|inactive|disabled/i.test(text)) return error;
  options.owners?.(w.payload.pair)?.forget(owner);
  return new CosellError("ROUTING_OWNER_REFUSED", `The CRM refused ${owner.name} as the record's owner (${(error as Error).message}); the owner is looked up again and the lead retried.`, { retryable: true, cause: error });
}

interface Work {
  /** The owner routing found for this lead's records, when they were due one. */
  routed?: RoutedOwner;
  /** Mapping objects whose owner field this write sets. */
  routedFields: Set<string>;
  job: OutboxJob;
  payload: CrmUpsertPayload;
  /** The lead's confirmed links for this pair, by mapping object name. */
  known: Map<string, CrmLink>;
  /** All its links for this pair (pending ones too), by mapping object name. */
  links: Map<string, CrmLink>;
  /**
   * What this batch wrote, by mapping object name: the CRM object and id later objects associate
   * with, and the modification stamp the write left when the CRM said.
   */
  written: Map<string, { object: string; id: string; modstamp?: string }>;
}

function pick(fields: Record<string, unknown>, names: string[]): Record<string, unknown> {
  return Object.fromEntries(names.filter((name) => name in fields).map((name) => [name, fields[name]]));
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
