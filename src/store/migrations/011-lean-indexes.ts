import type { Knex } from "knex";

/**
 * Fewer index entries written per lead. Each index keyed by a random value (a UUID, a referral's
 * coalescing key) costs every insert, and every state change of a job, one b-tree leaf somewhere
 * in a large index: a page written to the journal per entry, per transaction. A 100,000-lead
 * backfill wrote about 90 KB to disk per lead, most of it such pages. So:
 * - the idempotency key (a random UUID, never looked up) and a lead's engagement id (never
 *   looked up) lose their indexes;
 * - a key's running job is found in an index of running jobs only (a handful), instead of one of
 *   every job by key and state that each lease and settle rewrote;
 * - the lease order covers pending jobs only: a job leaves it when leased instead of moving
 *   through it twice more (running, then done).
 * Queries name those states as literals: SQLite uses a partial index only when the query's own
 * WHERE says what the index's says.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("outbox_jobs", (t) => {
    t.dropUnique(["idempotency_key"]);
    t.dropIndex(["coalesce_key", "state"]);
  });
  await knex.schema.alterTable("leads", (t) => {
    t.dropIndex(["engagement_id"]);
  });
  await knex.raw("CREATE INDEX outbox_jobs_running_per_key ON outbox_jobs (coalesce_key) WHERE state = 'running'");
  await knex.raw("DROP INDEX outbox_jobs_lease_order");
  await knex.raw("CREATE INDEX outbox_jobs_lease_order ON outbox_jobs (target, due_by, priority DESC, run_at, id) WHERE state = 'pending'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX outbox_jobs_lease_order");
  await knex.raw("CREATE INDEX outbox_jobs_lease_order ON outbox_jobs (target, state, due_by, priority DESC, run_at, id)");
  await knex.raw("DROP INDEX outbox_jobs_running_per_key");
  await knex.schema.alterTable("leads", (t) => {
    t.index(["engagement_id"]);
  });
  await knex.schema.alterTable("outbox_jobs", (t) => {
    t.unique(["idempotency_key"]);
    t.index(["coalesce_key", "state"]);
  });
}
