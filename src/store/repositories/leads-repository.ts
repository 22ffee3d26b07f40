import type { Knex } from "knex";
import type { LeadState } from "../../domain/lead.js";
import { TERMINAL_STATES, WORKING_STATES } from "../../domain/lead.js";
import type { StoreKind } from "../connect.js";
import { insertRows } from "../insert-rows.js";
import { parseJson, toDate, toNumber, toOptional, toOptionalDate } from "../rows.js";

/** One Partner Center lead as the store keeps it: the canonical columns plus the raw record. */
export interface LeadRecord {
  id: number;
  account: string;
  referralId: string;
  engagementId?: string;
  program: string;
  name: string;
  state: LeadState;
  /** Partner Center's own status and substatus strings, kept verbatim (enums are open). */
  status: string;
  substatus: string;
  statusReason?: string;
  qualifyCompletedAt?: Date;
  evaluateCompletedAt?: Date;
  ownerEmail?: string;
  eTag: string;
  remoteCreatedAt: Date;
  remoteUpdatedAt: Date;
  remoteAcceptedAt?: Date;
  remoteClosedAt?: Date;
  expiresAt?: Date;
  acceptBy?: Date;
  actBy?: Date;
  contentHash: string;
  raw: unknown;
  /** Set when the daemon closed the lead itself because a deadline passed. */
  closedLocallyAt?: Date;
  localCloseReason?: string;
  createdAt: Date;
  updatedAt: Date;
}

export type LeadInput = Omit<LeadRecord, "id" | "createdAt" | "updatedAt" | "closedLocallyAt" | "localCloseReason">;

export type SaveOutcome = "created" | "updated" | "unchanged";

export interface SavedLead {
  lead: LeadRecord;
  outcome: SaveOutcome;
  /** The content hash before this save, to decide whether mapped payloads need pushing. */
  previousHash?: string;
  /** The stored state before this save, when the daemon had closed the lead itself. */
  localClose?: { state: LeadState; at: Date; reason?: string };
  /** Left as stored: it is a later version of the referral than the one given (`keepNewer`). */
  newerKept?: true;
}

export interface SaveOptions {
  /**
   * A stored version Partner Center changed later than the given one is kept (an answer to our own
   * write arriving after a pull stored what followed it), instead of being replaced.
   */
  keepNewer?: boolean;
}

export interface DueDeadline {
  leadId: number;
  deadline: "accept" | "act";
  at: Date;
}

export interface DueLead {
  lead: LeadRecord;
  deadline: "accept" | "act";
  at: Date;
}

const OPEN_WORKING = [...WORKING_STATES];
/** Leads per statement: ~25 columns a row keeps a chunk far below SQLite's bound-variable limit. */
const SAVE_CHUNK = 500;

function leadKey(account: string, referralId: string): string {
  return `${account}\u0000${referralId}`;
}

/** Referral ids by account, so each read uses the (account, referral_id) index. */
function byAccount(inputs: readonly LeadInput[]): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (const input of inputs) {
    const ids = grouped.get(input.account);
    if (ids) ids.push(input.referralId);
    else grouped.set(input.account, [input.referralId]);
  }
  return grouped;
}

export class LeadsRepository {
  constructor(
    private readonly db: Knex | Knex.Transaction,
    private readonly kind: StoreKind,
  ) {}

  /**
   * Stores a lead pulled from Partner Center. A record whose content hash and eTag match the stored
   * one is left alone, so replays (overlap windows, webhook plus poll) write nothing.
   */
  async save(input: LeadInput, now: Date): Promise<SavedLead> {
    const [saved] = await this.saveMany([input], now);
    if (!saved) throw new Error("saveMany returned nothing for one lead");
    return saved;
  }

