import type { Knex } from "knex";
import type { StoreKind } from "../connect.js";
import { insertRows } from "../insert-rows.js";
import { parseJson, toDate, toNumber, toOptional, toOptionalDate } from "../rows.js";

/**
 * Which CRM record holds a lead, per pair and CRM object. The link is reserved (pending) in the
 * transaction that decides a write and confirmed when the CRM answers, so a crash in between never
 * leads to a second record: the retry upserts on the same external id and confirms the link.
 */
export interface CrmLink {
  id: number;
  leadId: number;
  pair: string;
  crmObject: string;
  crmRecordId?: string;
  status: "pending" | "confirmed";
  lastPushedHash?: string;
  lastPushedAt?: Date;
  /** The modification stamp our last write left on the record, when the CRM answers it (HubSpot). */
  lastPushedModstamp?: string;
  /** The lifecycle (read-back) fields of our last write, as sent: a change equal to them is our echo. */
  lastPushedFields?: Record<string, unknown>;
  /** The seller's last edit of those fields, and when the CRM stamped it. */
  sellerFields?: Record<string, unknown>;
  sellerChangedAt?: Date;
  /** Why Partner Center refused the seller's last change; shown on the record until a change goes through. */
  syncError?: string;
  createdAt: Date;
  updatedAt: Date;
}

/** What the CRM answered to one record of a write. */
export interface PushConfirmation {
  leadId: number;
  pair: string;
  crmObject: string;
  crmRecordId: string;
  pushedHash: string;
  /** The lifecycle fields as written (read-back objects only). */
  pushedFields?: Record<string, unknown>;
  /** The record's modification stamp as the write left it, when the CRM said. */
  crmModstamp?: string;
}

export class CrmLinksRepository {
  constructor(
    private readonly db: Knex | Knex.Transaction,
    private readonly kind: StoreKind,
  ) {}

  /** The link for (lead, pair, object), created pending when there is none yet. */
  async reserve(leadId: number, pair: string, crmObject: string, now: Date): Promise<CrmLink> {
    const existing = await this.find(leadId, pair, crmObject);
    if (existing) return existing;
    await this.db("crm_links")
      .insert({ lead_id: leadId, pair, crm_object: crmObject, status: "pending", created_at: now, updated_at: now })
      .onConflict(["pair", "lead_id", "crm_object"])
      .ignore();
    const created = await this.find(leadId, pair, crmObject);
    if (!created) throw new Error(`crm link for lead ${leadId} on ${pair}/${crmObject} vanished after insert`);
    return created;
  }

  /** Records what the CRM answered to a write: its record id and the hash of what we sent. */
  async confirmPush(linkId: number, crmRecordId: string, pushedHash: string, now: Date, pushedFields?: Record<string, unknown>): Promise<void> {
    await this.db("crm_links").where({ id: linkId }).update({
      crm_record_id: crmRecordId,
      status: "confirmed",
      last_pushed_hash: pushedHash,
      last_pushed_at: now,
      last_pushed_modstamp: null,
      ...(pushedFields ? { last_pushed_fields: JSON.stringify(pushedFields) } : {}),
      updated_at: now,
    });
  }

  /**
   * `reserve` + `confirmPush` for a batch's writes in one statement per 300 links: each link is
   * created confirmed, or the existing one (pending or confirmed) takes the CRM's answer.
   */
  async confirmPushes(confirmations: readonly PushConfirmation[], now: Date): Promise<void> {
    // Links without pushed fields keep the ones they have: they go in a statement that leaves them out.
    for (const withFields of [true, false]) {
      const rows = confirmations
        .filter((c) => (c.pushedFields !== undefined) === withFields)
        .map((c) => ({
          lead_id: c.leadId,
          pair: c.pair,
          crm_object: c.crmObject,
          crm_record_id: c.crmRecordId,
          status: "confirmed",
          last_pushed_hash: c.pushedHash,
          last_pushed_at: now,
          // Always set: a stamp from an earlier write must not stand for this one.
          last_pushed_modstamp: c.crmModstamp ?? null,
          ...(withFields ? { last_pushed_fields: JSON.stringify(c.pushedFields) } : {}),
          created_at: now,
          updated_at: now,
        }));
      const merged = ["crm_record_id", "status", "last_pushed_hash", "last_pushed_at", "last_pushed_modstamp", ...(withFields ? ["last_pushed_fields"] : []), "updated_at"];
      for (let offset = 0; offset < rows.length; offset += 300) {
        await insertRows(this.db, this.kind, "crm_links", rows.slice(offset, offset + 300), { onConflict: { columns: ["pair", "lead_id", "crm_object"], merge: merged } });
      }
    }
  }

  /** A seller's edit as the change feed reported it (values and the CRM's modification time). */
  async recordSellerChange(linkId: number, fields: Record<string, unknown>, changedAt: Date, now: Date): Promise<void> {
    await this.db("crm_links").where({ id: linkId }).update({ seller_fields: JSON.stringify(fields), seller_changed_at: changedAt, updated_at: now });
  }

