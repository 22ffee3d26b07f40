import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SeededRandom } from "../../src/shared/seeded-random.js";
import type { SpawnedCli } from "../helpers/cli.js";
import { spawnCli } from "../helpers/cli.js";
import type { Fleet } from "../helpers/fleet.js";
import { expectAgreement, startFleet } from "../helpers/fleet.js";

const KILLS = 22;

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
    const { leads } = await expectAgreement(fleet, storeFile, accepted, expect);
    expect(leads).toBeGreaterThanOrEqual(120 + 8 * 10);
  }, 300_000);
});
