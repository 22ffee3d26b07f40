import { describe, expect, it } from "vitest";
import type { LeadAction, LifecycleSnapshot } from "../../src/domain/index.js";
import { applyAll, transition } from "../../src/domain/index.js";
import { daysAfter, newLead, OWNER, RECEIVED } from "../helpers/leads.js";

const day1 = daysAfter(RECEIVED, 1);

function run(actions: LeadAction[], at = day1, lead: LifecycleSnapshot = newLead()) {
  return applyAll(lead, actions, at);
}

function workedLead(): LifecycleSnapshot {
  const result = run([{ type: "accept", owner: OWNER }, { type: "completeQualify" }, { type: "completeEvaluate" }]);
  if (!result.ok) throw new Error(result.violation.message);
  return result.lead;
}

describe("lifecycle: happy paths", () => {
  it("accept → qualify → evaluate → win records each date and the owner", () => {
    const result = run([
      { type: "accept", owner: OWNER },
      { type: "completeQualify" },
      { type: "completeEvaluate" },
      { type: "win" },
    ]);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.lead.state).toBe("won");
    expect(result.lead.acceptedAt).toEqual(day1);
    expect(result.lead.owner?.email).toBe(OWNER.email);
    expect(result.lead.substages.qualify).toEqual({ complete: true, completedAt: day1 });
    expect(result.lead.substages.evaluate.complete).toBe(true);
    expect(result.lead.closedAt).toEqual(day1);
  });

  it("convert needs the same substages as win and ends converted", () => {
    const result = transition(workedLead(), { type: "convert" }, day1);
    expect(result.ok && result.lead.state).toBe("converted");
  });

  it("decline with a reason closes a new lead", () => {
    const result = transition(newLead(), { type: "decline", reason: "  Not our region " }, day1);
    expect(result.ok && result.lead).toMatchObject({ state: "declined", closeReason: "Not our region" });
  });

  it("lose works from every working state", () => {
    for (const prefix of [[], [{ type: "completeQualify" }], [{ type: "completeQualify" }, { type: "completeEvaluate" }]] as LeadAction[][]) {
      const result = run([{ type: "accept", owner: OWNER }, ...prefix, { type: "lose", reason: "Budget cut" }]);
      expect(result.ok && result.lead.state).toBe("lost");
    }
  });

  it("close in error is allowed from new and from working states", () => {
    expect(transition(newLead(), { type: "closeInError", reason: "Duplicate" }, day1).ok).toBe(true);
    expect(transition(workedLead(), { type: "closeInError", reason: "Duplicate" }, day1).ok).toBe(true);
  });
});

