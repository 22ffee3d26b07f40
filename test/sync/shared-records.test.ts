import { afterEach, beforeEach, expect, it } from "vitest";
import type { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import type { WireReferral } from "../../src/partner-center/wire.js";
import { ManualClock } from "../../src/shared/clock.js";
import { SharedRecordCache } from "../../src/sync/shared-record-cache.js";
import { startHubSpot } from "../helpers/hubspot.js";
import type { InboundRig } from "../helpers/inbound.js";
import { ACCOUNT, startInboundRig } from "../helpers/inbound.js";
import { describeEachStore } from "../helpers/stores.js";

const COMPANY_WRITES = "POST /crm/v3/objects/companies/batch/upsert";

describeEachStore("shared CRM records: a company several leads share", (kind) => {
  const clock = new ManualClock("2026-11-24T10:00:00Z");
  let hs: HubSpotSandbox;
  let rig: InboundRig;
  let shared: SharedRecordCache;

  beforeEach(async () => {
    const started = await startHubSpot({ clock });
    hs = started.sandbox;
    shared = new SharedRecordCache();
    rig = await startInboundRig({ kind, clock, crm: "hubspot", pair: "contoso-hubspot", mappingFile: "hubspot.yaml", connector: started.connector, seed: "shared-hs", leads: 4, shared });
  });

  afterEach(async () => {
    await rig.close();
    await hs.close();
  });

  /** Microsoft sends these leads for one customer: the first lead's profile and industry. */
  const sameCustomer = (ids: string[], customer: WireReferral, change: (referral: WireReferral) => void = () => undefined) => {
    for (const id of ids) {
      rig.pc.referrals.touch(id, (referral) => {
        referral.customerProfile = structuredClone(customer.customerProfile);
        if (referral.details?.requirements && customer.details?.requirements) referral.details.requirements.industries = [...(customer.details.requirements.industries ?? [])];
        change(referral);
      });
    }
  };
  const companyOf = async (referralId: string) => {
    const lead = await rig.store.repos.leads.findByReferralId(ACCOUNT, referralId);
    return (await rig.store.repos.crmLinks.forLead(lead?.id ?? 0)).find((link) => link.crmObject === "company")?.crmRecordId;
  };

  it("is written once while its fields stay the same, reused by later leads, and written again when they change", async () => {
    const [first, ...others] = rig.pc.referrals.all() as [WireReferral, ...WireReferral[]];
    sameCustomer(others.map((r) => r.id), first);
    await rig.pull();
    expect(await rig.drain()).toBe(4);
    // One batch: the four identical company records went as one.
    expect(hs.stats.byRoute[COMPANY_WRITES]).toBe(1);
    expect(hs.count("companies")).toBe(1);

    clock.advance(60_000);
    const later = rig.pc.generate(2);
    sameCustomer(later.map((r) => r.id), first);
    await rig.pull();
    expect(await rig.drain()).toBe(2);
    // Not written again: the leads are associated with the company (and the customer's contact,
    // the same person) written before.
    expect(hs.stats.byRoute[COMPANY_WRITES]).toBe(1);
    expect(hs.stats.byRoute["POST /crm/v3/objects/contacts/batch/upsert"]).toBe(1);
    expect(shared.hits).toBe(4);
    const companyId = await companyOf(first.id);
    expect(companyId).toBeDefined();
    for (const referral of later) {
      expect(await companyOf(referral.id)).toBe(companyId);
      const leadId = (await rig.store.repos.crmLinks.forLead((await rig.store.repos.leads.findByReferralId(ACCOUNT, referral.id))?.id ?? 0)).find((l) => l.crmObject === "lead")?.crmRecordId ?? "";
      expect(hs.get("leads", leadId)?.associations.map((a) => `${a.toType}:${a.toId}`)).toContain(`companies:${companyId}`);
    }

    // The customer grew: the next lead carries a new size, so the company is written again.
    clock.advance(60_000);
    const [grown] = rig.pc.generate(1) as [WireReferral];
    sameCustomer([grown.id], first, (referral) => {
      if (referral.customerProfile) referral.customerProfile.size = "Morethan20000employees";
    });
    await rig.pull();
    expect(await rig.drain()).toBe(1);
    expect(hs.stats.byRoute[COMPANY_WRITES]).toBe(2);
    expect(hs.get("companies", companyId ?? "")?.properties.numberofemployees).toBe("20001");
    expect(hs.count("companies")).toBe(1);
  });
});