  /**
   * Stores a page of leads as `save` would store each in turn, in a handful of statements: one read
   * of what is stored, one insert of the new leads, an update per changed one. A page naming the
   * same referral twice is stored one lead at a time, so the second sees the first.
   */
  async saveMany(inputs: readonly LeadInput[], now: Date, options: SaveOptions = {}): Promise<SavedLead[]> {
    const keys = inputs.map((input) => leadKey(input.account, input.referralId));
    if (new Set(keys).size !== keys.length && inputs.length > 1) {
      const one: SavedLead[] = [];
      for (const input of inputs) one.push(...(await this.saveMany([input], now, options)));
      return one;
    }
    const existing = await this.#findMany(inputs);
    const fresh = inputs.filter((input) => !existing.has(leadKey(input.account, input.referralId)));
    const ids = new Map<string, number>();
    for (let offset = 0; offset < fresh.length; offset += SAVE_CHUNK) {
      const chunk = fresh.slice(offset, offset + SAVE_CHUNK);
      // Each id comes back with its key: the order of a multi-row RETURNING is not promised.
      const rows = await insertRows(
        this.db,
        this.kind,
        "leads",
        chunk.map((input) => ({ ...toRow(input), created_at: now, updated_at: now })),
        { returning: ["id", "account", "referral_id"] },
      );
      for (const row of rows) ids.set(leadKey(String(row.account), String(row.referral_id)), toNumber(row.id));
    }
    const saved: SavedLead[] = [];
    for (const input of inputs) {
      const key = leadKey(input.account, input.referralId);
      const stored = existing.get(key);
      if (!stored) {
        const id = ids.get(key);
        if (id === undefined) throw new Error(`lead ${input.referralId} was inserted but not found`);
        saved.push({ lead: { ...input, id, createdAt: now, updatedAt: now }, outcome: "created" });
        continue;
      }
      if (options.keepNewer && stored.remoteUpdatedAt.getTime() > input.remoteUpdatedAt.getTime()) saved.push({ lead: stored, outcome: "unchanged", previousHash: stored.contentHash, newerKept: true });
      else saved.push(await this.#update(stored, input, now));
    }
    return saved;
  }

  async #findMany(inputs: readonly LeadInput[]): Promise<Map<string, LeadRecord>> {
    const found = new Map<string, LeadRecord>();
    for (let offset = 0; offset < inputs.length; offset += SAVE_CHUNK) {
      const chunk = inputs.slice(offset, offset + SAVE_CHUNK);
      for (const [account, referralIds] of byAccount(chunk)) {
        const rows = (await this.db("leads").where({ account }).whereIn("referral_id", referralIds)) as Row[];
        for (const row of rows) found.set(leadKey(account, String(row.referral_id)), fromRow(row));
      }
    }
    return found;
  }