describe("lifecycle: guards", () => {
  it("accept needs an owner with a name and an email", () => {
    for (const owner of [{}, { email: "x@y.z" }, { firstName: "Ada" }, { firstName: " ", email: "x@y.z" }]) {
      const result = transition(newLead(), { type: "accept", owner }, day1);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.violation.code).toBe("LIFECYCLE_OWNER_REQUIRED");
    }
  });

  it("decline, lose and close in error need a reason", () => {
    const accepted = run([{ type: "accept", owner: OWNER }]);
    if (!accepted.ok) throw new Error("setup");
    const cases: Array<[LifecycleSnapshot, LeadAction]> = [
      [newLead(), { type: "decline", reason: "" }],
      [accepted.lead, { type: "lose", reason: "   " }],
      [newLead(), { type: "closeInError", reason: "" }],
    ];
    for (const [lead, action] of cases) {
      const result = transition(lead, action, day1);
      expect(result.ok ? "ok" : result.violation.code).toBe("LIFECYCLE_REASON_REQUIRED");
    }
  });

  it("Qualify comes before Evaluate, and both before win or convert", () => {
    const accepted = run([{ type: "accept", owner: OWNER }]);
    if (!accepted.ok) throw new Error("setup");
    const evaluateFirst = transition(accepted.lead, { type: "completeEvaluate" }, day1);
    expect(evaluateFirst.ok ? "" : evaluateFirst.violation.message).toBe(
      "Mark Qualify complete before marking Evaluate complete.",
    );
    const winEarly = transition(accepted.lead, { type: "win" }, day1);
    expect(winEarly.ok ? "" : winEarly.violation.message).toBe("Mark Qualify complete before marking the lead won.");
    const qualified = transition(accepted.lead, { type: "completeQualify" }, day1);
    if (!qualified.ok) throw new Error("setup");
    const convertEarly = transition(qualified.lead, { type: "convert" }, day1);
    expect(convertEarly.ok ? "" : convertEarly.violation.code).toBe("LIFECYCLE_EVALUATE_FIRST");
  });

  it("nothing changes a terminal lead", () => {
    const won = transition(workedLead(), { type: "win" }, day1);
    if (!won.ok) throw new Error("setup");
    const actions: LeadAction[] = [
      { type: "lose", reason: "x" },
      { type: "closeInError", reason: "x" },
      { type: "accept", owner: OWNER },
      { type: "expire" },
    ];
    for (const action of actions) {
      const result = transition(won.lead, action, day1);
      expect(result.ok ? "ok" : result.violation.code).toBe("LIFECYCLE_TERMINAL");
    }
  });

  it("a new lead cannot be lost or have substages completed", () => {
    expect(transition(newLead(), { type: "lose", reason: "x" }, day1)).toMatchObject({
      ok: false,
      violation: { code: "LIFECYCLE_NOT_ACCEPTED", message: "Accept the lead before marking the lead lost." },
    });
    expect(transition(newLead(), { type: "completeQualify" }, day1).ok).toBe(false);
  });

  it("an accepted lead cannot be declined or accepted again", () => {
    const accepted = run([{ type: "accept", owner: OWNER }]);
    if (!accepted.ok) throw new Error("setup");
    expect(transition(accepted.lead, { type: "decline", reason: "x" }, day1).ok).toBe(false);
    expect(transition(accepted.lead, { type: "accept", owner: OWNER }, day1).ok).toBe(false);
  });
});

describe("lifecycle: windows", () => {
  it("accepting after 14 days is refused, and expire only works once the window closed", () => {
    const late = daysAfter(RECEIVED, 14);
    const accept = transition(newLead(), { type: "accept", owner: OWNER }, late);
    expect(accept.ok ? "" : accept.violation.message).toBe(
      "The 14-day window to accept this lead closed on 2026-03-16; it has expired.",
    );
    expect(transition(newLead(), { type: "expire" }, daysAfter(RECEIVED, 13.9)).ok).toBe(false);
    const expired = transition(newLead(), { type: "expire" }, late);
    expect(expired.ok && expired.lead.state).toBe("expired");
  });

  it("Partner Center's own expirationDateTime wins over the 14-day arithmetic", () => {
    const lead = newLead({ expiresAt: daysAfter(RECEIVED, 10) });
    expect(transition(lead, { type: "accept", owner: OWNER }, daysAfter(RECEIVED, 11)).ok).toBe(false);
    expect(transition(lead, { type: "expire" }, daysAfter(RECEIVED, 10)).ok).toBe(true);
  });

  it("after 60 days seller actions are refused and lapse closes the lead as lost", () => {
    const lead = workedLead();
    const late = daysAfter(day1, 60);
    const win = transition(lead, { type: "win" }, late);
    expect(win.ok ? "" : win.violation.code).toBe("LIFECYCLE_ACT_WINDOW_CLOSED");
    expect(transition(lead, { type: "lapse" }, daysAfter(day1, 59)).ok).toBe(false);
    const lapsed = transition(lead, { type: "lapse" }, late);
    expect(lapsed.ok && lapsed.lead).toMatchObject({ state: "lost", closeReason: "Not closed within 60 days of acceptance" });
  });

  it("close in error stays possible after the act window", () => {
    expect(transition(workedLead(), { type: "closeInError", reason: "Wrong partner" }, daysAfter(day1, 90)).ok).toBe(true);
  });
});
