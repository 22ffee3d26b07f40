import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import { adaptParsedReferral } from "../partner-center/adapter.js";
import type { ReferralClient } from "../partner-center/client.js";
import type { WireReferral } from "../partner-center/wire.js";
import { JOINT_PLANNING } from "../partner-center/wire.js";
import type { Clock } from "../shared/clock.js";
import { isTerminal } from "../domain/index.js";
import { readAheadGroups } from "../shared/read-ahead.js";
import type { AdaptedReferral } from "../partner-center/adapter.js";
import type { LeadInput, NewLeadEvent, Repositories, SavedLead, Store } from "../store/index.js";
import { leadInputFrom } from "./lead-record.js";

/** Where the Partner Center change feed of one account stopped: the last record of the last page. */
export interface LeadCursor {
  updatedAt: string;
  id: string;
}

export const DEFAULT_OVERLAP_MS = 5 * 60_000;
/** Pages a pull stores in one transaction at most, when that many arrived while the store was busy. */
export const DEFAULT_PAGES_PER_COMMIT = 2;

export function leadCursorKey(account: string): { scope: string; name: string } {
  return { scope: `partner-center:${account}`, name: "changes" };
}

export interface PullLeadsOptions {
  account: string;
  client: ReferralClient;
  /** Only the transaction and the cursor are used. */
  store: Pick<Store, "repos" | "transaction">;
  clock: Clock;
  logger: Logger;
  /**
   * How far before the cursor each pull starts again. Partner Center's timestamps can land out of
   * order across its replicas; re-reading a short window catches those, and the store's hash/eTag
   * check makes the re-read records cost no writes.
   */
  overlapMs?: number;
  /**
   * Reconciliation: read every record from the beginning, whatever the cursor says, to catch what
   * dropped webhooks and skewed timestamps hid. The cursor never moves back.
   */
  full?: boolean;
  /** Server-side filter (documented fields only); incoming referrals by default. */
  filter?: string;
  /** Programs to keep; other referrals are skipped. Joint Planning by default. */
  programs?: readonly string[];
  signal?: AbortSignal;
  /**
   * Called with every new or changed lead of a page (every lead, in a reconciliation pass) inside
   * the page's transaction (shared with the pages stored beside it), so what it writes (an upsert
   * for each CRM of the pair) commits or rolls back with the leads themselves. Timeline entries it
   * pushes to `timeline` are written after the page's own, in the same statement (any it writes
   * itself would land before them).
   */
  onStored?: (repos: Repositories, stored: PulledLead[], now: Date, timeline: NewLeadEvent[]) => Promise<void>;
  /**
   * Called with the leads of each group of pages before its transaction opens, at the time they
   * will be stored at: work that needs no store (planning their effects) done here does not hold it.
   */
  onPrepared?: (leads: ReadonlyArray<{ input: LeadInput; adapted: AdaptedReferral }>, now: Date) => void;
  /** Pages stored in one transaction at most (default 2), when they queued behind a busy store. */
  pagesPerCommit?: number;
  /** After the commit of each page (pages stored together are told one by one); `more` says whether pages are left. */
  onPage?: (report: PullReport, more: boolean) => void;
}

/** A lead as stored by a pull, with what Partner Center sent. */
export interface PulledLead {
  saved: SavedLead;
  adapted: AdaptedReferral;
}

export interface PullReport {
  pages: number;
  received: number;
  created: number;
  updated: number;
  unchanged: number;
  skipped: number;
  cursor?: LeadCursor;
}

/**
 * Pulls everything changed since the stored cursor, a page (or the few that queued behind a busy
 * store) per transaction: the pages' leads, their timeline entries and the advanced cursor commit
 * together, so a crash at any point resumes from the last durable page and never skips one.
 */
