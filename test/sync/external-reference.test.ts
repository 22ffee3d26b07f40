import { afterEach, beforeEach, expect, it } from "vitest";
import { silentLogger } from "../../src/log/logger.js";
import type { HandlerContext, JobHandler } from "../../src/queue/types.js";
import { adaptReferral, parseReferral } from "../../src/partner-center/adapter.js";
import type { PartnerCenterSandbox } from "../../src/sandbox/partner-center/sandbox.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { OutboxJob, Store } from "../../src/store/index.js";
import { externalReferenceHandler, externalReferenceJob } from "../../src/sync/external-reference.js";
import { leadInputFrom } from "../../src/sync/lead-record.js";
import { startSandboxWithClient } from "../helpers/pc-sandbox.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase, describeEachStore, openMigratedStore } from "../helpers/stores.js";

const context: HandlerContext = { signal: new AbortController().signal, logger: silentLogger() };

describeEachStore("Partner Center write-back of the CRM id", (kind) => {
  const clock = new ManualClock("2026-11-24T10:00:00Z");
  let database: TestDatabase;
  let store: Store;
  let sandbox: PartnerCenterSandbox;
  let handler: JobHandler;
  let job: OutboxJob;
  let referralId: string;

  beforeEach(async () => {
    database = await createTestDatabase(kind);
    store = await openMigratedStore(database);
    const started = await startSandboxWithClient({ clock, seed: "external-reference" });
    sandbox = started.sandbox;
    const [referral] = sandbox.generate(1, { acceptedShare: 0 });
    referralId = referral?.id ?? "";
    const saved = await store.transaction((repos) => repos.leads.save(leadInputFrom("pc", adaptReferral(sandbox.referrals.get(referralId))), clock.now()));
    handler = externalReferenceHandler({ store, clock, clients: new Map([["pc", started.client]]) });
    const queued = await store.transaction(async (repos) => {
      await repos.outbox.enqueue(externalReferenceJob(saved.lead.id, { account: "pc", referralId, pair: "p", crmRecordId: "crm-42" }, 5), clock.now());
      return repos.outbox.lease({ owner: "test", target: "partner-center", limit: 1, leaseMs: 60_000, now: clock.now() });
    });
    job = queued[0] as OutboxJob;
  });

  afterEach(async () => {
    await sandbox.close();
    await store.close();
    await database.drop();
  });

  const stored = async () => parseReferral((await store.repos.leads.findByReferralId("pc", referralId))?.raw);
  const timeline = async () => (await store.repos.events.timeline(job.leadId ?? 0)).map((event) => event.kind);

  it("writes the id to Partner Center and stores its answer only as the batch settles", async () => {
    const result = await handler.handle([job], context);
    expect(result.outcomes).toEqual([{ ok: true }]);
    expect(sandbox.referrals.get(referralId).externalReferenceId).toBe("crm-42");
    // Nothing is stored until the worker settles the batch with its commit.
    expect((await stored()).externalReferenceId).toBeUndefined();
    await store.transaction(async (repos) => result.commit?.(repos));
    expect((await stored()).externalReferenceId).toBe("crm-42");
    expect(await timeline()).toContain("external-reference-written");
  });

  it("keeps a later version a pull stored while the batch ran, instead of rolling it back", async () => {
    const result = await handler.handle([job], context);
    clock.advance(60_000);
    const later = sandbox.referrals.touch(referralId, (r) => {
      r.notes = "a seller's later note";
    });
    await store.transaction((repos) => repos.leads.save(leadInputFrom("pc", adaptReferral(later)), clock.now()));
    await store.transaction(async (repos) => result.commit?.(repos));
    const kept = await stored();
    expect(kept.eTag).toBe(later.eTag);
    expect(kept.notes).toBe("a seller's later note");
    expect(kept.externalReferenceId).toBe("crm-42");
    expect(await timeline()).toContain("external-reference-written");
  });

  it("stores a whole batch's answers as it settles, each with its timeline entry, beside a job that failed", async () => {
    const [first, second, unknown] = sandbox.generate(3, { acceptedShare: 0 });
    const more = [first, second].filter((referral) => referral !== undefined);
    const jobs = await store.transaction(async (repos) => {
      for (const [n, referral] of more.entries()) {
        const saved = await repos.leads.save(leadInputFrom("pc", adaptReferral(sandbox.referrals.get(referral.id))), clock.now());
        await repos.outbox.enqueue(externalReferenceJob(saved.lead.id, { account: "pc", referralId: referral.id, pair: "p", crmRecordId: `crm-${n}` }, 5), clock.now());
      }
      // An account this daemon does not know: the job fails, the others' answers are stored.
      const orphan = await repos.leads.save(leadInputFrom("pc", adaptReferral(sandbox.referrals.get(unknown?.id ?? ""))), clock.now());
      await repos.outbox.enqueue(externalReferenceJob(orphan.lead.id, { account: "elsewhere", referralId: unknown?.id ?? "", pair: "q", crmRecordId: "crm-x" }, 5), clock.now());
      return repos.outbox.lease({ owner: "test", target: "partner-center", limit: 10, leaseMs: 60_000, now: clock.now() });
    });
    const result = await handler.handle([job, ...jobs], context);
    expect(result.outcomes.map((outcome) => outcome.ok)).toEqual([true, true, true, false]);
    await store.transaction(async (repos) => result.commit?.(repos));
    expect((await stored()).externalReferenceId).toBe("crm-42");
    for (const [n, referral] of more.entries()) {
      const lead = await store.repos.leads.findByReferralId("pc", referral.id);
      expect(parseReferral(lead?.raw).externalReferenceId).toBe(`crm-${n}`);
      expect((await store.repos.events.timeline(lead?.id ?? 0)).map((event) => event.kind)).toContain("external-reference-written");
    }
  });
});
