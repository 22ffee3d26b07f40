import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WireReferral } from "../../src/partner-center/wire.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { CrmKind, TwoWayRig } from "../helpers/two-way.js";
import { startTwoWay } from "../helpers/two-way.js";
import { sellerUiFor } from "../../src/sandbox/seller-ui.js";

const DEBOUNCE_MS = 30_000;

function isOpenNew(referral: WireReferral, now: Date): boolean {
  return referral.referralProgram === "JointPlanning" && referral.direction === "Incoming" && referral.status === "New" && Date.parse(referral.expirationDateTime ?? "") > now.getTime() + 5 * 86_400_000;
}

describe.each<CrmKind>(["salesforce", "hubspot", "dynamics"])("two-way sync through the %s SDK and sandbox", (kind) => {
  let clock: ManualClock;
  let rig: TwoWayRig;

  beforeEach(async () => {
    clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay(kind, clock);
    await rig.pass();
    // The CRM ids written back to Partner Center come back on the next pull and change nothing in the CRM.
    await rig.pass();
  });

  afterEach(async () => {
    await rig.close();
  });

  /** A seller's save, the debounce window, and one pass each way; a second pass settles what the push queued. */
  async function sellerSaves(recordId: string, fields: Record<string, unknown>): Promise<void> {
    await rig.seller.edit(recordId, fields);
    clock.advance(1_000);
    await rig.pass();
    clock.advance(DEBOUNCE_MS);
    await rig.pass();
    await rig.pass();
  }

  function newLeads(count: number): WireReferral[] {
    const found = rig.pc.referrals.all().filter((r) => isOpenNew(r, clock.now())).slice(0, count);
    expect(found).toHaveLength(count);
    return found;
  }

  async function pushedSteps(referralId: string): Promise<string[]> {
    const lead = await rig.daemon.store.repos.leads.findByReferralId("pc", referralId);
    const events = await rig.daemon.store.repos.events.timeline(lead?.id ?? 0);
    return events.filter((e) => e.kind === "pc-pushed").reverse().map((e) => e.cause ?? "");
  }

  it("lands leads with their fields and writes the CRM id back to Partner Center once", async () => {
    const [referral] = newLeads(1);
    const id = await rig.recordOf(referral?.id ?? "");
    const record = rig.seller.read(id);
    expect(record[rig.seller.status]).toEqual(rig.seller.value("new"));
    expect(record[rig.seller.error] ?? "").toBe("");
    expect(rig.pc.referrals.get(referral?.id ?? "").externalReferenceId).toBe(id);
    const { byState } = await rig.daemon.store.repos.outbox.stats(clock.now());
    expect(byState.pending ?? {}).toEqual({});
    expect(byState.dead ?? {}).toEqual({});
  });

  it("takes a seller's accept, Qualify, Evaluate and win to Partner Center in order, and nothing echoes", async () => {
    const [referral] = newLeads(1);
    const referralId = referral?.id ?? "";
    const id = await rig.recordOf(referralId);

    await rig.seller.edit(id, { [rig.seller.status]: rig.seller.value("accepted") });
    await rig.pass();
    // Inside the debounce window nothing has gone yet.
    expect(rig.pc.referrals.get(referralId).status).toBe("New");
    clock.advance(DEBOUNCE_MS + 1_000);
    await rig.pass();
    const accepted = rig.pc.referrals.get(referralId);
    expect([accepted.status, accepted.substatus]).toEqual(["Active", "Accepted"]);
    expect(accepted.team?.map((m) => m.email)).toContain("ana.seller@partner.example");

    await sellerSaves(id, { [rig.seller.qualify]: rig.seller.flag(true) });
    expect(rig.pc.referrals.get(referralId).details?.substages?.find((s) => s.name === "Qualify")?.status).toBe("Complete");
    await sellerSaves(id, { [rig.seller.evaluate]: rig.seller.flag(true) });
    expect(rig.pc.referrals.get(referralId).details?.substages?.find((s) => s.name === "Evaluate")?.status).toBe("Complete");
    await sellerSaves(id, { [rig.seller.status]: rig.seller.value("won") });
    const won = rig.pc.referrals.get(referralId);
    expect([won.status, won.substatus]).toEqual(["Closed", "Won"]);

    expect(await pushedSteps(referralId)).toEqual(["accept", "completeQualify", "completeEvaluate", "win"]);
    // Our own writes of the new state into the CRM are not read back as seller edits.
    await rig.pass();
    const polls = await rig.daemon.pollCrmsNow();
    expect(polls.get("p")).toMatchObject({ queued: 0 });
    const { byState } = await rig.daemon.store.repos.outbox.stats(clock.now());
    expect(byState.pending ?? {}).toEqual({});
    expect(rig.seller.read(id)[rig.seller.status]).toEqual(rig.seller.value("won"));
  });

  it("refuses an illegal step with the reason on the CRM record, and clears it once the seller fixes it", async () => {
    const [referral] = newLeads(1);
    const referralId = referral?.id ?? "";
    const id = await rig.recordOf(referralId);

    await sellerSaves(id, { [rig.seller.status]: rig.seller.value("won") });
    expect(rig.pc.referrals.get(referralId).status).toBe("New");
    const refused = rig.seller.read(id);
    expect(String(refused[rig.seller.error])).toMatch(/Qualify|Evaluate/);
    // The seller's value stays next to the reason; it is not silently overwritten.
    expect(refused[rig.seller.status]).toEqual(rig.seller.value("won"));
    // Our write of the reason is not read back as a second attempt.
    for (let i = 0; i < 2; i += 1) {
      clock.advance(DEBOUNCE_MS + 1_000);
      await rig.pass();
    }
    const lead = await rig.daemon.store.repos.leads.findByReferralId("pc", referralId);
    expect((await rig.daemon.store.repos.events.timeline(lead?.id ?? 0)).filter((e) => e.kind === "push-refused")).toHaveLength(1);

    await sellerSaves(id, { [rig.seller.status]: rig.seller.value("accepted") });
    expect(rig.pc.referrals.get(referralId).substatus).toBe("Accepted");
    const fixed = rig.seller.read(id);
    expect(fixed[rig.seller.error] ?? "").toBe("");
    expect(fixed[rig.seller.status]).toEqual(rig.seller.value("accepted"));
  });

  it("finds a seller's save stamped at the cursor's own time on a lower record id (the feed overlap)", async () => {
    const [referral] = newLeads(1);
    const referralId = referral?.id ?? "";
    const id = await rig.recordOf(referralId);
    // No clock advance: the save carries the stamp the change feed's cursor already stands on.
    const sandbox = rig.daemon.crmSandbox("crm");
    if (!sandbox) throw new Error("no sandbox");
    await sellerUiFor(sandbox).save(id, { [rig.seller.status]: rig.seller.value("accepted") });
    const polls = await rig.daemon.pollCrmsNow();
    expect(polls.get("p")).toMatchObject({ queued: 1 });
    // Read again inside the overlap window, it is recognised and not queued twice.
    expect((await rig.daemon.pollCrmsNow()).get("p")).toMatchObject({ queued: 0 });
  });

  it("carries a Partner Center change to the CRM", async () => {
    const [referral] = newLeads(1);
    const referralId = referral?.id ?? "";
    const id = await rig.recordOf(referralId);
    clock.advance(60_000);
    rig.pc.referrals.touch(referralId, (r) => {
      r.details = { ...r.details, dealValue: 98_765 };
    });
    await rig.pass();
    expect(Number(rig.seller.read(id)[rig.seller.dealValue])).toBe(98_765);
  });

  it("re-reads and re-plans when Partner Center answers 412", async () => {
    const [referral] = newLeads(1);
    const referralId = referral?.id ?? "";
    const id = await rig.recordOf(referralId);
    await rig.seller.edit(id, { [rig.seller.status]: rig.seller.value("accepted") });
    await rig.daemon.pollCrmsNow();
    // Microsoft changes the lead after the push was decided: the stored eTag is stale.
    clock.advance(DEBOUNCE_MS + 1_000);
    rig.pc.referrals.touch(referralId, (r) => {
      r.details = { ...r.details, notes: "Customer asked for a demo" };
    });
    await rig.daemon.drainOutbox(["partner-center"]);
    const after = rig.pc.referrals.get(referralId);
    expect([after.status, after.substatus, after.details?.notes]).toEqual(["Active", "Accepted", "Customer asked for a demo"]);
    const lead = await rig.daemon.store.repos.leads.findByReferralId("pc", referralId);
    const events = await rig.daemon.store.repos.events.timeline(lead?.id ?? 0);
    expect(events.some((e) => e.kind === "lead-changed" && /412/.test(e.cause ?? ""))).toBe(true);
    expect(events.filter((e) => e.kind === "pc-pushed")).toHaveLength(1);
  });

  it("converts to an opportunity: one Shared referral with the engagement id, then the lead closes, even when resumed", async () => {
    const [referral] = newLeads(1);
    const referralId = referral?.id ?? "";
    const id = await rig.recordOf(referralId);
    await sellerSaves(id, { [rig.seller.status]: rig.seller.value("accepted"), [rig.seller.qualify]: rig.seller.flag(true), [rig.seller.evaluate]: rig.seller.flag(true) });
    const engagementId = rig.pc.referrals.get(referralId).engagementId;
    // A crash after the Shared referral was created and before the lead closed: the create is on record.
    const sharedOf = () => rig.pc.referrals.all().filter((r) => r.engagementId === engagementId && r.type === "Shared");
    expect(sharedOf()).toHaveLength(0);
    await sellerSaves(id, { [rig.seller.status]: rig.seller.value("converted") });
    const lead = rig.pc.referrals.get(referralId);
    expect([lead.status, lead.substatus]).toEqual(["Closed", "Won"]);
    const shared = sharedOf();
    expect(shared).toHaveLength(1);
    expect(shared[0]?.inviteContext?.assistanceRequestCode).toBe("GeneralOrOther");
    expect(rig.seller.read(id)[rig.seller.status]).toEqual(rig.seller.value("converted"));
  });

  it("resumes a conversion whose Shared referral was created before a crash, without a second one", async () => {
    const [referral] = newLeads(1);
    const referralId = referral?.id ?? "";
    const id = await rig.recordOf(referralId);
    await sellerSaves(id, { [rig.seller.status]: rig.seller.value("accepted"), [rig.seller.qualify]: rig.seller.flag(true), [rig.seller.evaluate]: rig.seller.flag(true) });
    const before = rig.pc.referrals.get(referralId);
    rig.pc.referrals.create({ name: before.name, engagementId: before.engagementId, type: "Shared", direction: "Outgoing", customerProfile: before.customerProfile, consent: before.consent, inviteContext: { assistanceRequestCode: "GeneralOrOther" } });
    await sellerSaves(id, { [rig.seller.status]: rig.seller.value("converted") });
    expect(rig.pc.referrals.get(referralId).substatus).toBe("Won");
    expect(rig.pc.referrals.all().filter((r) => r.engagementId === before.engagementId && r.type === "Shared")).toHaveLength(1);
  });

  it("stores a lead named by a webhook hint at once, without waiting for the poll", async () => {
    const [fresh] = rig.pc.generate(1, { acceptedShare: 0, spreadDays: 0 });
    const referralId = fresh?.id ?? "";
    await rig.daemon.hint("pc", referralId);
    await rig.daemon.drainOutbox();
    const id = await rig.recordOf(referralId);
    expect(rig.seller.read(id)[rig.seller.status]).toEqual(rig.seller.value("new"));
  });
});
