import { afterEach, beforeEach, expect, it } from "vitest";
import type { DataverseSandbox } from "../../connectors/dynamics/sandbox/server.js";
import { ManualClock } from "../../src/shared/clock.js";
import { startDataverse } from "../helpers/dynamics.js";
import type { InboundRig } from "../helpers/inbound.js";
import { ACCOUNT, startInboundRig } from "../helpers/inbound.js";
import { describeEachStore } from "../helpers/stores.js";

const PAIR = "contoso-dynamics";

describeEachStore("inbound: Partner Center leads into Dynamics 365 through the outbox", (kind) => {
  const clock = new ManualClock("2026-11-24T10:00:00Z");
  let dv: DataverseSandbox;
  let rig: InboundRig;

  beforeEach(async () => {
    const started = await startDataverse({ clock });
    dv = started.sandbox;
    rig = await startInboundRig({ kind, clock, crm: "dynamics", pair: PAIR, mappingFile: "dynamics.yaml", connector: started.connector, seed: "inbound-dv", leads: 25 });
  });

  afterEach(async () => {
    await rig.close();
    await dv.close();
  });

  it("every lead becomes one Dataverse lead row keyed by its referral id, with its link confirmed", async () => {
    await rig.pull();
    expect(await rig.drain()).toBe(25);
    expect(dv.rows).toHaveLength(25);
    const [referral] = rig.pc.referrals.all();
    const row = dv.rows.find((r) => r.cosell_referralid === referral?.id);
    expect(row?.companyname).toBe(referral?.customerProfile?.name);
    const lead = await rig.store.repos.leads.findByReferralId(ACCOUNT, referral?.id ?? "");
    expect(await rig.store.repos.crmLinks.forLead(lead?.id ?? 0)).toEqual([expect.objectContaining({ pair: PAIR, status: "confirmed", crmRecordId: row?.leadid })]);
  });

  it("a second pull pushes nothing; a change in Partner Center updates the same row", async () => {
    await rig.pull();
    await rig.drain();
    clock.advance(60_000);
    await rig.pull();
    expect(await rig.drain()).toBe(0);

    const [target] = rig.pc.referrals.all();
    clock.advance(60_000);
    rig.pc.referrals.touch(target?.id ?? "", (r) => {
      r.customerProfile = { ...r.customerProfile, name: "Northwind Renamed" } as typeof r.customerProfile;
    });
    await rig.pull();
    expect(await rig.drain()).toBe(1);
    expect(dv.rows).toHaveLength(25);
    expect(dv.rows.find((r) => r.cosell_referralid === target?.id)?.companyname).toBe("Northwind Renamed");
  });
});
