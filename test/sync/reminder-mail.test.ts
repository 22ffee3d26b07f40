import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/shared/clock.js";
import type { TwoWayRig } from "../helpers/two-way.js";
import { startTwoWay } from "../helpers/two-way.js";

const DAY = 86_400_000;

describe("reminder mail through Microsoft Graph (sandbox)", () => {
  let clock: ManualClock;
  let rig: TwoWayRig;

  beforeEach(async () => {
    clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay("salesforce", clock, { mail: true });
    await rig.pass();
    await rig.pass();
  });

  afterEach(async () => {
    await rig.close();
  });

  it("mails the referrals admin about an unassigned lead once, with the deadline in their time zone and links to the lead", async () => {
    const graph = rig.daemon.mail?.sandbox;
    if (!graph) throw new Error("no Graph sandbox");
    graph.addMailbox("referrals@partner.example", "W. Europe Standard Time");
    const referral = rig.pc.referrals
      .all()
      // Unassigned: no partner seller tagged on it (those leads remind the seller instead).
      .filter((r) => r.referralProgram === "JointPlanning" && r.direction === "Incoming" && r.status === "New" && (r.team ?? []).length === 0)
      .sort((a, b) => Date.parse(b.expirationDateTime ?? "") - Date.parse(a.expirationDateTime ?? ""))[0];
    const lead = await rig.daemon.store.repos.leads.findByReferralId("pc", referral?.id ?? "");
    const acceptBy = lead?.acceptBy as Date;
    clock.set(acceptBy.getTime() - 7 * DAY);
    await rig.daemon.sweepNow();
    await rig.daemon.drainOutbox(["notify:mail"]);
    await rig.daemon.sweepNow();
    await rig.daemon.drainOutbox(["notify:mail"]);

    const mails = graph.mailbox.filter((m) => m.content.includes(referral?.id ?? "-"));
    expect(mails).toHaveLength(1);
    const [mail] = mails;
    expect(mail?.from).toBe("reminders@partner.example");
    expect(mail?.to).toEqual(["referrals@partner.example"]);
    expect(mail?.contentType).toBe("HTML");
    const local = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", dateStyle: "full", timeStyle: "short" }).format(acceptBy);
    expect(mail?.subject).toBe(`Accept by ${local}: ${lead?.name ?? ""}`);
    expect(mail?.content).toContain("(Europe/Berlin)");
    expect(mail?.content).toContain(`https://partner.microsoft.com/dashboard/referrals/v2/leads/${referral?.id ?? ""}`);
    expect(mail?.content).toContain(`/lightning/r/Lead/${await rig.recordOf(referral?.id ?? "")}/view`);
  });
});
