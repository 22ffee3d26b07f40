import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WireReferral } from "../../src/partner-center/wire.js";
import { ManualClock } from "../../src/shared/clock.js";
import { LAPSED_REASON } from "../../src/sync/deadline-sweep.js";
import type { TwoWayRig } from "../helpers/two-way.js";
import { startTwoWay } from "../helpers/two-way.js";

/** Local closes at the deadline instant, shown in the CRM, confirmed or corrected by Partner Center. */
describe("deadlines: local closes", () => {
  let clock: ManualClock;
  let rig: TwoWayRig;

  beforeEach(async () => {
    clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay("salesforce", clock);
    await rig.pass();
    await rig.pass();
  });

  afterEach(async () => {
    await rig.close();
  });

  async function stored(referralId: string) {
    const lead = await rig.daemon.store.repos.leads.findByReferralId("pc", referralId);
    if (!lead) throw new Error(`no lead ${referralId}`);
    return lead;
  }

  async function kinds(referralId: string): Promise<string[]> {
    return (await rig.daemon.store.repos.events.timeline((await stored(referralId)).id)).map((e) => e.kind).reverse();
  }

  function latestNew(): WireReferral {
    // The lead with the latest accept-by, so no other deadline falls inside the test's window.
    const open = rig.pc.referrals.all().filter((r) => r.referralProgram === "JointPlanning" && r.direction === "Incoming" && r.status === "New");
    const sorted = open.sort((a, b) => Date.parse(b.expirationDateTime ?? "") - Date.parse(a.expirationDateTime ?? ""));
    if (!sorted[0]) throw new Error("no new lead");
    return sorted[0];
  }

  it("expires a lead at accept-by and not a millisecond before; the CRM shows it; Partner Center confirms", async () => {
    const referral = latestNew();
    const acceptBy = (await stored(referral.id)).acceptBy as Date;
    clock.set(acceptBy.getTime() - 1);
    await rig.daemon.sweepNow();
    expect((await stored(referral.id)).state).toBe("new");

    clock.set(acceptBy);
    await rig.daemon.sweepNow();
    const closed = await stored(referral.id);
    expect([closed.state, closed.closedLocallyAt?.toISOString()]).toEqual(["expired", acceptBy.toISOString()]);
    await rig.daemon.drainOutbox(["crm:crm"]);
    const id = await rig.recordOf(referral.id);
    expect(rig.seller.read(id)[rig.seller.status]).toBe("Expired");

    // Partner Center expires it by its own clock; the pull records that it agrees.
    await rig.pass();
    expect(await kinds(referral.id)).toEqual(expect.arrayContaining(["closed-locally", "local-close-confirmed"]));
    expect((await stored(referral.id)).state).toBe("expired");
  });

  it("leaves a lead accepted on day 13 alone at its accept-by", async () => {
    const referral = latestNew();
    const acceptBy = (await stored(referral.id)).acceptBy as Date;
    clock.set(acceptBy.getTime() - 86_400_000);
    const id = await rig.recordOf(referral.id);
    await rig.seller.edit(id, { [rig.seller.status]: rig.seller.value("accepted") });
    await rig.pass();
    clock.advance(31_000);
    await rig.pass();
    expect((await stored(referral.id)).state).toBe("accepted");
    clock.set(acceptBy);
    await rig.daemon.sweepNow();
    expect((await stored(referral.id)).state).toBe("accepted");
  });

  async function acceptedLead(): Promise<{ referralId: string; id: string; actBy: Date }> {
    const referral = latestNew();
    const id = await rig.recordOf(referral.id);
    await rig.seller.edit(id, { [rig.seller.status]: rig.seller.value("accepted") });
    await rig.pass();
    clock.advance(31_000);
    await rig.pass();
    const actBy = (await stored(referral.id)).actBy;
    if (!actBy) throw new Error("not accepted");
    return { referralId: referral.id, id, actBy };
  }

  it("closes a lead as lost by the 60-day rule at act-by, shows it in the CRM, and refuses a later seller step", async () => {
    const { referralId, id, actBy } = await acceptedLead();
    clock.set(actBy.getTime() - 1);
    await rig.daemon.sweepNow();
    expect((await stored(referralId)).state).toBe("accepted");

    clock.set(actBy);
    await rig.daemon.sweepNow();
    const lapsed = await stored(referralId);
    expect([lapsed.state, lapsed.localCloseReason]).toEqual(["lost", LAPSED_REASON]);
    await rig.daemon.drainOutbox(["crm:crm"]);
    const record = rig.seller.read(id);
    expect([record[rig.seller.status], record[rig.seller.reason]]).toEqual(["Lost", LAPSED_REASON]);

    // A seller's late step goes nowhere: the rules refuse it, with the reason on the record.
    await rig.seller.edit(id, { [rig.seller.qualify]: rig.seller.flag(true) });
    await rig.daemon.pollCrmsNow();
    clock.advance(31_000);
    await rig.daemon.drainOutbox(["partner-center"]);
    await rig.daemon.drainOutbox(["crm:crm"]);
    expect(String(rig.seller.read(id)[rig.seller.error])).toMatch(/60/);
    expect(rig.pc.referrals.get(referralId).details?.substages?.find((s) => s.name === "Qualify")?.status).not.toBe("Complete");
    const pushed = (await rig.daemon.store.repos.events.timeline((await stored(referralId)).id)).filter((e) => e.kind === "pc-pushed").map((e) => e.cause);
    expect(pushed).toEqual(["accept"]);
  });

  it("keeps Partner Center's answer when it differs from a local close, and logs the disagreement", async () => {
    const { referralId, actBy } = await acceptedLead();
    clock.set(actBy);
    await rig.daemon.sweepNow();
    expect((await stored(referralId)).state).toBe("lost");
    // The seller had told Microsoft directly: Partner Center says won.
    rig.pc.referrals.touch(referralId, (r) => {
      r.status = "Closed";
      r.substatus = "Won";
    });
    await rig.daemon.pullNow();
    const lead = await stored(referralId);
    expect([lead.state, lead.closedLocallyAt]).toEqual(["won", undefined]);
    expect(await kinds(referralId)).toContain("local-close-corrected");
  });
});
