import type { Knex } from "knex";

/**
 * A lead's links found by the lead alone: the unique key starts with the pair, so every "links of
 * these leads" (each pulled page, each CRM batch, each reminder) and the per-page echo lookup
 * scanned all links. At 100,000 leads that made a Dynamics backfill three times slower as it went.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("CREATE INDEX crm_links_lead ON crm_links (lead_id)");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX IF EXISTS crm_links_lead");
}
