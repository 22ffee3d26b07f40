import type { Knex } from "knex";
import { parseJson, toDate } from "../rows.js";

/**
 * Where each change feed stopped (Partner Center per account, each CRM per pair). Saved in the same
 * transaction as the rows a page produced, so the cursor never runs ahead of durable data.
 */
export interface StoredCursor<T> {
  value: T;
  updatedAt: Date;
}

export class CursorsRepository {
  constructor(private readonly db: Knex | Knex.Transaction) {}

  async get<T>(scope: string, name: string): Promise<StoredCursor<T> | undefined> {
    const row = await this.db("cursors").where({ scope, name }).first();
    return row ? { value: parseJson(row.value) as T, updatedAt: toDate(row.updated_at) } : undefined;
  }

  async save<T>(scope: string, name: string, value: T, now: Date): Promise<void> {
    await this.db("cursors")
      .insert({ scope, name, value: JSON.stringify(value), updated_at: now })
      .onConflict(["scope", "name"])
      .merge(["value", "updated_at"]);
  }
}