  async #update(existing: LeadRecord, input: LeadInput, now: Date): Promise<SavedLead> {
    if (existing.contentHash === input.contentHash && existing.eTag === input.eTag) {
      return { lead: existing, outcome: "unchanged", previousHash: existing.contentHash };
    }
    const localClose = existing.closedLocallyAt ? { state: existing.state, at: existing.closedLocallyAt, ...(existing.localCloseReason ? { reason: existing.localCloseReason } : {}) } : undefined;
    // A lead we closed stays closed until Partner Center closes it too (its own answer then wins).
    const keepLocal = localClose !== undefined && !TERMINAL_STATES.has(input.state);
    const state = keepLocal ? existing.state : input.state;
    await this.db("leads")
      .where({ id: existing.id })
      .update({ ...toRow(input), state, ...(keepLocal ? {} : { closed_locally_at: null, local_close_reason: null }), updated_at: now });
    return {
      lead: { ...input, state, id: existing.id, createdAt: existing.createdAt, updatedAt: now, ...(keepLocal ? { closedLocallyAt: existing.closedLocallyAt, ...(existing.localCloseReason ? { localCloseReason: existing.localCloseReason } : {}) } : {}) },
      outcome: "updated",
      previousHash: existing.contentHash,
      ...(localClose ? { localClose } : {}),
    };
  }

  /** The daemon closes a lead whose deadline passed: expired at accept-by, lost at act-by. */
  async closeLocally(id: number, state: "expired" | "lost", reason: string, now: Date): Promise<boolean> {
    const changed = await this.db("leads")
      .where({ id })
      .whereNotIn("state", [...TERMINAL_STATES])
      .update({ state, closed_locally_at: now, local_close_reason: reason, updated_at: now });
    return changed > 0;
  }

  async findById(id: number): Promise<LeadRecord | undefined> {
    const row = await this.db("leads").where({ id }).first();
    return row ? fromRow(row) : undefined;
  }

  /** Several leads by id, in one read per 900 (a reminder pass's worth). */
  async findByIds(ids: readonly number[]): Promise<Map<number, LeadRecord>> {
    const found = new Map<number, LeadRecord>();
    for (let offset = 0; offset < ids.length; offset += 900) {
      const rows = (await this.db("leads").whereIn("id", ids.slice(offset, offset + 900))) as Row[];
      for (const row of rows) {
        const lead = fromRow(row);
        found.set(lead.id, lead);
      }
    }
    return found;
  }

  async findByReferralId(account: string, referralId: string): Promise<LeadRecord | undefined> {
    const row = await this.db("leads").where({ account, referral_id: referralId }).first();
    return row ? fromRow(row) : undefined;
  }

  /** Open leads whose current deadline falls at or before `at`, soonest first. */
  async listDueBy(at: Date, limit = 500): Promise<DueLead[]> {
    const accept = await this.db("leads").where("state", "new").andWhere("accept_by", "<=", at).orderBy("accept_by").limit(limit);
    const act = await this.db("leads").whereIn("state", OPEN_WORKING).andWhere("act_by", "<=", at).orderBy("act_by").limit(limit);
    const due: DueLead[] = [
      ...accept.map((row) => ({ lead: fromRow(row), deadline: "accept" as const, at: toDate(row.accept_by) })),
      ...act.map((row) => ({ lead: fromRow(row), deadline: "act" as const, at: toDate(row.act_by) })),
    ];
    return due.sort((a, b) => a.at.getTime() - b.at.getTime()).slice(0, limit);
  }

  /**
   * `listDueBy` without the leads: which lead, which deadline, when. A reminder pass looks at
   * thousands of deadlines a minute and reads a whole lead (its Partner Center record) only for the
   * few it writes to.
   */
  async listDeadlinesBy(at: Date, limit = 500): Promise<DueDeadline[]> {
    const accept = await this.db("leads").select("id", "accept_by").where("state", "new").andWhere("accept_by", "<=", at).orderBy("accept_by").limit(limit);
    const act = await this.db("leads").select("id", "act_by").whereIn("state", OPEN_WORKING).andWhere("act_by", "<=", at).orderBy("act_by").limit(limit);
    const due: DueDeadline[] = [
      ...accept.map((row: Record<string, unknown>) => ({ leadId: toNumber(row.id), deadline: "accept" as const, at: toDate(row.accept_by) })),
      ...act.map((row: Record<string, unknown>) => ({ leadId: toNumber(row.id), deadline: "act" as const, at: toDate(row.act_by) })),
    ];
    return due.sort((a, b) => a.at.getTime() - b.at.getTime()).slice(0, limit);
  }

  /** Open deadlines falling in (from, until]: what is due soon. */
  async countDueWithin(from: Date, until: Date): Promise<number> {
    const [accept] = await this.db("leads").where("state", "new").andWhere("accept_by", ">", from).andWhere("accept_by", "<=", until).count({ count: "*" });
    const [act] = await this.db("leads").whereIn("state", OPEN_WORKING).andWhere("act_by", ">", from).andWhere("act_by", "<=", until).count({ count: "*" });
    return toNumber(accept?.count ?? 0) + toNumber(act?.count ?? 0);
  }

  /** Leads this daemon closed at a deadline, by the reason it gave. */
  async countClosedLocally(): Promise<Record<string, number>> {
    const rows = (await this.db("leads").whereNotNull("closed_locally_at").select("local_close_reason").count({ count: "*" }).groupBy("local_close_reason")) as Array<{ local_close_reason: string | null; count: unknown }>;
    return Object.fromEntries(rows.map((row) => [row.local_close_reason ?? "", toNumber(row.count)]));
  }

  /** The first open deadline strictly after `after` (what the exact deadline timer waits for). */
  async earliestDeadlineAfter(after: Date): Promise<Date | undefined> {
    const [accept] = await this.db("leads").where("state", "new").andWhere("accept_by", ">", after).min({ at: "accept_by" });
    const [act] = await this.db("leads").whereIn("state", OPEN_WORKING).andWhere("act_by", ">", after).min({ at: "act_by" });
    const times = [accept?.at, act?.at].filter((value) => value !== null && value !== undefined).map((value) => toDate(value).getTime());
    return times.length > 0 ? new Date(Math.min(...times)) : undefined;
  }

  /** A referral id is unique per account; ops who paste one from Partner Center may not say which. */
  async findByReferralIdInAnyAccount(referralId: string): Promise<LeadRecord[]> {
    return (await this.db("leads").where({ referral_id: referralId }).orderBy("id").limit(10)).map(fromRow);
  }

  /** Leads for `leads list`: newest Partner Center change first, optionally one state or account. */
  async list(query: { state?: LeadState; account?: string; limit?: number } = {}): Promise<LeadRecord[]> {
    const builder = this.db("leads").orderBy([{ column: "remote_updated_at", order: "desc" }, { column: "id", order: "desc" }]).limit(query.limit ?? 50);
    if (query.state) builder.where("state", query.state);
    if (query.account) builder.where("account", query.account);
    return (await builder).map(fromRow);
  }

  /** The most recently changed leads, newest first (previews and mapping diffs). */
  async recent(limit: number): Promise<LeadRecord[]> {
    const rows = await this.db("leads").orderBy([{ column: "remote_updated_at", order: "desc" }, { column: "id", order: "desc" }]).limit(limit);
    return rows.map(fromRow);
  }

  async countByState(account?: string): Promise<Partial<Record<LeadState, number>>> {
    const query = this.db("leads").select("state").count({ count: "*" }).groupBy("state");
    if (account) query.where({ account });
    const rows = (await query) as Array<{ state: LeadState; count: unknown }>;
    return Object.fromEntries(rows.map((row) => [row.state, toNumber(row.count)]));
  }

  async countOpen(): Promise<number> {
    const [row] = await this.db("leads").whereNotIn("state", [...TERMINAL_STATES]).count({ count: "*" });
    return toNumber(row?.count ?? 0);
  }
}

