import type { ChangeCursor, CrmChange, CrmConnector } from "../../connectors/types.js";
import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import type { Clock } from "../shared/clock.js";
import type { LeadRecord, Repositories, Store } from "../store/index.js";
import type { PairTarget } from "./enqueue-crm-upsert.js";

export const PC_PUSH = "pc-push";
export const PARTNER_CENTER_TARGET = "partner-center";

/** A seller's edit waiting to go to Partner Center: the record's lifecycle values as the CRM showed them. */
export interface PcPushPayload {
  pair: string;
  account: string;
  referralId: string;
  crmRecordId: string;
  fields: Record<string, unknown>;
  /**
   * The fields that differ from what the daemon last wrote: what the seller actually changed. Only
   * these form the intent, so a record whose other fields lag behind (another CRM moved the lead on)
   * does not read as "reopen Qualify". Absent: every field counts.
   */
  changed?: string[];
  modifiedAt: string;
  modifiedBy: string;
}

export interface OutboundPair extends PairTarget {
  account: string;
  connector: CrmConnector;
  debounceMs: number;
}

/**
 * How far before its cursor each poll of a timestamp-cursored feed starts again: a save committed
 * with a stamp just before a record already read would otherwise be skipped. Re-read edits already
 * recorded are recognised and dropped.
 */
export const SELLER_FEED_OVERLAP_MS = 60_000;

export interface SellerChangesReport {
  pages: number;
  changes: number;
  queued: number;
  echoes: number;
  /** Edits read again in the overlap window, already recorded. */
  repeats: number;
  /** Records carrying a referral id this account does not have (another account's, or typed by hand). */
  unknown: number;
}

export function sellerCursorKey(pair: string, object: string): { scope: string; name: string } {
  return { scope: `crm-changes:${pair}`, name: object };
}

/**
 * CRM → outbox: reads the pair's change feed from its cursor and, per page in one transaction,
 * records each seller edit on the link and queues one Partner Center push per lead. The push runs
 * after the debounce window; a later edit inside it replaces the queued one (same coalescing key),
 * so a seller's burst of saves becomes one push of the record's final values.
 */
export async function pollSellerChanges(options: {
  pair: OutboundPair;
  store: Store;
  clock: Clock;
  logger: Logger;
  /**
   * Aborted when the daemon stops: the poll ends after the page in hand, its place saved. A feed
   * behind a backfill is hundreds of pages at HubSpot's five searches a second, minutes of reading
   * that a stop would otherwise wait out.
   */
  signal?: AbortSignal;
}): Promise<SellerChangesReport> {
  const { pair, store } = options;
  const log = componentLogger(options.logger, "seller-changes", { pair: pair.pair });
  const report: SellerChangesReport = { pages: 0, changes: 0, queued: 0, echoes: 0, repeats: 0, unknown: 0 };
  const inbound = pair.mapping.inboundTarget();
  const fields = pair.mapping.readBackFields();
  if (!inbound || fields.length === 0) return report;
  const key = sellerCursorKey(pair.pair, inbound.object);
  const stored = await store.repos.cursors.get<ChangeCursor>(key.scope, key.name);
  const feed = pair.connector.changes({
    object: inbound.object,
    externalIdField: inbound.externalIdField,
    fields,
    ...(stored ? { cursor: overlapped(stored.value) } : {}),
    // Asked per page, for the records our own user touched last: never every link of the pair at once.
    lastPushed: (referralIds) => store.reads.crmLinks.pushedFieldsFor(pair.account, pair.pair, inbound.name, referralIds),
    lastWritten: (referralIds) => store.reads.crmLinks.pushedModstampsFor(pair.account, pair.pair, inbound.name, referralIds),
  });
  let latest = stored?.value;
  // Where a run of pages without changes (our own writes, filtered out by the connector) got to:
  // saved with the next page that has changes, or when the feed ends or fails. A backfill's feed is
  // hundreds of such pages, and a write transaction each kept SQLite's one writer from the pull.
  // Losing it to a crash only means reading those pages again.
  let unsaved: ChangeCursor | undefined;
  const advance = async (repos: Repositories, cursor: ChangeCursor, now: Date) => {
    // A page inside the overlap window must not move the cursor back.
    if (!latest || newer(cursor, latest)) {
      await repos.cursors.save(key.scope, key.name, cursor, now);
      latest = cursor;
    }
  };
  const saveUnsaved = async () => {
    const cursor = unsaved;
    unsaved = undefined;
    if (cursor && (!latest || newer(cursor, latest))) await store.transaction((repos) => advance(repos, cursor, options.clock.now()));
  };
  try {
    for await (const page of feed) {
      if (page.changes.length === 0) unsaved = page.cursor;
      else {
        unsaved = undefined;
        const now = options.clock.now();
        await store.transaction(async (repos) => {
          for (const change of page.changes) {
            const outcome = await recordChange(repos, pair, inbound.name, change, now);
            report[outcome] += 1;
            if (outcome !== "unknown" && outcome !== "repeats") report.changes += 1;
          }
          await advance(repos, page.cursor, now);
        });
      }
      report.pages += 1;
      if (options.signal?.aborted) break;
    }
  } catch (error) {
    // The pages read before the failure stay read; the failure is what the caller hears of.
    await saveUnsaved().catch(() => undefined);
    throw error;
  }
  await saveUnsaved();
  if (report.changes > 0 || report.unknown > 0) log.info({ ...report }, "seller changes read");
  return report;
}

