import { beforeEach, expect, it, vi } from "vitest";
import { contentHash } from "../../src/shared/content-hash.js";
import type { LeadInput, NewJob, Store } from "../../src/store/index.js";
import type { CrmUpsertPayload, QueuedRecord } from "../../src/sync/enqueue-crm-upsert.js";
import { CRM_UPSERT } from "../../src/sync/enqueue-crm-upsert.js";
import { SharedLookahead } from "../../src/sync/shared-lookahead.js";
import { fieldsHash, SharedRecordCache } from "../../src/sync/shared-record-cache.js";
import { describeEachStore, useMigratedStore } from "../helpers/stores.js";

const T0 = new Date("2026-11-24T10:00:00Z");
const TARGET = "crm:hubspot";
const days = (n: number) => new Date(T0.getTime() + n * 86_400_000);

function leadInput(referralId: string): LeadInput {
  const raw = { id: referralId };
  return { account: "acme", referralId, engagementId: `eng-${referralId}`, program: "JointPlanning", name: referralId, state: "new", status: "New", substatus: "Received", eTag: '"1"', remoteCreatedAt: T0, remoteUpdatedAt: T0, acceptBy: days(14), contentHash: contentHash(raw), raw };
}

const record = (name: string, externalId: string, extra: Partial<QueuedRecord> = {}): QueuedRecord => ({
  name,
  object: name === "company" ? "companies" : name === "contact" ? "contacts" : "leads",
  externalIdField: name === "company" ? "cosell_customer_key" : name === "contact" ? "email" : "cosell_referral_id",
  externalId,
  fields: { name: externalId },
  associate: [],
  ...extra,
});

function job(referralId: string, records: QueuedRecord[], options: { leadId?: number; dueBy?: Date; owner?: CrmUpsertPayload["owner"]; target?: string } = {}): NewJob {
  const payload: CrmUpsertPayload = {
    pair: "contoso-hubspot",
    account: "acme",
    referralId,
    hash: referralId,
    records: [...records, record("lead", referralId, { associate: ["company", "contact"] })],
    readBack: { name: "lead", fields: [] },
    ...(options.owner ? { owner: options.owner } : {}),
  };
  return { pair: "contoso-hubspot", target: options.target ?? TARGET, kind: CRM_UPSERT, payload, maxAttempts: 5, coalesceKey: referralId, ...(options.leadId ? { leadId: options.leadId } : {}), ...(options.dueBy ? { dueBy: options.dueBy } : {}) };
}

const keys = (records: Array<{ record: QueuedRecord }>) => records.map(({ record }) => record.externalId);