export async function pullChangedLeads(options: PullLeadsOptions): Promise<PullReport> {
  const log = componentLogger(options.logger, "pull", { pair: options.account });
  const key = leadCursorKey(options.account);
  const stored = await options.store.repos.cursors.get<LeadCursor>(key.scope, key.name);
  const overlapMs = options.overlapMs ?? DEFAULT_OVERLAP_MS;
  const since = stored && !options.full ? new Date(new Date(stored.value.updatedAt).getTime() - overlapMs) : undefined;
  const programs = keptPrograms(options);
  const report: PullReport = { pages: 0, received: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, ...(stored ? { cursor: stored.value } : {}) };
  log.info({ since: since?.toISOString() ?? "beginning", cursor: stored?.value }, "pull started");

  // Pages are fetched while earlier ones are stored: the HTTP round trips and the transactions
  // overlap. The pages that arrived while the store was busy commit together, in order, in one
  // transaction (a backfill's pages queue behind the CRM writes; one commit each made the pull wait
  // for the store once per page). The cursor still never passes a page that was not stored.
  const groups = readAheadGroups(options.client.listChanged({ ...(since ? { since } : {}), filter: options.filter ?? "direction eq 'Incoming'", ...(options.signal ? { signal: options.signal } : {}) }), options.pagesPerCommit ?? DEFAULT_PAGES_PER_COMMIT);
  for await (const pages of groups) {
    const now = options.clock.now();
    // Read and hashed before the transaction: it holds the store (SQLite's one connection) only
    // for the writes, not for work that needs none.
    const prepared = pages.map((page) => prepareReferrals(options, page.items, programs));
    options.onPrepared?.(prepared.flatMap((page) => page.kept.map((adapted, index) => ({ adapted, input: page.inputs[index] as LeadInput }))), now);
    // Bulk: the outbox's leases and settles go first. They are paced by the CRMs' rate limits, so
    // they leave the pull its turns, and the CRM calls keep pace with it instead of trailing.
    const counts = await options.store.transaction(async (repos) => {
      const tallies: Tally[] = [];
      for (const run of withoutRepeats(prepared)) tallies.push(await storeReferrals(repos, options, run, now, options.full ? "reconciliation" : "poll"));
      const last = pages.at(-1)?.items.at(-1);
      if (last?.updatedDateTime) {
        const candidate: LeadCursor = { updatedAt: last.updatedDateTime, id: last.id };
        if (!report.cursor || compareCursor(candidate, report.cursor) > 0) {
          await repos.cursors.save(key.scope, key.name, candidate, now);
          report.cursor = candidate;
        }
      }
      return tallies;
    }, { bulk: true });
    for (const tally of counts) {
      report.created += tally.created;
      report.updated += tally.updated;
      report.unchanged += tally.unchanged;
      report.skipped += tally.skipped;
    }
    for (const page of pages) {
      report.pages += 1;
      report.received += page.items.length;
      options.onPage?.({ ...report }, page.nextLink !== undefined);
    }
    log.debug({ pages: report.pages, items: pages.reduce((sum, page) => sum + page.items.length, 0) }, "pages stored");
  }
  log.info({ ...report }, "pull finished");
  return report;
}

/**
 * A webhook hint: fetch that one referral and store it as a pull would (the cursor is left to the
 * poll, which also sees the record).
 */
export async function pullReferral(options: PullLeadsOptions & { referralId: string }): Promise<PullReport> {
  const referral = await options.client.get(options.referralId);
  const prepared = prepareReferrals(options, [referral], keptPrograms(options));
  const now = options.clock.now();
  const tally = await options.store.transaction((repos) => storeReferrals(repos, options, prepared, now, "webhook"));
  return { pages: 1, received: 1, ...tally };
}

/** The programs a pull keeps, lower-cased (Joint Planning by default). */
function keptPrograms(options: PullLeadsOptions): ReadonlySet<string> {
  return new Set((options.programs ?? [JOINT_PLANNING.program]).map((program) => program.toLowerCase()));
}

type Tally = { created: number; updated: number; unchanged: number; skipped: number };

/** A page as the store takes it: the referrals kept, adapted, with their rows; how many were skipped. */
interface PreparedPage {
  kept: AdaptedReferral[];
  inputs: LeadInput[];
  skipped: number;
}

/**
 * Consecutive pages merged into as few as can be stored as one: a referral changed while the feed
 * was read comes again on a later page, and is saved after its first copy, never beside it.
 */
