import { afterEach, beforeEach, expect, it } from "vitest";
import type { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { InboundRig } from "../helpers/inbound.js";
import { ACCOUNT, startInboundRig } from "../helpers/inbound.js";
import { sellerEdit, startSalesforce } from "../helpers/salesforce.js";
import { describeEachStore } from "../helpers/stores.js";

const PAIR = "contoso-sf";

describeEachStore("inbound: Partner Center leads into Salesforce through the outbox", (kind) => {
  const clock = new ManualClock("2026-11-24T10:00:00Z");
  let sf: SalesforceSandbox;
  let rig: InboundRig;
  const pending = async () => (await rig.store.repos.outbox.stats(clock.now())).byState.pending?.[rig.target] ?? 0;
  const linksOf = async (referralId: string) => {
    const lead = await rig.store.repos.leads.findByReferralId(ACCOUNT, referralId);
    return { lead, links: await rig.store.repos.crmLinks.forLead(lead?.id ?? 0) };
  };

  beforeEach(async () => {
    const started = await startSalesforce({ clock });
    sf = started.sandbox;
    rig = await startInboundRig({ kind, clock, crm: "salesforce", pair: PAIR, mappingFile: "salesforce.yaml", connector: started.connector, seed: "inbound", leads: 25 });
  });

  afterEach(async () => {
    await rig.close();
    await sf.close();
  });

  it("every new lead arrives as one Salesforce Lead with its fields, and its link is confirmed", async () => {
    const report = await rig.pull();
    expect(report.created).toBe(25);
    expect(await pending()).toBe(25);
    expect(await rig.drain()).toBe(25);
    expect(sf.org.leads.size).toBe(25);

    const [referral] = rig.pc.referrals.all();
    const record = [...sf.org.leads.values()].find((r) => r.Cosell_Referral_Id__c === referral?.id);
    expect(record).toMatchObject({ Company: referral?.customerProfile?.name, LeadSource: "Microsoft Joint Planning", Cosell_Engagement_Id__c: referral?.engagementId });
    const { lead, links } = await linksOf(referral?.id ?? "");
    expect(links).toEqual([expect.objectContaining({ pair: PAIR, crmObject: "lead", status: "confirmed", crmRecordId: record?.Id })]);
    const kinds = (await rig.store.repos.events.timeline(lead?.id ?? 0)).map((e) => e.kind);
    expect(kinds).toEqual(["crm-upserted", "crm-upsert-queued", "lead-received"]);
  });

  it("a pull that finds nothing new, or only the overlap re-read, queues no upsert", async () => {
    await rig.pull();
    await rig.drain();
    clock.advance(60_000);
    const again = await rig.pull();
    expect(again.created + again.updated).toBe(0);
    expect(await pending()).toBe(0);
  });

  it("a change made in Partner Center reaches the same Salesforce record, and only that lead is pushed", async () => {
    await rig.pull();
    await rig.drain();
    const [target] = rig.pc.referrals.all();
    const before = [...sf.org.leads.values()].find((r) => r.Cosell_Referral_Id__c === target?.id);
    clock.advance(60_000);
    rig.pc.referrals.touch(target?.id ?? "", (r) => {
      r.customerProfile = { ...r.customerProfile, name: "Fabrikam Renamed Ltd" } as typeof r.customerProfile;
    });
    expect((await rig.pull()).updated).toBe(1);
    expect(await pending()).toBe(1);
    expect(await rig.drain()).toBe(1);
    expect(sf.org.leads.size).toBe(25);
    expect(sf.org.leads.get(before?.Id ?? "")?.Company).toBe("Fabrikam Renamed Ltd");
  });

  it("an update leaves the fields the mapping gives the CRM alone: a seller's Status and Description stay", async () => {
    await rig.pull();
    await rig.drain();
    const [target] = rig.pc.referrals.all();
    const record = [...sf.org.leads.values()].find((r) => r.Cosell_Referral_Id__c === target?.id);
    expect((await sellerEdit(sf, String(record?.Id), { Status: "Working - Contacted", Description: "Called the CIO" })).status).toBe(204);
    clock.advance(60_000);
    rig.pc.referrals.touch(target?.id ?? "", (r) => {
      r.customerProfile = { ...r.customerProfile, name: "Contoso Pharma" } as typeof r.customerProfile;
    });
    await rig.pull();
    expect(await rig.drain()).toBe(1);
    expect(sf.org.leads.get(String(record?.Id))).toMatchObject({ Company: "Contoso Pharma", Status: "Working - Contacted", Description: "Called the CIO" });
  });

  it("a job whose payload is already written (queued while its twin ran) succeeds without a CRM call", async () => {
    await rig.pull();
    await rig.drain();
    const [done] = await rig.store.repos.outbox.list({ state: "done", limit: 1 });
    await rig.store.transaction((repos) => repos.outbox.enqueue({ pair: PAIR, target: rig.target, kind: done?.kind ?? "", leadId: done?.leadId ?? 0, payload: done?.payload, coalesceKey: null, maxAttempts: 5 }, clock.now()));
    const requests = sf.stats.requests;
    expect(await rig.drain()).toBe(1);
    expect(sf.stats.requests).toBe(requests);
    expect((await rig.store.repos.outbox.stats(clock.now())).byState.done?.[rig.target]).toBe(26);
  });

  it("while Salesforce is down nothing is confirmed; once it is back the retry lands every lead", async () => {
    await rig.pull();
    sf.faults.errorRate = 1;
    await rig.drain();
    expect((await rig.store.repos.outbox.stats(clock.now())).byState.done?.[rig.target] ?? 0).toBe(0);
    const [referral] = rig.pc.referrals.all();
    expect((await linksOf(referral?.id ?? "")).links.filter((l) => l.status === "confirmed")).toEqual([]);
    expect(sf.org.leads.size).toBe(0);

    sf.faults.errorRate = 0;
    clock.advance(60 * 60_000);
    await rig.drain();
    expect((await rig.store.repos.outbox.stats(clock.now())).byState.done?.[rig.target]).toBe(25);
    expect(sf.org.leads.size).toBe(25);
    expect((await linksOf(referral?.id ?? "")).links.map((l) => l.status)).toEqual(["confirmed"]);
  });
});
