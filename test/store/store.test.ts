import pg from "pg";
import { beforeEach, expect, it } from "vitest";
import type { DueDeadline, LeadInput } from "../../src/store/index.js";
import { reminderKey, Store } from "../../src/store/index.js";
import { contentHash } from "../../src/shared/content-hash.js";
import { createTestDatabase, describeEachStore, useMigratedStore } from "../helpers/stores.js";

const T0 = new Date("2026-04-01T10:00:00Z");
const later = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

function leadInput(overrides: Partial<LeadInput> = {}): LeadInput {
  const raw = { id: overrides.referralId ?? "ref-1", name: "Contoso JP lead", status: "New" };
  return {
    account: "acme",
    referralId: "ref-1",
    engagementId: "eng-1",
    program: "JointPlanning",
    name: "Contoso JP lead",
    state: "new",
    status: "New",
    substatus: "Received",
    eTag: '"etag-1"',
    remoteCreatedAt: T0,
    remoteUpdatedAt: T0,
    acceptBy: new Date(T0.getTime() + 14 * 86_400_000),
    contentHash: contentHash(raw),
    raw,
    ...overrides,
  };
}

describeEachStore("store", (kind) => {
  const current = useMigratedStore(kind);
  let store: Store;
  beforeEach(() => {
    store = current();
  });

  it("migrates once: a second run applies nothing", async () => {
    const again = await store.migrate();
    expect(again.applied).toEqual([]);
    expect(again.current).toEqual(["001-initial", "002-outbox", "003-crm-link-sync-state", "004-local-closes", "005-reminders", "006-sync-runs", "007-schedule-leases", "008-outbox-lease-order", "009-crm-links-by-lead", "010-crm-links-pushed-modstamp", "011-lean-indexes"]);
  });

  it("saves a lead, round-trips every column, and skips an unchanged replay", async () => {
    const input = leadInput({
      qualifyCompletedAt: later(5),
      ownerEmail: "ada@partner.example",
      statusReason: "Working",
      expiresAt: later(60),
    });
    const created = await store.repos.leads.save(input, T0);
    expect(created.outcome).toBe("created");
    const found = await store.repos.leads.findByReferralId("acme", "ref-1");
    expect(found).toEqual({ ...input, id: created.lead.id, createdAt: T0, updatedAt: T0 });
    expect(found?.qualifyCompletedAt).toBeInstanceOf(Date);

    const replay = await store.repos.leads.save(input, later(1));
    expect(replay.outcome).toBe("unchanged");
    expect((await store.repos.leads.findById(created.lead.id))?.updatedAt).toEqual(T0);
  });

  it("updates on a new eTag or content and reports the previous hash", async () => {
    const first = await store.repos.leads.save(leadInput(), T0);
    const raw = { id: "ref-1", status: "Active" };
    const update = leadInput({ state: "accepted", status: "Active", substatus: "Accepted", eTag: '"etag-2"', raw, contentHash: contentHash(raw) });
    const saved = await store.repos.leads.save(update, later(2));
    expect(saved).toMatchObject({ outcome: "updated", previousHash: first.lead.contentHash });
    expect(await store.repos.leads.findById(first.lead.id)).toMatchObject({ state: "accepted", eTag: '"etag-2"', raw, updatedAt: later(2) });
  });

  it("keeps the same referral id apart per account", async () => {
    await store.repos.leads.save(leadInput(), T0);
    await store.repos.leads.save(leadInput({ account: "other" }), T0);
    expect(await store.repos.leads.countByState()).toEqual({ new: 2 });
    expect(await store.repos.leads.countByState("other")).toEqual({ new: 1 });
  });

  it("lists open leads due by a time, soonest first, across both windows", async () => {
    await store.repos.leads.save(leadInput({ referralId: "a", acceptBy: later(30) }), T0);
    await store.repos.leads.save(leadInput({ referralId: "b", state: "qualified", acceptBy: later(1), actBy: later(10) }), T0);
    await store.repos.leads.save(leadInput({ referralId: "c", state: "won", acceptBy: later(1), actBy: later(2) }), T0);
    await store.repos.leads.save(leadInput({ referralId: "d", acceptBy: later(500) }), T0);
    const due = await store.repos.leads.listDueBy(later(60));
    expect(due.map((d) => [d.lead.referralId, d.deadline])).toEqual([
      ["b", "act"],
      ["a", "accept"],
    ]);
    expect(await store.repos.leads.countOpen()).toBe(3);
    // The same deadlines without the leads, for a reminder pass; and the reminders it need not try again.
    const deadlines = await store.repos.leads.listDeadlinesBy(later(60));
    expect(deadlines).toEqual(due.map((d) => ({ leadId: d.lead.id, deadline: d.deadline, at: d.at })));
    const [b] = deadlines as [DueDeadline];
    await store.repos.reminders.record({ leadId: b.leadId, deadline: b.deadline, deadlineAt: b.at, leadTimeMs: 3_600_000, outcome: "sent" }, T0);
    const recorded = await store.repos.reminders.recordedFor(deadlines.map((d) => d.leadId));
    expect([...recorded]).toEqual([reminderKey({ leadId: b.leadId, deadline: "act", deadlineAt: b.at, leadTimeMs: 3_600_000 })]);
    // Several at once: only the ones not recorded before come back as recorded now.
    const [, a] = deadlines as [DueDeadline, DueDeadline];
    const many = [
      { leadId: b.leadId, deadline: b.deadline, deadlineAt: b.at, leadTimeMs: 3_600_000, outcome: "sent" as const },
      { leadId: b.leadId, deadline: b.deadline, deadlineAt: b.at, leadTimeMs: 86_400_000, outcome: "skipped" as const },
      { leadId: a.leadId, deadline: a.deadline, deadlineAt: a.at, leadTimeMs: 3_600_000, outcome: "sent" as const },
    ];
    const fresh = await store.repos.reminders.recordMany(many, T0);
    expect([...fresh].sort()).toEqual(many.slice(1).map((r) => reminderKey(r)).sort());
    expect(await store.repos.reminders.recordMany(many, T0)).toEqual(new Set());
    expect(await store.repos.leads.findByIds([a.leadId, b.leadId, 999_999])).toEqual(new Map([[a.leadId, await store.repos.leads.findById(a.leadId)], [b.leadId, await store.repos.leads.findById(b.leadId)]]));
  });

  it("a transaction that throws leaves nothing behind", async () => {
    await expect(
      store.transaction(async (repos) => {
        const { lead } = await repos.leads.save(leadInput(), T0);
        await repos.events.append({ leadId: lead.id, at: T0, side: "partner-center", kind: "pulled" });
        await repos.cursors.save("partner-center:acme", "changes", { at: T0.toISOString(), id: "ref-1" }, T0);
        throw new Error("crash between the write and the commit");
      }),
    ).rejects.toThrow("crash between");
    expect(await store.repos.leads.findByReferralId("acme", "ref-1")).toBeUndefined();
    expect(await store.repos.cursors.get("partner-center:acme", "changes")).toBeUndefined();
  });

  it("reserves a CRM link once, confirms it, and finds it by record id", async () => {
    const { lead } = await store.repos.leads.save(leadInput(), T0);
    const link = await store.repos.crmLinks.reserve(lead.id, "acme-sf", "Lead", T0);
    expect(link).toMatchObject({ status: "pending", crmRecordId: undefined });
    expect((await store.repos.crmLinks.reserve(lead.id, "acme-sf", "Lead", later(1))).id).toBe(link.id);

    await store.repos.crmLinks.confirmPush(link.id, "00Q000000000001", "hash-1", later(2));
    expect(await store.repos.crmLinks.findByRecordId("acme-sf", "Lead", "00Q000000000001")).toMatchObject({
      leadId: lead.id,
      status: "confirmed",
      lastPushedHash: "hash-1",
      lastPushedAt: later(2),
    });
    expect(await store.repos.crmLinks.forLead(lead.id)).toHaveLength(1);
  });

  it("keeps the modification stamp each write left, by referral id, and no stale one after a write without", async () => {
    const { lead } = await store.repos.leads.save(leadInput(), T0);
    const push = { leadId: lead.id, pair: "acme-hs", crmObject: "lead", crmRecordId: "901", pushedHash: "h1" };
    await store.repos.crmLinks.confirmPushes([{ ...push, crmModstamp: "1796589875000", pushedFields: { status: "new" } }], later(1));
    // With the fields that write left, in the same read.
    expect(await store.repos.crmLinks.pushedModstampsFor("acme", "acme-hs", "lead", ["ref-1", "ref-2"])).toEqual(new Map([["ref-1", { modstamp: "1796589875000", fields: { status: "new" } }]]));
    expect(await store.repos.crmLinks.findByRecordId("acme-hs", "lead", "901")).toMatchObject({ lastPushedModstamp: "1796589875000" });
    // Another pair's or object's links are not this one's.
    expect(await store.repos.crmLinks.pushedModstampsFor("acme", "acme-hs", "contact", ["ref-1"])).toEqual(new Map());
    await store.repos.crmLinks.confirmPushes([{ ...push, pushedHash: "h2", pushedFields: { status: "new" } }], later(2));
    expect(await store.repos.crmLinks.pushedModstampsFor("acme", "acme-hs", "lead", ["ref-1"])).toEqual(new Map());
  });

  it("refuses a CRM link to a lead that does not exist", async () => {
    await expect(store.repos.crmLinks.reserve(999_999, "acme-sf", "Lead", T0)).rejects.toThrow();
  });

  it("saves and overwrites cursors", async () => {
    await store.repos.cursors.save("crm:acme-sf", "changes", { modstamp: "a", id: "1" }, T0);
    await store.repos.cursors.save("crm:acme-sf", "changes", { modstamp: "b", id: "2" }, later(1));
    expect(await store.repos.cursors.get("crm:acme-sf", "changes")).toEqual({ value: { modstamp: "b", id: "2" }, updatedAt: later(1) });
  });

  it("keeps a per-lead timeline, newest first, paged by id", async () => {
    const { lead } = await store.repos.leads.save(leadInput(), T0);
    for (let i = 0; i < 5; i += 1) {
      await store.repos.events.append({
        leadId: lead.id,
        pair: "acme-sf",
        at: later(i),
        side: i % 2 ? "crm" : "partner-center",
        kind: `step-${i}`,
        cause: i === 0 ? "webhook referral-created" : undefined,
        details: { i },
      });
    }
    const page = await store.repos.events.timeline(lead.id, { limit: 2 });
    expect(page.map((e) => e.kind)).toEqual(["step-4", "step-3"]);
    const next = await store.repos.events.timeline(lead.id, { limit: 10, beforeId: page[1]?.id });
    expect(next.map((e) => e.kind)).toEqual(["step-2", "step-1", "step-0"]);
    expect(next[2]).toMatchObject({ cause: "webhook referral-created", details: { i: 0 }, at: later(0), side: "partner-center" });
  });

  it("saves a page as one lead at a time would: created, unchanged and updated, ids matched by referral, a referral named twice seen in order", async () => {
    await store.repos.leads.save(leadInput({ referralId: "p-1" }), T0);
    const page = [
      leadInput({ referralId: "p-1" }),
      leadInput({ referralId: "p-2", name: "Second" }),
      leadInput({ referralId: "p-3", name: "Third" }),
      leadInput({ referralId: "p-0", eTag: '"etag-9"', account: "other" }),
    ];
    const saved = await store.transaction((repos) => repos.leads.saveMany(page, later(1)));
    expect(saved.map((s) => s.outcome)).toEqual(["unchanged", "created", "created", "created"]);
    for (const [index, one] of saved.entries()) {
      const found = await store.repos.leads.findById(one.lead.id);
      expect(found).toMatchObject({ referralId: page[index]?.referralId, account: page[index]?.account, name: page[index]?.name });
    }
    const changed = leadInput({ referralId: "p-2", name: "Second", eTag: '"etag-2"', contentHash: "changed" });
    const twice = await store.transaction((repos) => repos.leads.saveMany([changed, changed, leadInput({ referralId: "p-4" })], later(2)));
    expect(twice.map((s) => s.outcome)).toEqual(["updated", "unchanged", "created"]);
    expect(twice[0]?.previousHash).toBe(saved[1]?.lead.contentHash);
    expect(await store.repos.leads.countByState()).toEqual({ new: 5 });
  });

  it("gives each slot of a schedule to exactly one of several racing claimants, and a later slot replaces an earlier", async () => {
    const slot = later(1);
    const claims = await Promise.all(["a", "b", "c", "d"].map((owner) => store.repos.scheduleLeases.claim("pull:acme", slot, owner, later(1))));
    expect(claims.filter(Boolean)).toHaveLength(1);
    const winner = ["a", "b", "c", "d"][claims.indexOf(true)];
    expect(await store.repos.scheduleLeases.get("pull:acme")).toEqual({ slotAt: slot, owner: winner });
    expect(await store.repos.scheduleLeases.claim("pull:acme", slot, "e", later(2))).toBe(false);
    expect(await store.repos.scheduleLeases.claim("pull:acme", later(0), "e", later(2))).toBe(false);
    expect(await store.repos.scheduleLeases.claim("pull:acme", later(2), "e", later(2))).toBe(true);
    expect(await store.repos.scheduleLeases.claim("sweep", later(2), "e", later(2))).toBe(true);
  });

  // Two replicas racing to create knex's lock table could each insert its one row; knex then
  // refuses every replica as "already locked" for good. Replicas now take turns and mend it.
  it.runIf(kind === "postgres")("migrates a store whose migration lock table has two rows, or a lock left by a killed replica", async () => {
    for (const rows of [[0, 0], [1]]) {
      const database = await createTestDatabase(kind);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      await client.query("create table cosell_migrations_lock (index serial primary key, is_locked integer)");
      for (const locked of rows) await client.query("insert into cosell_migrations_lock (is_locked) values ($1)", [locked]);
      await client.end();
      const store = await Store.open({ url: database.url });
      try {
        const report = await store.migrate();
        expect(report.applied).toHaveLength(11);
      } finally {
        await store.close();
        await database.drop();
      }
    }
  });

  // The losers wait up to 60 s for the winner (Store#latestWaitingForOthers); give them that long.
  it("lets replicas that start together migrate at once: one applies, the others wait and find nothing to do", { timeout: 90_000 }, async () => {
    const database = await createTestDatabase(kind);
    const stores = await Promise.all([0, 1, 2].map(() => Store.open({ url: database.url })));
    try {
      const reports = await Promise.all(stores.map((s) => s.migrate()));
      // Every migration applied exactly once across the three.
      expect(reports.flatMap((r) => r.applied).sort()).toEqual([...(reports[0]?.current ?? [])].sort());
      for (const report of reports) expect(report.current).toHaveLength(11);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await database.drop();
    }
  });
});