type Row = Record<string, unknown>;

function toRow(lead: LeadInput): Row {
  return {
    account: lead.account,
    referral_id: lead.referralId,
    engagement_id: lead.engagementId ?? null,
    program: lead.program,
    name: lead.name,
    state: lead.state,
    status: lead.status,
    substatus: lead.substatus,
    status_reason: lead.statusReason ?? null,
    qualify_completed_at: lead.qualifyCompletedAt ?? null,
    evaluate_completed_at: lead.evaluateCompletedAt ?? null,
    owner_email: lead.ownerEmail ?? null,
    etag: lead.eTag,
    remote_created_at: lead.remoteCreatedAt,
    remote_updated_at: lead.remoteUpdatedAt,
    remote_accepted_at: lead.remoteAcceptedAt ?? null,
    remote_closed_at: lead.remoteClosedAt ?? null,
    expires_at: lead.expiresAt ?? null,
    accept_by: lead.acceptBy ?? null,
    act_by: lead.actBy ?? null,
    content_hash: lead.contentHash,
    raw: JSON.stringify(lead.raw),
  };
}

function fromRow(row: Row): LeadRecord {
  return {
    id: toNumber(row.id),
    account: String(row.account),
    referralId: String(row.referral_id),
    engagementId: toOptional(row.engagement_id as string | null),
    program: String(row.program),
    name: String(row.name),
    state: row.state as LeadState,
    status: String(row.status),
    substatus: String(row.substatus),
    statusReason: toOptional(row.status_reason as string | null),
    qualifyCompletedAt: toOptionalDate(row.qualify_completed_at),
    evaluateCompletedAt: toOptionalDate(row.evaluate_completed_at),
    ownerEmail: toOptional(row.owner_email as string | null),
    eTag: String(row.etag),
    remoteCreatedAt: toDate(row.remote_created_at),
    remoteUpdatedAt: toDate(row.remote_updated_at),
    remoteAcceptedAt: toOptionalDate(row.remote_accepted_at),
    remoteClosedAt: toOptionalDate(row.remote_closed_at),
    expiresAt: toOptionalDate(row.expires_at),
    acceptBy: toOptionalDate(row.accept_by),
    actBy: toOptionalDate(row.act_by),
    contentHash: String(row.content_hash),
    raw: parseJson(row.raw),
    ...(row.closed_locally_at ? { closedLocallyAt: toDate(row.closed_locally_at) } : {}),
    ...(row.local_close_reason ? { localCloseReason: String(row.local_close_reason) } : {}),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}
