import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import knex from "knex";
import { afterAll, describe, expect, it } from "vitest";
import { SeededRandom } from "../../src/shared/seeded-random.js";
import type { SpawnedCli } from "../helpers/cli.js";
import { spawnCli } from "../helpers/cli.js";
import type { Fleet, FleetState } from "../helpers/fleet.js";
import { startFleet, until } from "../helpers/fleet.js";

const KILLS = 22;
/** The shipped mapping's status table: lead state → Salesforce's Cosell Status. */
const SF_STATUS: Record<string, string> = { new: "New", accepted: "Accepted", qualified: "Accepted", evaluated: "Accepted", won: "Won", lost: "Lost", declined: "Declined", expired: "Expired", "closed-in-error": "Closed in error", converted: "Converted to opportunity" };

/**
 * The whole daemon killed with SIGKILL at random moments while leads arrive and sellers accept them
 * in Salesforce; after the last restart Partner Center, the store and Salesforce agree as an
 * uninterrupted run would leave them: every lead once in Salesforce, every seller's accept in
 * Partner Center, every record showing the lead's state.
 */
describe("kill -9 of the daemon during a run", () => {
  let fleet: Fleet | undefined;
  let running: SpawnedCli | undefined;

  afterAll(async () => {
    running?.signal("SIGKILL");
    await running?.exited;
    await fleet?.close();
  });

  it(`converges after ${KILLS} kills with nothing lost or doubled`, async () => {
    fleet = await startFleet(120);
    const dir = mkdtempSync(join(tmpdir(), "cosell-kill-"));
    const storeFile = join(dir, "store.db");
    const { file, env } = fleet.writeConfig({ storeUrl: `sqlite:${storeFile}`, lease: "2s" });
    const random = new SeededRandom("kills");
    const accepted = new Set<string>();
    let survived = 0;
    for (let kill = 0; kill < KILLS; kill += 1) {
      running = spawnCli(["run", "--config", file], env);
      await running.waitFor("cosell-sync started");
      if (kill % 3 === 0) await fleet.control("/generate?n=10");
      if (kill % 2 === 1) for (const id of (await fleet.control<{ accepted: string[] }>("/seller/accept?n=4")).accepted) accepted.add(id.toLowerCase());
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(random.next() * 1_500)));
      running.signal("SIGKILL");
      const exit = await running.exited;
      expect(exit.signal).toBe("SIGKILL");
      survived += 1;
    }
    expect(survived).toBe(KILLS);
    expect(accepted.size).toBeGreaterThan(10);

    // The last start runs undisturbed until everything agrees.
    running = spawnCli(["run", "--config", file], env);
    await running.waitFor("cosell-sync started");
    const final = await until(
      "Partner Center and Salesforce to agree",
      async () => {
        const state = await fleet?.control<FleetState>("/state");
        if (!state) return undefined;
        const keys = state.sf.map((r) => r.key);
        const everyLead = Object.keys(state.pc).every((id) => keys.includes(id));
        const acceptsArrived = [...accepted].every((id) => state.pc[id]?.status !== "New");
        return everyLead && acceptsArrived ? state : undefined;
      },
      120_000,
    );
    expect(new Set(final.sf.map((r) => r.key)).size, "no lead written as two records").toBe(final.sf.length);
    expect(final.sf.length).toBe(Object.keys(final.pc).length);

    const db = knex({ client: "sqlite3", connection: { filename: storeFile }, useNullAsDefault: true });
    try {
      // The store, once its outbox is drained, holds Partner Center's view, and each record shows it.
      await until("the outbox to drain", async () => {
        const [open] = await db("outbox_jobs").whereIn("state", ["pending", "running"]).count({ n: "*" });
        return Number(open?.n ?? 0) === 0 ? true : undefined;
      }, 60_000);
      const state = await fleet.control<FleetState>("/state");
      const leads = (await db("leads").select("referral_id", "state", "status")) as Array<{ referral_id: string; state: string; status: string }>;
      expect(leads).toHaveLength(Object.keys(state.pc).length);
      for (const lead of leads) {
        const id = lead.referral_id.toLowerCase();
        expect([id, lead.status]).toEqual([id, state.pc[id]?.status]);
        expect([id, state.sf.find((r) => r.key === id)?.status]).toEqual([id, SF_STATUS[lead.state]]);
        if (accepted.has(id)) expect([id, lead.state]).toEqual([id, "accepted"]);
      }
      const [dead] = await db("outbox_jobs").where({ state: "dead" }).count({ n: "*" });
      expect(Number(dead?.n)).toBe(0);
      const twins = await db("crm_links").select("lead_id").count({ n: "*" }).groupBy("lead_id", "pair", "crm_object").havingRaw("count(*) > 1");
      expect(twins).toEqual([]);
    } finally {
      await db.destroy();
    }
  }, 300_000);
});
