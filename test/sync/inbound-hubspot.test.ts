import { afterEach, beforeEach, expect, it } from "vitest";
import type { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { ManualClock } from "../../src/shared/clock.js";
import { startHubSpot } from "../helpers/hubspot.js";
import type { InboundRig } from "../helpers/inbound.js";
import { ACCOUNT, startInboundRig } from "../helpers/inbound.js";
import { describeEachStore } from "../helpers/stores.js";

describeEachStore("inbound: Partner Center leads into HubSpot as company, contact and associated lead", (kind) => {
  const clock = new ManualClock("2026-11-24T10:00:00Z");
  let hs: HubSpotSandbox;
  let rig: InboundRig;
  const counts = () => [hs.count("companies"), hs.count("contacts"), hs.count("leads")];

  beforeEach(async () => {
    const started = await startHubSpot({ clock });
    hs = started.sandbox;
    rig = await startInboundRig({ kind, clock, crm: "hubspot", pair: "contoso-hubspot", mappingFile: "hubspot.yaml", connector: started.connector, seed: "inbound-hs", leads: 25 });
  });

  afterEach(async () => {
    await rig.close();
    await hs.close();
  });

  it("each lead is written after its company and contact and associated with both; every link is confirmed", async () => {
    await rig.pull();
    expect(await rig.drain()).toBe(25);
    expect(hs.count("leads")).toBe(25);
    const [referral] = rig.pc.referrals.all();
    const lead = await rig.store.repos.leads.findByReferralId(ACCOUNT, referral?.id ?? "");
    const links = await rig.store.repos.crmLinks.forLead(lead?.id ?? 0);
    expect(links.map((l) => [l.crmObject, l.status]).sort()).toEqual([
      ["company", "confirmed"],
      ["contact", "confirmed"],
      ["lead", "confirmed"],
    ]);
    const ids = Object.fromEntries(links.map((l) => [l.crmObject, l.crmRecordId]));
    const written = hs.get("leads", ids.lead ?? "");
    // The lead's link keeps the stamp its create left (the change feed's "nothing since"); the
    // company's and contact's, which no change feed reads, keep none.
    expect(Object.fromEntries(links.map((l) => [l.crmObject, l.lastPushedModstamp]))).toEqual({ company: undefined, contact: undefined, lead: written?.properties.hs_lastmodifieddate });
    expect(written?.properties.cosell_referral_id).toBe(referral?.id);
    expect(written?.associations.map((a) => `${a.toType}:${a.toId}`).sort()).toEqual([`companies:${ids.company}`, `contacts:${ids.contact}`]);
    expect(hs.get("companies", ids.company ?? "")?.properties.name).toBe(referral?.customerProfile?.name);
  });

  it("a second pull pushes nothing and HubSpot holds no duplicates", async () => {
    await rig.pull();
    await rig.drain();
    const before = counts();
    clock.advance(60_000);
    await rig.pull();
    expect(await rig.drain()).toBe(0);
    expect(counts()).toEqual(before);
  });
});
