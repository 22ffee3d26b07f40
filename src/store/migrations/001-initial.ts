import type { Knex } from "knex";

/**
 * Leads, their links to CRM records, sync cursors and the per-lead timeline. Times are stored as
 * timestamps with time zone on PostgreSQL and as epoch milliseconds on SQLite (what the driver does
 * with a Date); the repositories turn both back into Date.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("leads", (t) => {
    t.increments("id").primary();
    t.string("account", 64).notNullable();
    t.string("referral_id", 128).notNullable();
    t.string("engagement_id", 128).nullable();
    t.string("program", 64).notNullable();
    t.string("name", 512).notNullable();
    t.string("state", 32).notNullable();
    t.string("status", 32).notNullable();
    t.string("substatus", 32).notNullable();
    t.text("status_reason").nullable();
    t.timestamp("qualify_completed_at", { useTz: true }).nullable();
    t.timestamp("evaluate_completed_at", { useTz: true }).nullable();
    t.string("owner_email", 320).nullable();
    t.string("etag", 256).notNullable();
    t.timestamp("remote_created_at", { useTz: true }).notNullable();
    t.timestamp("remote_updated_at", { useTz: true }).notNullable();
    t.timestamp("remote_accepted_at", { useTz: true }).nullable();
    t.timestamp("remote_closed_at", { useTz: true }).nullable();
    t.timestamp("expires_at", { useTz: true }).nullable();
    t.timestamp("accept_by", { useTz: true }).nullable();
    t.timestamp("act_by", { useTz: true }).nullable();
    t.string("content_hash", 64).notNullable();
    t.text("raw").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable();
    t.timestamp("updated_at", { useTz: true }).notNullable();
    t.unique(["account", "referral_id"]);
    t.index(["engagement_id"]);
    t.index(["state", "accept_by"]);
    t.index(["state", "act_by"]);
    t.index(["account", "remote_updated_at"]);
  });

  await knex.schema.createTable("crm_links", (t) => {
    t.increments("id").primary();
    t.integer("lead_id").unsigned().notNullable().references("id").inTable("leads").onDelete("CASCADE");
    t.string("pair", 64).notNullable();
    t.string("crm_object", 64).notNullable();
    t.string("crm_record_id", 128).nullable();
    /** pending: a write was decided but its result not yet seen; confirmed: the CRM id is known. */
    t.string("status", 16).notNullable();
    t.string("last_pushed_hash", 64).nullable();
    t.timestamp("last_pushed_at", { useTz: true }).nullable();
    t.string("last_seen_crm_modstamp", 64).nullable();
    t.timestamp("created_at", { useTz: true }).notNullable();
    t.timestamp("updated_at", { useTz: true }).notNullable();
    t.unique(["pair", "lead_id", "crm_object"]);
    t.index(["pair", "crm_object", "crm_record_id"]);
  });

  await knex.schema.createTable("cursors", (t) => {
    t.string("scope", 128).notNullable();
    t.string("name", 64).notNullable();
    t.text("value").notNullable();
    t.timestamp("updated_at", { useTz: true }).notNullable();
    t.primary(["scope", "name"]);
  });

  await knex.schema.createTable("lead_events", (t) => {
    t.increments("id").primary();
    t.integer("lead_id").unsigned().notNullable().references("id").inTable("leads").onDelete("CASCADE");
    t.string("pair", 64).nullable();
    t.timestamp("at", { useTz: true }).notNullable();
    t.string("side", 32).notNullable();
    t.string("kind", 64).notNullable();
    t.text("cause").nullable();
    t.text("details").nullable();
    t.index(["lead_id", "id"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists("lead_events");
  await knex.schema.dropTableIfExists("cursors");
  await knex.schema.dropTableIfExists("crm_links");
  await knex.schema.dropTableIfExists("leads");
}
