import type { Knex } from "knex";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect } from "../../src/store/connect.js";
import { OutboxRepository } from "../../src/store/repositories/outbox-repository.js";
import type { NewJob } from "../../src/store/index.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase, openMigratedStore } from "../helpers/stores.js";

const NOW = new Date("2026-06-01T12:00:00Z");
const TARGET = "crm:hubspot";

/**
 * SQLite has no statistics here and picks indexes by rule. The outbox's hot queries must use the
 * indexes built for them (partial ones included, which SQLite takes only when the query names the
 * state as a literal): a plan that walks every pending job costs nothing with ten jobs and most of
 * a backfill's time with a hundred thousand, so each query's plan is read, not timed.
 */
describe("outbox query plans [sqlite]", () => {
  let database: TestDatabase;
  let knex: Knex;
  let issued: Array<{ sql: string; bindings: readonly Knex.RawBinding[] }>;

  beforeEach(async () => {
    database = await createTestDatabase("sqlite");
    await (await openMigratedStore(database)).close();
    knex = connect({ url: database.url }).knex;
    issued = [];
    knex.on("query", (query: { sql: string; bindings?: readonly Knex.RawBinding[] }) => issued.push({ sql: query.sql, bindings: query.bindings ?? [] }));
  });

  afterEach(async () => {
    await knex.destroy();
    await database.drop();
  });

  async function plan(sql: string, bindings: readonly Knex.RawBinding[]): Promise<string> {
    const rows = (await knex.raw(`EXPLAIN QUERY PLAN ${sql}`, bindings)) as Array<{ detail: string }>;
    return rows.map((row) => row.detail).join(" | ");
  }

  /** The plans of the outbox_jobs reads `work` issues. */
  async function plansOf(work: (outbox: OutboxRepository) => Promise<unknown>): Promise<string[]> {
    issued = [];
    await knex.transaction((trx) => work(new OutboxRepository(trx, "sqlite")));
    const reads = issued.filter(({ sql }) => /^select/i.test(sql) && sql.includes("outbox_jobs"));
    return Promise.all(reads.map(({ sql, bindings }) => plan(sql, bindings)));
  }

  const job = (key: string): NewJob => ({ target: TARGET, kind: "crm-upsert", payload: { key }, maxAttempts: 5, coalesceKey: key });

  it("finds pending jobs by key, leases and looks ahead along their indexes, never walking every job of a state", async () => {
    await knex.transaction((trx) => new OutboxRepository(trx, "sqlite").enqueueMany([job("a"), job("b")], NOW));

    const enqueuePlans = await plansOf((outbox) => outbox.enqueueMany([job("a"), job("c")], NOW));
    expect(enqueuePlans).toEqual([expect.stringContaining("USING INDEX outbox_jobs_one_pending_per_key")]);

    const leasePlans = await plansOf((outbox) => outbox.lease({ owner: "w", target: TARGET, limit: 10, leaseMs: 60_000, now: NOW }));
    // The due jobs along the lease order, each checked against the few running jobs of its key.
    expect(leasePlans[0]).toMatch(/SEARCH j USING INDEX outbox_jobs_lease_order \(target=\?.*SEARCH r USING INDEX outbox_jobs_running_per_key \(coalesce_key=\?\)/);

    const at = { id: 5, dueBy: new Date("2026-12-01T00:00:00Z"), priority: 0, runAt: new Date("2026-11-24T00:00:00Z") };
    const upcomingPlans = [
      ...(await plansOf((outbox) => outbox.upcoming(TARGET, 10))),
      ...(await plansOf((outbox) => outbox.upcoming(TARGET, 10, at))),
      ...(await plansOf((outbox) => outbox.upcoming(TARGET, 10, { ...at, dueBy: undefined }))),
    ];
    expect(upcomingPlans[2]).toMatch(/USING INDEX outbox_jobs_lease_order \(target=\? AND due_by>\?\)/);
    const standingPlans = await plansOf((outbox) => outbox.stillUpcoming(new Map([[1, "v"]])));
    for (const found of upcomingPlans) expect(found).toContain("USING INDEX outbox_jobs_lease_order");

    const all = [...enqueuePlans, ...leasePlans, ...upcomingPlans, ...standingPlans];
    for (const found of all) {
      expect(found).not.toMatch(/SCAN (outbox_jobs|j|r)\b/);
      expect(found).not.toContain("state_last_error_code");
    }
  });
});
