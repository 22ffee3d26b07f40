import { inject } from "vitest";
import { afterAll, describe, expect, it } from "vitest";
import knex from "knex";
import type { SpawnedCli } from "../helpers/cli.js";
import { spawnCli } from "../helpers/cli.js";
import type { Fleet, FleetStats } from "../helpers/fleet.js";
import { startFleet, until } from "../helpers/fleet.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase } from "../helpers/stores.js";

const INITIAL_LEADS = 300;

function sum(metrics: string, name: string, labels: string[]): number {
  return metrics
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) && labels.every((label) => line.includes(label)))
    .reduce((total, line) => total + Number(line.split(" ").at(-1)), 0);
}

/** Three `cosell-sync run` processes on one PostgreSQL store, sharing one Partner Center and one Salesforce org. */
describe.skipIf(inject("pgUrl") === null)("several replicas on PostgreSQL", () => {
  let fleet: Fleet | undefined;
  let database: TestDatabase | undefined;
  const replicas: SpawnedCli[] = [];

  afterAll(async () => {
    // Teardown, not a test of graceful stops (the run and shutdown suites cover those): kill outright.
    for (const replica of replicas) replica.signal("SIGKILL");
    await Promise.all(replicas.map((replica) => replica.exited));
    await fleet?.close();
    await database?.drop();
  }, 120_000);

  it("share the work, write each lead once, take over a killed replica's leases, and run each schedule once per slot", async () => {
    fleet = await startFleet(INITIAL_LEADS);
    const control = fleet;
    const stats = () => control.control<FleetStats>("/stats");
    database = await createTestDatabase("postgres");
    // Small batches, one at a time per replica, and a Salesforce that answers in a fifth of a second:
    // the backfill is more work than one replica holds at once, so it spreads whichever replica
    // pulls first (with 200-lead batches, one replica could lease all 300 leads in two batches).
    const { file: config, env } = fleet.writeConfig({ storeUrl: database.url, sfTarget: { batchSize: 20, concurrency: 1 } });
    await fleet.control("/latency?ms=200");
    for (let i = 0; i < 3; i += 1) replicas.push(spawnCli(["run", "--config", config], env));
    const urls = await Promise.all(
      replicas.map(async (replica) => {
        await replica.waitFor("HTTP server listening");
        return /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(replica.output())?.[1] ?? "";
      }),
    );
    const metrics = async (url: string) => (await fetch(`${url}/metrics`)).text();

    // The backfill lands, once per lead.
    await until("the backfill", async () => {
      const s = await stats();
      return s.sf.keys.length >= INITIAL_LEADS ? s : undefined;
    });
    const done = await Promise.all(urls.map(async (url) => sum(await metrics(url), "cosell_outbox_jobs_total", ['outcome="done"'])));
    expect(done.filter((n) => n > 0).length, `jobs done per replica: ${done.join(", ")}`).toBeGreaterThanOrEqual(2);
    await fleet.control("/latency?ms=0");

    // Schedules run once per two-second slot across the fleet, not once per replica.
    const before = await stats();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const after = await stats();
    const pulls = after.pc.listStarts - before.pc.listStarts;
    expect(pulls, `${pulls} pulls in 10 s on a 2 s schedule`).toBeLessThanOrEqual(7);
    expect(pulls).toBeGreaterThanOrEqual(3);

    // More leads arrive; one replica is killed holding leased jobs; the others finish them once the lease runs out.
    const db = knex({ client: "pg", connection: database.url });
    try {
      // One write per change: each lead's record was written as often as jobs writing it were done.
      // A job two replicas ran at once, or one change queued twice, writes more often than that.
      const doneJobs = async () => {
        const rows = (await db("outbox_jobs as j").join("leads as l", "l.id", "j.lead_id").where({ "j.kind": "crm-upsert", "j.state": "done" }).groupBy("l.referral_id").select("l.referral_id").count({ n: "*" })) as Array<{ referral_id: string; n: string | number }>;
        return Object.fromEntries(rows.map((row) => [row.referral_id.toLowerCase(), Number(row.n)]));
      };
      const same = (jobs: Record<string, number>, writes: Record<string, number>) => Object.keys(writes).length === Object.keys(jobs).length && Object.entries(jobs).every(([key, n]) => writes[key] === n);
      const settled = async () => ({ jobs: await doneJobs(), writes: (await stats()).sf.writes });
      // Polled until a write in flight has settled as done; a lasting difference is shown whole.
      const compared = await until("each lead's writes to match its jobs done", async () => {
        const now = await settled();
        return same(now.jobs, now.writes) ? now : undefined;
      }, 20_000).catch(settled);
      expect(compared.writes).toEqual(compared.jobs);
      expect(Object.keys(compared.jobs).length).toBeGreaterThanOrEqual(INITIAL_LEADS);
      // Salesforce answers slowly for a while, so the writes for the new leads are held long enough to be seen.
      await fleet.control("/latency?ms=3000");
      await fleet.control("/generate?n=150");
      // The victim is whichever replica holds running jobs at that moment.
      const { victim, held } = await until(
        "a replica to hold leased jobs",
        async () => {
          const rows = (await db("outbox_jobs").where({ state: "running" }).select("id", "lease_owner")) as Array<{ id: number; lease_owner: string }>;
          const holder = replicas.find((replica) => rows.some((row) => row.lease_owner.includes(`:${String(replica.pid)}:`)));
          return holder ? { victim: holder, held: rows.filter((row) => row.lease_owner.includes(`:${String(holder.pid)}:`)).map((row) => row.id) } : undefined;
        },
        30_000,
      );
      victim.signal("SIGKILL");
      expect((await victim.exited).signal).toBe("SIGKILL");
      await fleet.control("/latency?ms=0");
      const final = await until("every lead in Salesforce after the kill", async () => {
        const s = await stats();
        return s.sf.keys.length >= s.pc.leads.length ? s : undefined;
      });
      expect(new Set(final.sf.keys).size, "no lead written as two records").toBe(final.sf.keys.length);
      expect([...final.pc.leads].sort()).toEqual([...final.sf.keys].sort());
      const taken = (await until("the victim's jobs to be finished by the others", async () => {
        const rows = (await db("outbox_jobs").whereIn("id", held).select("state", "attempts")) as Array<{ state: string; attempts: number }>;
        return rows.every((row) => row.state === "done") ? rows : undefined;
      })) as Array<{ attempts: number }>;
      expect(taken.every((row) => Number(row.attempts) >= 2), "each was leased again after the victim's lease ran out").toBe(true);

      const twins = await db("crm_links").select("lead_id").count({ n: "*" }).groupBy("lead_id", "pair", "crm_object").havingRaw("count(*) > 1");
      expect(twins).toEqual([]);
      await until("the outbox to drain", async () => {
        const [open] = await db("outbox_jobs").whereIn("state", ["pending", "running"]).whereRaw("run_at <= now()").count({ n: "*" });
        return Number(open?.n ?? 0) === 0 ? true : undefined;
      });
      const [dead] = await db("outbox_jobs").where({ state: "dead" }).count({ n: "*" });
      expect(Number(dead?.n)).toBe(0);
      const claims = await db("schedule_leases").select("name", "owner");
      expect(claims.map((c: { name: string }) => c.name).sort()).toEqual(["crm-poll:fleet-sf", "deadline-sweep", 'pull:fleet:*/2 * * * * *']);
    } finally {
      await db.destroy();
    }
  }, 180_000);
});
