import type { Knex } from "knex";

/**
 * The modification stamp our last write left on a record (HubSpot answers it). The column existed
 * unused as `last_seen_crm_modstamp`; it now says what it holds. A change feed showing the same
 * stamp shows our write and nothing after it, so its history need not be read.
 */
export async function up(knex: Knex): Promise<void> {
  // Plain SQL both SQLite (3.25+) and PostgreSQL take as it is, without rebuilding the table.
  await knex.raw("ALTER TABLE crm_links RENAME COLUMN last_seen_crm_modstamp TO last_pushed_modstamp");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE crm_links RENAME COLUMN last_pushed_modstamp TO last_seen_crm_modstamp");
}
