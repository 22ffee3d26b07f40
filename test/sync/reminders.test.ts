import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS, remindersDue } from "../../src/domain/index.js";
import { silentLogger } from "../../src/log/logger.js";
import { ManualClock } from "../../src/shared/clock.js";
import { contentHash } from "../../src/shared/content-hash.js";
import type { LeadInput, Store } from "../../src/store/index.js";
import { sweepDeadlines } from "../../src/sync/deadline-sweep.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase, openMigratedStore } from "../helpers/stores.js";

const RECEIVED = new Date("2026-11-01T09:00:00Z");
const ACCEPT_BY = new Date(RECEIVED.getTime() + 14 * DAY_MS);

function newLeadInput(referralId: string): LeadInput {
  const raw = { id: referralId, name: "Contoso", status: "New", referralProgram: "JointPlanning" };
  return { account: "acme", referralId, program: "JointPlanning", name: "Contoso", state: "new", status: "New", substatus: "Pending", eTag: `"${referralId}"`, remoteCreatedAt: RECEIVED, remoteUpdatedAt: RECEIVED, acceptBy: ACCEPT_BY, contentHash: contentHash(raw), raw };
}

describe("remindersDue", () => {
  const deadline = { kind: "accept" as const, at: ACCEPT_BY };
  const leadTimes = [7 * DAY_MS, 3 * DAY_MS, DAY_MS, 4 * HOUR_MS];
  it("sends the nearest crossed lead time and skips earlier ones crossed at once", () => {
    expect(remindersDue(deadline, leadTimes, new Date(ACCEPT_BY.getTime() - 7 * DAY_MS - 1))).toEqual([]);
    expect(remindersDue(deadline, leadTimes, new Date(ACCEPT_BY.getTime() - 7 * DAY_MS))).toEqual([{ leadTimeMs: 7 * DAY_MS, outcome: "sent" }]);
    expect(remindersDue(deadline, leadTimes, new Date(ACCEPT_BY.getTime() - 2 * DAY_MS))).toEqual([
      { leadTimeMs: 3 * DAY_MS, outcome: "sent" },
      { leadTimeMs: 7 * DAY_MS, outcome: "skipped" },
    ]);
    expect(remindersDue(deadline, leadTimes, ACCEPT_BY)).toEqual([]);
  });
});

describe("deadline reminders", () => {
  let database: TestDatabase;
  let store: Store;
  let clock: ManualClock;

  beforeEach(async () => {
    database = await createTestDatabase("sqlite");
    store = await openMigratedStore(database);
    clock = new ManualClock(RECEIVED);
  });

  afterEach(async () => {
    await store.close();
    await database.drop();
  });

  const sweep = (on: Store = store) => sweepDeadlines({ store: on, clock, logger: silentLogger(), pairs: () => [], admin: "referrals@partner.example" });

  async function reminders(leadId: number) {
    return (await store.repos.events.timeline(leadId)).filter((e) => e.kind === "reminder").reverse();
  }

  it("fires each reminder once at its time, even across a restart", async () => {
    const { lead } = await store.repos.leads.save(newLeadInput("ref-1"), clock.now());
    for (const [leadTime, label] of [[7 * DAY_MS, "7 days"], [3 * DAY_MS, "3 days"], [DAY_MS, "1 day"], [4 * HOUR_MS, "4 hours"]] as const) {
      clock.set(ACCEPT_BY.getTime() - leadTime - 1);
      await sweep();
      expect((await reminders(lead.id)).map((e) => e.cause)).not.toContainEqual(expect.stringContaining(`${label} left`));
      clock.set(ACCEPT_BY.getTime() - leadTime);
      expect(await sweep()).toMatchObject({ reminded: 1 });
      // A restarted daemon (a new connection, no memory) sends nothing again.
      const restarted = await openMigratedStore(database);
      expect(await sweep(restarted)).toMatchObject({ reminded: 0 });
      await restarted.close();
    }
    const sent = await reminders(lead.id);
    expect(sent.map((e) => e.cause)).toEqual(["7 days", "3 days", "1 day", "4 hours"].map((left) => `accept by ${ACCEPT_BY.toISOString()}: ${left} left`));
    expect(sent.every((e) => e.details?.to === "referrals@partner.example")).toBe(true);
    // At the deadline the lead is closed, and no reminder follows.
    clock.set(ACCEPT_BY);
    expect(await sweep()).toMatchObject({ expired: 1, reminded: 0 });
  });

  it("sends only the nearest reminder after downtime, and none of accept once the lead is accepted on day 13", async () => {
    const { lead } = await store.repos.leads.save(newLeadInput("ref-2"), clock.now());
    clock.set(ACCEPT_BY.getTime() - 2 * DAY_MS);
    expect(await sweep()).toMatchObject({ reminded: 1 });
    expect((await store.repos.reminders.forLead(lead.id)).map((r) => [r.leadTimeMs / DAY_MS, r.outcome])).toEqual([
      [3, "sent"],
      [7, "skipped"],
    ]);

    // Accepted on day 13: its act-by is 60 days out, so the accept reminders (1 day, 4 hours) never come.
    const acceptedAt = new Date(RECEIVED.getTime() + 13 * DAY_MS);
    clock.set(acceptedAt);
    await store.repos.leads.save({ ...newLeadInput("ref-2"), state: "accepted", status: "Active", substatus: "Accepted", eTag: '"accepted"', remoteUpdatedAt: acceptedAt, remoteAcceptedAt: acceptedAt, actBy: new Date(acceptedAt.getTime() + 60 * DAY_MS) }, clock.now());
    clock.set(ACCEPT_BY.getTime() - 4 * HOUR_MS);
    expect(await sweep()).toMatchObject({ reminded: 0 });
    clock.set(ACCEPT_BY);
    expect(await sweep()).toMatchObject({ expired: 0, reminded: 0 });
    expect((await reminders(lead.id)).map((e) => e.details?.deadline)).toEqual(["accept"]);
  });
});
