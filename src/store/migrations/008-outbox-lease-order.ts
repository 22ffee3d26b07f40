import type { Knex } from "knex";

/**
 * The order jobs are leased in (earliest deadline, undated after, then priority, due time, id) as
 * an index: a lease walks it and stops at the batch size instead of sorting every pending job of
 * the target, which a backfill's hundred thousand Partner Center write-backs made slow.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("CREATE INDEX outbox_jobs_lease_order ON outbox_jobs (target, state, due_by, priority DESC, run_at, id)");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX IF EXISTS outbox_jobs_lease_order");
}
