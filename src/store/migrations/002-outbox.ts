import type { Knex } from "knex";

/**
 * The outbox: every effect on the outside world, written in the transaction that decided it, leased
 * by workers, settled as done, due again, or dead (the failure index).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("outbox_jobs", (t) => {
    t.bigIncrements("id").primary();
    t.string("pair", 64).nullable();
    /** partner-center | crm:<name> | notify:<channel> */
    t.string("target", 96).notNullable();
    t.string("kind", 64).notNullable();
    t.integer("lead_id").unsigned().nullable().references("id").inTable("leads").onDelete("SET NULL");
    t.text("payload").notNullable();
    t.string("coalesce_key", 256).nullable();
    /** Handed to the target so a repeated effect (a crash after the effect, before the commit) is absorbed. */
    t.string("idempotency_key", 128).notNullable();
    t.integer("priority").notNullable().defaultTo(0);
    t.timestamp("due_by", { useTz: true }).nullable();
    /** pending | running | done | dead | dropped | superseded */
    t.string("state", 16).notNullable();
    t.integer("attempts").notNullable().defaultTo(0);
    t.integer("max_attempts").notNullable();
    t.timestamp("run_at", { useTz: true }).notNullable();
    t.string("lease_owner", 128).nullable();
    t.timestamp("lease_expires_at", { useTz: true }).nullable();
    t.string("last_error_code", 64).nullable();
    t.text("last_error_message").nullable();
    t.timestamp("first_failed_at", { useTz: true }).nullable();
    t.timestamp("last_failed_at", { useTz: true }).nullable();
    t.timestamp("escalated_at", { useTz: true }).nullable();
    t.timestamp("created_at", { useTz: true }).notNullable();
    t.timestamp("updated_at", { useTz: true }).notNullable();
    t.timestamp("finished_at", { useTz: true }).nullable();
    t.unique(["idempotency_key"]);
    t.index(["target", "state", "run_at"]);
    t.index(["state", "lease_expires_at"]);
    t.index(["coalesce_key", "state"]);
    t.index(["state", "last_error_code"]);
    t.index(["lead_id"]);
  });
  // At most one pending job per coalescing key: a newer one replaces the older instead of queueing.
  await knex.raw("CREATE UNIQUE INDEX outbox_jobs_one_pending_per_key ON outbox_jobs (coalesce_key) WHERE state = 'pending' AND coalesce_key IS NOT NULL");
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists("outbox_jobs");
}
