import type { Knex } from "knex";

/**
 * When each recurring sync job (a Partner Center pull per account, a CRM poll per pair) last
 * succeeded and last failed, and why. In the store, not in memory: the status page, /readyz and
 * /metrics of every replica read the same answer, and a restart keeps it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("sync_runs", (t) => {
    /** pull | crm-poll */
    t.string("kind", 32).notNullable();
    /** The account (pull) or pair (crm-poll). */
    t.string("name", 128).notNullable();
    t.timestamp("last_success_at", { useTz: true });
    t.timestamp("last_failure_at", { useTz: true });
    t.string("last_error_code", 64);
    t.text("last_error_message");
    t.integer("consecutive_failures").notNullable().defaultTo(0);
    t.primary(["kind", "name"]);
  });
  // The status page asks for each pair's last write of each kind.
  await knex.schema.alterTable("lead_events", (t) => {
    t.index(["kind", "pair", "at"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("lead_events", (t) => {
    t.dropIndex(["kind", "pair", "at"]);
  });
  await knex.schema.dropTableIfExists("sync_runs");
}
