import type { Knex } from "knex";

/**
 * One row per recurring schedule (a pull, a CRM poll, the deadline sweep): the slot it last ran for
 * and which process ran it. Replicas that fire the same schedule race to claim the slot; one wins,
 * so each schedule runs once per interval across the fleet, not once per process.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("schedule_leases", (t) => {
    t.string("name", 200).primary();
    t.timestamp("slot_at", { useTz: true }).notNullable();
    t.string("owner", 200).notNullable();
    t.timestamp("claimed_at", { useTz: true }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists("schedule_leases");
}
