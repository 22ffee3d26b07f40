import { afterEach, describe, expect, it } from "vitest";
import type { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import { silentLogger } from "../../src/log/logger.js";
import { SellerSimulator } from "../../src/sandbox/seller-simulator.js";
import { sellerUiFor } from "../../src/sandbox/seller-ui.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { TwoWayRig } from "../helpers/two-way.js";
import { startTwoWay } from "../helpers/two-way.js";

describe("the seller simulator hands leads on", () => {
  let rig: TwoWayRig | undefined;
  afterEach(async () => {
    await rig?.close();
  });

  it("reassigns some accepted leads once; each new owner ends up on the lead's Partner Center team and keeps the record", async () => {
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay("salesforce", clock, { debounce: "0s", routing: "{ mode: direct, owner: { team: Joint Planning Leads } }" });
    await rig.pass();
    const sandbox = rig.daemon.crmSandbox("crm") as SalesforceSandbox;
    const ui = sellerUiFor(sandbox);
    const simulator = new SellerSimulator({ crms: [ui], logger: silentLogger(), seed: "reassign", activity: 1 });
    for (let round = 0; round < 6; round += 1) {
      await simulator.tick();
      clock.advance(60_000);
      await rig.pass();
      await rig.pass();
    }
    expect(simulator.counts.reassigned).toBeGreaterThan(0);
    const sellers = new Map(ui.colleagues().map((c) => [c.id, c.email]));
    let checked = 0;
    for (const record of ui.records()) {
      const email = sellers.get(record.owner);
      const referral = rig.pc.referrals.get(record.referralId);
      // Every lead a seller holds that Partner Center shows accepted (or further) names that seller.
      if (!email || referral.status === "New") continue;
      if (referral.status === "Closed" && referral.substatus !== "Won") continue;
      expect(referral.team?.map((m) => m.email)).toContain(email);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(0);
    // The handed-on leads in particular: each one's new owner is on its team.
    const handedOn = ui.records().filter((record) => simulator.reassigned.has(`salesforce|${record.referralId}`));
    expect(handedOn).toHaveLength(simulator.counts.reassigned);
    for (const record of handedOn) expect(rig.pc.referrals.get(record.referralId).team?.map((m) => m.email)).toContain(sellers.get(record.owner));
  });
});