function withoutRepeats(pages: readonly PreparedPage[]): PreparedPage[] {
  const runs: PreparedPage[] = [];
  let run: PreparedPage | undefined;
  let seen = new Set<string>();
  for (const page of pages) {
    if (!run || page.inputs.some((input) => seen.has(input.referralId))) {
      run = { kept: [], inputs: [], skipped: 0 };
      seen = new Set();
      runs.push(run);
    }
    run.kept.push(...page.kept);
    run.inputs.push(...page.inputs);
    run.skipped += page.skipped;
    for (const input of page.inputs) seen.add(input.referralId);
  }
  return runs;
}

/** Adapts a page's referrals and builds their rows (hashes included): no store needed. */
function prepareReferrals(options: PullLeadsOptions, items: readonly WireReferral[], programs: ReadonlySet<string>): PreparedPage {
  const kept: AdaptedReferral[] = [];
  let skipped = 0;
  // A record this version cannot read never gets here: the client skips it, said once, and keeps
  // the rest of the page.
  for (const item of items) {
    const adapted = adaptParsedReferral(item);
    if (!programs.has(adapted.lead.program.toLowerCase())) {
      skipped += 1;
      continue;
    }
    kept.push(adapted);
  }
  return { kept, inputs: kept.map((adapted) => leadInputFrom(options.account, adapted)), skipped };
}

async function storeReferrals(repos: Repositories, options: PullLeadsOptions, page: PreparedPage, now: Date, cause: string): Promise<Tally> {
  const tally: Tally = { created: 0, updated: 0, unchanged: 0, skipped: page.skipped };
  const { kept } = page;
  const saved = await repos.leads.saveMany(page.inputs, now);
  const events: NewLeadEvent[] = [];
  const changed: PulledLead[] = [];
  for (const [index, lead] of saved.entries()) {
    const adapted = kept[index] as AdaptedReferral;
    tally[lead.outcome] += 1;
    if (lead.localClose && isTerminal(adapted.lead.state)) events.push(localCloseVerdict(options.logger, lead, lead.localClose, adapted, now));
    if (lead.outcome !== "unchanged") {
      events.push({
        leadId: lead.lead.id,
        at: now,
        side: "partner-center",
        kind: lead.outcome === "created" ? "lead-received" : "lead-changed",
        cause,
        details: { state: adapted.lead.state, status: adapted.remote.status, substatus: adapted.remote.substatus, eTag: adapted.lead.eTag },
      });
    }
    // An unchanged lead had its effects queued when it was stored; a reconciliation pass maps every
    // lead again (a mapping edited since, an effect dropped by hand).
    if (lead.outcome !== "unchanged" || cause === "reconciliation") changed.push({ saved: lead, adapted });
  }
  if (changed.length > 0) await options.onStored?.(repos, changed, now, events);
  await repos.events.appendMany(events);
  return tally;
}

/** Partner Center closed a lead we had closed at its deadline: the same answer, or it corrects ours. */
function localCloseVerdict(logger: Logger, saved: SavedLead, local: NonNullable<SavedLead["localClose"]>, adapted: AdaptedReferral, now: Date): NewLeadEvent {
  const agreed = adapted.lead.state === local.state;
  const cause = `closed here as ${local.state}${local.reason ? ` (${local.reason})` : ""}; Partner Center says ${adapted.lead.state}`;
  if (!agreed) componentLogger(logger, "pull").warn({ referralId: saved.lead.referralId, local: local.state, partnerCenter: adapted.lead.state }, "Partner Center disagrees with a local close; its answer is kept");
  return { leadId: saved.lead.id, at: now, side: "partner-center", kind: agreed ? "local-close-confirmed" : "local-close-corrected", cause, details: { local: local.state, partnerCenter: adapted.lead.state } };
}

function compareCursor(a: LeadCursor, b: LeadCursor): number {
  const byTime = Date.parse(a.updatedAt) - Date.parse(b.updatedAt);
  if (byTime !== 0) return byTime;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
