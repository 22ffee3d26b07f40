import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { HubSpotConnector } from "../../connectors/hubspot/connector.js";
import type { CrmConnector, UpsertRequest } from "../../connectors/types.js";
import type { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import type { WireReferral } from "../../src/partner-center/wire.js";
import { silentLogger } from "../../src/log/logger.js";
import type { HandlerContext } from "../../src/queue/types.js";
import { ManualClock } from "../../src/shared/clock.js";
import { crmUpsertHandler } from "../../src/sync/crm-upsert-handler.js";
import { SharedLookahead } from "../../src/sync/shared-lookahead.js";
import type { CrmUpsertPayload } from "../../src/sync/enqueue-crm-upsert.js";
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

describeEachStore("shared CRM records: written ahead for the leads queued next", (kind) => {
  const clock = new ManualClock("2026-11-24T10:00:00Z");
  let hs: HubSpotSandbox;
  let rig: InboundRig;
  let shared: SharedRecordCache;
  let connector: HubSpotConnector;

  beforeEach(async () => {
    const started = await startHubSpot({ clock });
    hs = started.sandbox;
    connector = started.connector;
    shared = new SharedRecordCache();
  });

  afterEach(async () => {
    await rig.close();
    await hs.close();
  });

  const linkOf = async (referralId: string, object: string) => {
    const lead = await rig.store.repos.leads.findByReferralId(ACCOUNT, referralId);
    return (await rig.store.repos.crmLinks.forLead(lead?.id ?? 0)).find((link) => link.crmObject === object)?.crmRecordId ?? "";
  };

  it("fills a batch's company and contact calls with those of the leads after it: one call each for three batches", async () => {
    rig = await startInboundRig({ kind, clock, crm: "hubspot", pair: "contoso-hubspot", mappingFile: "hubspot.yaml", connector, seed: "ahead-hs", leads: 6, shared, lookahead: true, batchSize: 2 });
    await rig.pull();
    expect(await rig.drain()).toBe(6);
    // Three batches of two leads: without the look-ahead, three company and three contact calls.
    expect(hs.stats.byRoute["POST /crm/v3/objects/leads/batch/create"]).toBe(3);
    expect(hs.stats.byRoute[COMPANY_WRITES]).toBe(1);
    expect(hs.stats.byRoute["POST /crm/v3/objects/contacts/batch/upsert"]).toBe(1);
    expect(hs.count("leads")).toBe(6);
    // Each lead is associated with its own customer's company and contact, written ahead or not.
    for (const referral of rig.pc.referrals.all()) {
      const [leadId, companyId, contactId] = [await linkOf(referral.id, "lead"), await linkOf(referral.id, "company"), await linkOf(referral.id, "contact")];
      expect(hs.get("companies", companyId)?.properties.name).toBe(referral.customerProfile?.name);
      expect(hs.get("contacts", contactId)?.properties.email?.toLowerCase()).toBe(referral.customerProfile?.team?.[0]?.email?.toLowerCase());
      expect(hs.get("leads", leadId)?.associations.map((a) => `${a.toType}:${a.toId}`)).toEqual(expect.arrayContaining([`companies:${companyId}`, `contacts:${contactId}`]));
    }
  });

  it("a call under three quarters full waits for the pull's next page and takes its leads' companies too", async () => {
    rig = await startInboundRig({ kind, clock, crm: "hubspot", pair: "contoso-hubspot", mappingFile: "hubspot.yaml", connector, seed: "ahead-hs", leads: 2, shared, lookahead: true });
    await rig.pull();
    const calls: string[][] = [];
    const handler = crmUpsertHandler({ connector: companyCallsOf(connector, async (keys) => void calls.push(keys)), store: rig.store, clock, shared, lookahead: new SharedLookahead({ store: rig.store, target: rig.target, cache: shared }) });
    const jobs = await rig.store.transaction((repos) => repos.outbox.lease({ owner: "test", target: rig.target, limit: 10, leaseMs: 60_000, now: clock.now() }));
    expect(jobs).toHaveLength(2);
    // The worker's word while the pull has pages left: the next page lands, then nothing more comes.
    let waits = 0;
    const awaitMore = async () => {
      waits += 1;
      if (waits > 1) return false;
      clock.advance(1_000);
      rig.pc.generate(3);
      await rig.pull();
      return true;
    };
    expect((await handler.handle(jobs, { ...context, awaitMore })).outcomes.every((outcome) => outcome.ok)).toBe(true);
    // The company call waited for the page and once more; the contact call (five of a hundred) once.
    expect(waits).toBe(3);
    const companies = new Set(rig.pc.referrals.all().map((r) => r.customerProfile?.name));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(companies.size);
    // The page's leads find their companies written: no company call of their own.
    expect(await rig.drain()).toBe(3);
    expect(calls).toHaveLength(1);
    expect(hs.stats.byRoute[COMPANY_WRITES]).toBe(1);
    expect(hs.stats.byRoute["POST /crm/v3/objects/contacts/batch/upsert"]).toBe(1);
  });

  it("a batch whose shared record is under way in another batch's call waits for that call instead of writing it again", async () => {
    rig = await startInboundRig({ kind, clock, crm: "hubspot", pair: "contoso-hubspot", mappingFile: "hubspot.yaml", connector, seed: "shared-hs", leads: 4, shared });
    const [first, ...others] = rig.pc.referrals.all() as [WireReferral, ...WireReferral[]];
    for (const referral of others) {
      rig.pc.referrals.touch(referral.id, (r) => {
        r.customerProfile = structuredClone(first.customerProfile);
        if (r.details?.requirements && first.details?.requirements) r.details.requirements.industries = [...(first.details.requirements.industries ?? [])];
      });
    }
    await rig.pull();
    // The first batch's company call is held until the second batch has looked at its records.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const companyCalls: string[][] = [];
    const gated = companyCallsOf(connector, async (keys) => {
      companyCalls.push(keys);
      await held;
    });
    const handler = crmUpsertHandler({ connector: gated, store: rig.store, clock, shared });
    const jobs = await rig.store.transaction((repos) => repos.outbox.lease({ owner: "test", target: rig.target, limit: 4, leaseMs: 60_000, now: clock.now() }));
    expect(jobs).toHaveLength(4);
    const firstBatch = handler.handle(jobs.slice(0, 2), context);
    await vi.waitFor(() => expect(companyCalls).toHaveLength(1));
    const secondBatch = handler.handle(jobs.slice(2), context);
    await vi.waitFor(() => expect(shared.flying).toBe(1));
    release();
    const batches = [await firstBatch, await secondBatch];
    expect(batches.flatMap((batch) => batch.outcomes).every((outcome) => outcome.ok)).toBe(true);
    // What the worker records as it settles them: the links.
    for (const batch of batches) await rig.store.transaction(async (repos) => batch.commit?.(repos));
    // One company call for both batches, and every lead associated with that one company.
    expect(companyCalls).toHaveLength(1);
    expect(hs.count("companies")).toBe(1);
    const [company] = hs.all("companies");
    for (const referral of rig.pc.referrals.all()) expect(await linkOf(referral.id, "company")).toBe(company?.id);
    expect(shared.flying).toBe(0);
  });
});

describeEachStore("shared CRM records: one record per key in a call", (kind) => {
  const clock = new ManualClock("2026-11-24T10:00:00Z");

  it("two leads of one customer that disagree on its fields send it once, with the later lead's fields", async () => {
    const { sandbox: hs, connector } = await startHubSpot({ clock });
    const rig = await startInboundRig({ kind, clock, crm: "hubspot", pair: "contoso-hubspot", mappingFile: "hubspot.yaml", connector, seed: "shared-hs", leads: 2 });
    try {
      const [first, second] = rig.pc.referrals.all() as [WireReferral, WireReferral];
      rig.pc.referrals.touch(second.id, (r) => {
        r.customerProfile = { ...structuredClone(first.customerProfile), size: "Morethan20000employees" };
      });
      await rig.pull();
      const calls: string[][] = [];
      const handler = crmUpsertHandler({ connector: companyCallsOf(connector, async (keys) => void calls.push(keys)), store: rig.store, clock, shared: new SharedRecordCache() });
      const jobs = await rig.store.transaction((repos) => repos.outbox.lease({ owner: "test", target: rig.target, limit: 2, leaseMs: 60_000, now: clock.now() }));
      const sizes = jobs.map((job) => (job.payload as CrmUpsertPayload).records.find((r) => r.name === "company")?.fields.numberofemployees);
      expect(new Set(sizes).size).toBe(2);
      expect((await handler.handle(jobs, context)).outcomes.every((outcome) => outcome.ok)).toBe(true);
      // Twice the same id in one batch is refused by the CRMs; each lead's record would have won in turn.
      expect(calls).toEqual([[expect.any(String)]]);
      expect(hs.count("companies")).toBe(1);
      const [company] = hs.all("companies");
      expect(company?.properties.numberofemployees).toBe(String(sizes[1]));
    } finally {
      await rig.close();
      await hs.close();
    }
  });
});

/** What the worker hands a handler, less pacing (these tests count calls, not time). */
const context: HandlerContext = { signal: new AbortController().signal, logger: silentLogger() };

/** The connector, with `onCompanies` told each company call's keys (and awaited) before it goes. */
function companyCallsOf(connector: CrmConnector, onCompanies: (keys: string[]) => Promise<void>): CrmConnector {
  return {
    kind: connector.kind,
    ...(connector.upsertBatchLimit ? { upsertBatchLimit: connector.upsertBatchLimit } : {}),
    connect: () => connector.connect(),
    checkSchema: (requirements) => connector.checkSchema(requirements),
    changes: (request) => connector.changes(request),
    rateInfo: () => connector.rateInfo(),
    close: () => connector.close(),
    upsert: async (request: UpsertRequest) => {
      if (request.object === "companies") await onCompanies(request.records.map((r) => r.key));
      return connector.upsert(request);
    },
  };
}
