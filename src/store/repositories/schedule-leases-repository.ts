import type { Knex } from "knex";
import { toDate } from "../rows.js";

/** Who runs each slot of a recurring schedule, fleet-wide (see migration 007). */
export class ScheduleLeasesRepository {
  constructor(private readonly db: Knex | Knex.Transaction) {}

  /**
   * Claims `slotAt` of schedule `name` for `owner`; true for exactly one claimant per slot. A later
   * slot replaces an earlier one; a claim for the same or an older slot loses.
   */
  async claim(name: string, slotAt: Date, owner: string, now: Date): Promise<boolean> {
    const rows = (await this.db("schedule_leases")
      .insert({ name, slot_at: slotAt, owner, claimed_at: now })
      .onConflict("name")
      .merge({ slot_at: slotAt, owner, claimed_at: now })
      .where("schedule_leases.slot_at", "<", slotAt)
      .returning("name")) as unknown[];
    return rows.length > 0;
  }

  async get(name: string): Promise<{ slotAt: Date; owner: string } | undefined> {
    const row = await this.db("schedule_leases").where({ name }).first();
    return row ? { slotAt: toDate(row.slot_at), owner: String(row.owner) } : undefined;
  }
}