  /** Sets (or, with undefined, clears) the refusal shown to the seller on the record. */
  async setSyncError(linkId: number, error: string | undefined, now: Date): Promise<void> {
    await this.db("crm_links").where({ id: linkId }).update({ sync_error: error ?? null, updated_at: now });
  }

  /**
   * The fields last written to each record of one CRM object, by referral id (a page of a change
   * feed's worth): what a change feed compares a record against to tell our echo from a seller's edit.
   */
  async pushedFieldsFor(account: string, pair: string, crmObject: string, referralIds: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    const rows = await this.#lastPushed(account, pair, crmObject, referralIds, "last_pushed_fields");
    return new Map([...rows].map(([referralId, row]) => [referralId, parseJson(row.last_pushed_fields) as Record<string, unknown>]));
  }

  /**
   * The stamp our create left on each record of one CRM object that still carries one, with the
   * fields it wrote, by referral id: in one read, what a change feed needs to skip a record's history.
   */
  async pushedModstampsFor(account: string, pair: string, crmObject: string, referralIds: readonly string[]): Promise<Map<string, { modstamp: string; fields: Record<string, unknown> }>> {
    const rows = await this.#lastPushed(account, pair, crmObject, referralIds, "last_pushed_modstamp", ["last_pushed_fields"]);
    return new Map([...rows].map(([referralId, row]) => [referralId, { modstamp: String(row.last_pushed_modstamp), fields: (row.last_pushed_fields ? parseJson(row.last_pushed_fields) : {}) as Record<string, unknown> }]));
  }

  /**
   * The given leads' links of one object that have `column` set, by referral id, with `column` and
   * `also`. The leads are found first, then their links by lead: a join let SQLite walk every link
   * of the pair for each page.
   */
  async #lastPushed(account: string, pair: string, crmObject: string, referralIds: readonly string[], column: "last_pushed_fields" | "last_pushed_modstamp", also: string[] = []): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    for (let offset = 0; offset < referralIds.length; offset += 900) {
      const leads = (await this.db("leads").where({ account }).whereIn("referral_id", referralIds.slice(offset, offset + 900)).select("id", "referral_id")) as Array<{ id: number; referral_id: string }>;
      if (leads.length === 0) continue;
      const referralOf = new Map(leads.map((lead) => [Number(lead.id), lead.referral_id]));
      const rows = (await this.db("crm_links")
        .whereIn("lead_id", [...referralOf.keys()])
        .where({ pair, crm_object: crmObject })
        .whereNotNull(column)
        .select("lead_id", column, ...also)) as Array<Record<string, unknown>>;
      for (const row of rows) {
        const referralId = referralOf.get(Number(row.lead_id));
        if (referralId !== undefined) found.set(referralId, row);
      }
    }
    return found;
  }

  async find(leadId: number, pair: string, crmObject: string): Promise<CrmLink | undefined> {
    const row = await this.db("crm_links").where({ lead_id: leadId, pair, crm_object: crmObject }).first();
    return row ? fromRow(row) : undefined;
  }

  async findByRecordId(pair: string, crmObject: string, crmRecordId: string): Promise<CrmLink | undefined> {
    const row = await this.db("crm_links").where({ pair, crm_object: crmObject, crm_record_id: crmRecordId }).first();
    return row ? fromRow(row) : undefined;
  }

  /** The links of several leads in one query (a batch's worth). */
  async forLeads(leadIds: readonly number[]): Promise<CrmLink[]> {
    const links: CrmLink[] = [];
    for (let offset = 0; offset < leadIds.length; offset += 900) {
      const rows = await this.db("crm_links").whereIn("lead_id", leadIds.slice(offset, offset + 900));
      links.push(...rows.map(fromRow));
    }
    return links;
  }

  async forLead(leadId: number): Promise<CrmLink[]> {
    const rows = await this.db("crm_links").where({ lead_id: leadId }).orderBy(["pair", "crm_object"]);
    return rows.map(fromRow);
  }
}

function fromRow(row: Record<string, unknown>): CrmLink {
  return {
    id: toNumber(row.id),
    leadId: toNumber(row.lead_id),
    pair: String(row.pair),
    crmObject: String(row.crm_object),
    crmRecordId: toOptional(row.crm_record_id as string | null),
    status: row.status as CrmLink["status"],
    lastPushedHash: toOptional(row.last_pushed_hash as string | null),
    lastPushedAt: toOptionalDate(row.last_pushed_at),
    lastPushedModstamp: toOptional(row.last_pushed_modstamp as string | null),
    ...(row.last_pushed_fields ? { lastPushedFields: parseJson(row.last_pushed_fields) as Record<string, unknown> } : {}),
    ...(row.seller_fields ? { sellerFields: parseJson(row.seller_fields) as Record<string, unknown> } : {}),
    ...(row.seller_changed_at ? { sellerChangedAt: toDate(row.seller_changed_at) } : {}),
    ...(row.sync_error ? { syncError: String(row.sync_error) } : {}),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}