async function recordChange(repos: Repositories, pair: OutboundPair, objectName: string, change: CrmChange, now: Date): Promise<"queued" | "echoes" | "repeats" | "unknown"> {
  const lead = change.externalId ? await repos.leads.findByReferralId(pair.account, change.externalId) : undefined;
  if (!lead) return "unknown";
  const link = await repos.crmLinks.reserve(lead.id, pair.pair, objectName, now);
  const ownerField = pair.mapping.inboundOwnerField();
  const pushed = ownerBaseline(link.lastPushedFields, link.sellerFields, ownerField);
  // Fields we never wrote (the owner, without routing) cannot be our echo: only what we wrote is compared.
  if (pushed && Object.keys(change.fields).every((field) => !(field in pushed) || sameValue(change.fields[field], pushed[field]))) {
    await repos.events.append({ leadId: lead.id, pair: pair.pair, at: now, side: "crm", kind: "echo-dropped", cause: "the record shows what the daemon last wrote", details: { by: change.modifiedBy, at: change.modifiedAt } });
    return "echoes";
  }
  const changedAt = crmTime(change.modifiedAt) ?? now;
  const seen = link.sellerFields;
  if (seen && link.sellerChangedAt?.getTime() === changedAt.getTime() && Object.keys(change.fields).every((field) => sameValue(change.fields[field], seen[field]))) return "repeats";
  await repos.crmLinks.recordSellerChange(link.id, change.fields, changedAt, now);
  const dueBy = deadlineOf(lead);
  await repos.outbox.enqueue(
    {
      pair: pair.pair,
      target: PARTNER_CENTER_TARGET,
      kind: PC_PUSH,
      leadId: lead.id,
      coalesceKey: `${lead.id}|${pair.pair}|${PC_PUSH}`,
      runAt: new Date(now.getTime() + pair.debounceMs),
      payload: {
        pair: pair.pair,
        account: pair.account,
        referralId: lead.referralId,
        crmRecordId: change.id,
        fields: change.fields,
        ...(pushed ? { changed: Object.keys(change.fields).filter((field) => (field !== ownerField || field in pushed) && !sameValue(change.fields[field], pushed[field])) } : {}),
        modifiedAt: change.modifiedAt,
        modifiedBy: change.modifiedBy,
      } satisfies PcPushPayload,
      ...(dueBy ? { dueBy } : {}),
      maxAttempts: pair.maxAttempts,
    },
    now,
  );
  await repos.events.append({ leadId: lead.id, pair: pair.pair, at: now, side: "crm", kind: "seller-change", cause: `edited in the CRM by ${change.modifiedBy}`, details: { fields: change.fields, at: change.modifiedAt } });
  return "queued";
}

/**
 * What the record should show if nobody but us touched it. The owner is written once (on create),
 * so after a seller's reassignment the owner last seen in a seller's change is what to compare
 * with: later writes of ours are then echoes, and the next reassignment is a change.
 */
function ownerBaseline(pushed: Record<string, unknown> | undefined, seen: Record<string, unknown> | undefined, ownerField: string | undefined): Record<string, unknown> | undefined {
  if (!pushed || !ownerField || !seen || !(ownerField in seen)) return pushed;
  return { ...pushed, [ownerField]: seen[ownerField] };
}

/** The cursor moved back by the overlap; a server token (a Dataverse delta link) is used as it is. */
function overlapped(cursor: ChangeCursor): ChangeCursor {
  if (cursor.token && !cursor.token.startsWith("poll")) return cursor;
  const at = crmTime(cursor.modstamp);
  if (!at) return cursor;
  const back = at.getTime() - SELLER_FEED_OVERLAP_MS;
  // Each CRM's own stamp format: HubSpot epoch milliseconds, the others ISO.
  const modstamp = /^\d+$/.test(cursor.modstamp) ? String(back) : new Date(back).toISOString();
  return { ...cursor, modstamp, id: "" };
}

function newer(a: ChangeCursor, b: ChangeCursor): boolean {
  const ta = crmTime(a.modstamp)?.getTime() ?? 0;
  const tb = crmTime(b.modstamp)?.getTime() ?? 0;
  if (ta !== tb) return ta > tb;
  if (a.id !== b.id) return a.id > b.id;
  return a.token !== b.token;
}

function deadlineOf(lead: LeadRecord): Date | undefined {
  return lead.state === "new" ? lead.acceptBy : lead.actBy;
}

/** Salesforce writes +0000, HubSpot epoch milliseconds, Dataverse ISO: all to a Date. */
export function crmTime(value: string): Date | undefined {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** CRMs return numbers as strings, booleans as "true", empty as null: compare what they mean. */
export function sameValue(a: unknown, b: unknown): boolean {
  const norm = (v: unknown) => (v === undefined || v === null || v === "" ? null : typeof v === "number" || typeof v === "boolean" ? String(v) : v);
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}
