import { afterEach, beforeEach, expect, it } from "vitest";
import type { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import type { SalesforceConnector } from "../../connectors/salesforce/connector.js";
import { createSandboxPki } from "../../src/auth/sandbox/pki.js";
import { silentLogger } from "../../src/log/logger.js";
import type { CompiledMapping } from "../../src/mapping/index.js";
import { MappingRegistry } from "../../src/mapping/index.js";
import type { ReferralClient } from "../../src/partner-center/client.js";
import { OutboxWorker } from "../../src/queue/worker.js";
import type { PartnerCenterSandbox } from "../../src/sandbox/partner-center/sandbox.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { Store } from "../../src/store/index.js";
import { crmUpsertHandler } from "../../src/sync/crm-upsert-handler.js";
import { CRM_UPSERT, enqueueCrmUpsert } from "../../src/sync/enqueue-crm-upsert.js";
import { pullChangedLeads } from "../../src/sync/pull-leads.js";
import { startSandboxWithClient } from "../helpers/pc-sandbox.js";
import { startSalesforce } from "../helpers/salesforce.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase, describeEachStore, openMigratedStore } from "../helpers/stores.js";

const ACCOUNT = "contoso";
const PAIR = "contoso-sf";
const TARGET = "crm:salesforce";
const pki = createSandboxPki();

describeEachStore("inbound: Partner Center leads into Salesforce through the outbox", (kind) => {
  const clock = new ManualClock("2026-11-24T10:00:00Z");
  let pc: PartnerCenterSandbox;
  let client: ReferralClient;
  let sf: SalesforceSandbox;
  let connector: SalesforceConnector;
  let database: TestDatabase;
  let store: Store;
  let mapping: CompiledMapping;
  let worker: OutboxWorker;

  const pull = () =>
    pullChangedLeads({
      account: ACCOUNT,
      client,
      store,
      clock,
      logger: silentLogger(),
      onStored: async (repos, saved, adapted, now) => {
        await enqueueCrmUpsert(repos, { pair: PAIR, crm: "salesforce", mapping, maxAttempts: 5 }, saved, adapted, now);
      },
    });
  const pending = async () => (await store.repos.outbox.stats(clock.now())).byState.pending?.[TARGET] ?? 0;
  const drain = async () => {
    let ran = 0;
    for (let n = await worker.runOnce(TARGET); n > 0; n = await worker.runOnce(TARGET)) ran += n;
    return ran;
  };

  beforeEach(async () => {
    ({ sandbox: pc, client } = await startSandboxWithClient({ clock, pki, seed: "inbound", leads: 25 }));
    ({ sandbox: sf, connector } = await startSalesforce({ clock }));
    database = await createTestDatabase(kind);
    store = await openMigratedStore(database);
    mapping = await new MappingRegistry(silentLogger(), "mappings").load("salesforce.yaml");
    worker = new OutboxWorker({
      store,
      clock,
      handlers: { [CRM_UPSERT]: crmUpsertHandler({ connector, store, clock }) },
      targets: { [TARGET]: { concurrency: 1, batchSize: 10, requestsPerInterval: 1_000, intervalMs: 1_000 } },
      logger: silentLogger(),
    });
  });

  afterEach(async () => {
    await store.close();
    await database.drop();
    await sf.close();
    await pc.close();
  });

  it("every new lead arrives as one Salesforce Lead with its fields, and its link is confirmed", async () => {
    const report = await pull();
    expect(report.created).toBe(25);
    expect(await pending()).toBe(25);
    expect(await drain()).toBe(25);
    expect(sf.org.leads.size).toBe(25);

    const [referral] = pc.referrals.all();
    const lead = await store.repos.leads.findByReferralId(ACCOUNT, referral?.id ?? "");
    const record = [...sf.org.leads.values()].find((r) => r.Cosell_Referral_Id__c === referral?.id);
    expect(record).toMatchObject({ Company: referral?.customerProfile?.name, LeadSource: "Microsoft Joint Planning", Cosell_Engagement_Id__c: referral?.engagementId });
    const [link] = await store.repos.crmLinks.forLead(lead?.id ?? 0);
    expect(link).toMatchObject({ pair: PAIR, crmObject: "lead", status: "confirmed", crmRecordId: record?.Id });
    const kinds = (await store.repos.events.timeline(lead?.id ?? 0)).map((e) => e.kind);
    expect(kinds).toEqual(["crm-upserted", "crm-upsert-queued", "lead-received"]);
  });

  it("a pull that finds nothing new, or only the overlap re-read, queues no upsert", async () => {
    await pull();
    await drain();
    clock.advance(60_000);
    const again = await pull();
    expect(again.created + again.updated).toBe(0);
    expect(await pending()).toBe(0);
  });

  it("a change made in Partner Center reaches the same Salesforce record, and only that lead is pushed", async () => {
    await pull();
    await drain();
    const [target] = pc.referrals.all();
    const before = [...sf.org.leads.values()].find((r) => r.Cosell_Referral_Id__c === target?.id);
    clock.advance(60_000);
    pc.referrals.touch(target?.id ?? "", (r) => {
      r.customerProfile = { ...r.customerProfile, name: "Fabrikam Renamed Ltd" } as typeof r.customerProfile;
    });
    const report = await pull();
    expect(report.updated).toBe(1);
    expect(await pending()).toBe(1);
    expect(await drain()).toBe(1);
    expect(sf.org.leads.size).toBe(25);
    const after = sf.org.leads.get(before?.Id ?? "");
    expect(after?.Company).toBe("Fabrikam Renamed Ltd");
  });

  it("while Salesforce is down nothing is confirmed; once it is back the retry lands every lead", async () => {
    await pull();
    sf.faults.errorRate = 1;
    await worker.runOnce(TARGET);
    const during = await store.repos.outbox.stats(clock.now());
    expect(during.byState.done?.[TARGET] ?? 0).toBe(0);
    const [referral] = pc.referrals.all();
    const lead = await store.repos.leads.findByReferralId(ACCOUNT, referral?.id ?? "");
    expect((await store.repos.crmLinks.forLead(lead?.id ?? 0)).filter((l) => l.status === "confirmed")).toEqual([]);
    expect(sf.org.leads.size).toBe(0);

    sf.faults.errorRate = 0;
    clock.advance(60 * 60_000);
    await drain();
    expect((await store.repos.outbox.stats(clock.now())).byState.done?.[TARGET]).toBe(25);
    expect(sf.org.leads.size).toBe(25);
    expect((await store.repos.crmLinks.forLead(lead?.id ?? 0)).map((l) => l.status)).toEqual(["confirmed"]);
  });
});
