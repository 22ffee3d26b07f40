import type { Knex } from "knex";

/**
 * Each reminder of each deadline of each lead, once: the unique key is what makes "sent once" hold
 * across restarts and replicas (the first insert wins; the others see the row and send nothing).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("reminders", (t) => {
    t.increments("id").primary();
    t.integer("lead_id").unsigned().notNullable().references("id").inTable("leads").onDelete("CASCADE");
    /** accept | act */
    t.string("deadline", 16).notNullable();
    t.timestamp("deadline_at", { useTz: true }).notNullable();
    /** How long before the deadline this reminder is (e.g. 7 days), in milliseconds. */
    t.bigInteger("lead_time_ms").notNullable();
    /** sent | skipped (a later reminder was already due when this one was first seen) */
    t.string("outcome", 16).notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable();
    t.unique(["lead_id", "deadline", "deadline_at", "lead_time_ms"]);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists("reminders");
}