describeEachStore("shared records looked ahead at in the queue", (kind) => {
  const current = useMigratedStore(kind);
  let store: Store;
  let cache: SharedRecordCache;
  beforeEach(() => {
    store = current();
    cache = new SharedRecordCache();
  });

  it("offers the shared records of untried jobs in lease order, and only those a lead's own job would write unrouted", async () => {
    const linked = await store.repos.leads.save(leadInput("linked"), T0);
    await store.repos.crmLinks.reserve(linked.lead.id, "contoso-hubspot", "company", T0);
    const outbox = store.repos.outbox;
    await outbox.enqueue(job("later", [record("company", "c-later"), record("contact", "later@contoso.test")], { dueBy: days(3) }), T0);
    await outbox.enqueue(job("sooner", [record("company", "c-sooner"), record("contact", "sooner@contoso.test")], { dueBy: days(1) }), T0);
    await outbox.enqueue(job("undated", [record("company", "c-undated")]), T0);
    // Not offered: a record associating others, one whose owner routing sets, a lead already
    // written to the CRM, another CRM's job, and a job that was tried (it writes its own records).
    await outbox.enqueue(job("associating", [record("company", "c-assoc", { associate: ["contact"] })], { dueBy: days(2) }), T0);
    await outbox.enqueue(job("routed", [record("company", "c-routed")], { dueBy: days(2), owner: { fields: [{ name: "company", field: "hubspot_owner_id", onUpdate: false }], candidates: [], reason: "test" } }), T0);
    await outbox.enqueue(job("linked", [record("company", "c-linked")], { dueBy: days(2), leadId: linked.lead.id }), T0);
    await outbox.enqueue(job("elsewhere", [record("company", "c-elsewhere")], { dueBy: days(2), target: "crm:salesforce" }), T0);
    await outbox.enqueue(job("tried", [record("company", "c-tried")], { dueBy: days(0.5) }), T0);
    const [tried] = await store.transaction((repos) => repos.outbox.lease({ owner: "w", target: TARGET, limit: 1, leaseMs: 60_000, now: T0 }));
    expect((tried?.payload as CrmUpsertPayload).referralId).toBe("tried");
    await outbox.settleFailure(tried?.id ?? 0, "w", { outcome: "retry", at: T0, code: "X", message: "x" }, T0);

    const ahead = new SharedLookahead({ store, target: TARGET, cache });
    expect(keys(await ahead.fill("company", 10, new Set()))).toEqual(["c-sooner", "c-later", "c-undated"]);
    expect(keys(await ahead.fill("contact", 10, new Set()))).toEqual(["sooner@contoso.test", "later@contoso.test"]);
    // Each is offered once; the lead object is never offered.
    expect(await ahead.fill("company", 10, new Set())).toEqual([]);
    expect(await ahead.fill("lead", 10, new Set())).toEqual([]);
  });

  it("stops at the room left, skips keys the call carries and records written or under way, and reads a replaced payload again", async () => {
    const outbox = store.repos.outbox;
    for (const [n, id] of ["a", "b", "c", "d"].entries()) await outbox.enqueue(job(id, [record("company", `c-${id}`)], { dueBy: days(n + 1) }), T0);
    const a = record("company", "c-a");
    cache.remember(a, fieldsHash(a.fields), "101");
    const b = record("company", "c-b");
    const settle = cache.begin(b, fieldsHash(b.fields));
    const ahead = new SharedLookahead({ store, target: TARGET, cache });
    expect(keys(await ahead.fill("company", 1, new Set(["c-c"])))).toEqual(["c-d"]);
    settle({ error: new Error("refused") });
    expect(keys(await ahead.fill("company", 5, new Set()))).toEqual(["c-b", "c-c"]);
    // A newer payload for job a (the customer changed): its record differs from what was written.
    await outbox.enqueue(job("a", [record("company", "c-a", { fields: { name: "Contoso Ltd" } })], { dueBy: days(1) }), T0);
    const offered = await ahead.fill("company", 5, new Set());
    expect(offered.map(({ record: r }) => r.fields)).toEqual([{ name: "Contoso Ltd" }]);
  });

  it("looks further while too few turn up, up to its widest window", async () => {
    const outbox = store.repos.outbox;
    // Six jobs; only the fifth and sixth bring a company not written yet: a window of four misses them.
    for (let n = 0; n < 6; n += 1) {
      const company = record("company", `c-${n}`);
      if (n < 4) cache.remember(company, fieldsHash(company.fields), String(n));
      await outbox.enqueue(job(`r-${n}`, [company], { dueBy: days(n + 1) }), T0);
    }
    expect(keys(await new SharedLookahead({ store, target: TARGET, cache, window: 1, maxWindow: 4 }).fill("company", 5, new Set()))).toEqual([]);
    expect(keys(await new SharedLookahead({ store, target: TARGET, cache, window: 1, maxWindow: 8 }).fill("company", 5, new Set()))).toEqual(["c-4", "c-5"]);
  });

  it("goes on past where it stopped, and offers what it read there only while the job still stands at that version", async () => {
    const outbox = store.repos.outbox;
    const ids: number[] = [];
    for (let n = 0; n < 4; n += 1) ids.push((await outbox.enqueue(job(`r-${n}`, [record("company", `c-${n}`), record("contact", `p-${n}@contoso.test`)], { dueBy: days(n + 1) }), T0)).id);
    const ahead = new SharedLookahead({ store, target: TARGET, cache, window: 1, maxWindow: 8 });
    expect(keys(await ahead.fill("company", 4, new Set()))).toEqual(["c-0", "c-1", "c-2", "c-3"]);
    // The contact of r-2 changes while its job waits past the front.
    await outbox.enqueue(job("r-2", [record("company", "c-2"), record("contact", "p-2@contoso.test", { fields: { name: "Ada Renamed" } })], { dueBy: days(3) }), T0);
    const upcoming = vi.spyOn(store.reads.outbox, "upcoming");
    expect(keys(await ahead.fill("contact", 4, new Set()))).toEqual(["p-0@contoso.test", "p-1@contoso.test", "p-3@contoso.test"]);
    // The front, then on past the last job read before: the jobs between are not read again.
    expect(upcoming.mock.calls.map(([, , after]) => after?.id)).toEqual([undefined, ids[3]]);
    // r-2's newer contact is offered once r-2 reaches the front, with its new fields.
    const leased = await store.transaction((repos) => repos.outbox.lease({ owner: "w", target: TARGET, limit: 2, leaseMs: 60_000, now: T0 }));
    expect(leased.map((j) => (j.payload as CrmUpsertPayload).referralId)).toEqual(["r-0", "r-1"]);
    const offered = await ahead.fill("contact", 4, new Set());
    expect(offered.map(({ record: r }) => [r.externalId, r.fields])).toEqual([["p-2@contoso.test", { name: "Ada Renamed" }]]);
  });
});
