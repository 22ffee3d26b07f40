import { describe, expect, it } from "vitest";
import type { LifecycleSnapshot } from "../../src/domain/index.js";
import { planTransition, targetState, transition } from "../../src/domain/index.js";
import { daysAfter, newLead, OWNER, RECEIVED } from "../helpers/leads.js";

const now = daysAfter(RECEIVED, 2);

function accepted(): LifecycleSnapshot {
  const result = transition(newLead(), { type: "accept", owner: OWNER }, daysAfter(RECEIVED, 1));
  if (!result.ok) throw new Error("setup");
  return result.lead;
}

describe("planTransition", () => {
  it("inserts acceptance with the CRM owner when the seller jumps straight to Qualify", () => {
    const plan = planTransition(newLead(), { state: "qualified", owner: OWNER }, now);
    expect(plan.ok && plan.steps).toEqual([{ type: "accept", owner: OWNER }, { type: "completeQualify" }]);
    expect(plan.ok && plan.result.state).toBe("qualified");
  });

  it("takes a lead from new to won when the seller ticked both substages in one save", () => {
    const plan = planTransition(
      newLead(),
      { state: "won", owner: OWNER, qualifyComplete: true, evaluateComplete: true },
      now,
    );
    expect(plan.ok && plan.steps.map((s) => s.type)).toEqual(["accept", "completeQualify", "completeEvaluate", "win"]);
  });

  it("never assumes a substage the seller did not mark", () => {
    const plan = planTransition(accepted(), { state: "won" }, now);
    expect(plan).toEqual({
      ok: false,
      violation: {
        code: "LIFECYCLE_QUALIFY_FIRST",
        message: "Mark Qualify complete before marking the lead won.",
        action: "win",
        state: "accepted",
      },
    });
  });

  it("lets ticked substages raise a working target (status Accepted + Qualify ticked = qualified)", () => {
    const plan = planTransition(accepted(), { state: "accepted", qualifyComplete: true }, now);
    expect(plan.ok && plan.steps).toEqual([{ type: "completeQualify" }]);
    expect(targetState({ state: "new", evaluateComplete: true })).toBe("evaluated");
    expect(targetState({ state: "lost", evaluateComplete: true })).toBe("lost");
  });

  it("asks for an owner before acceptance", () => {
    const plan = planTransition(newLead(), { state: "accepted" }, now);
    expect(plan.ok ? "" : plan.violation.code).toBe("LIFECYCLE_OWNER_REQUIRED");
  });

  it("uses the owner already on the lead when the edit names none", () => {
    const plan = planTransition(newLead({ owner: OWNER }), { state: "accepted" }, now);
    expect(plan.ok && plan.steps).toEqual([{ type: "accept", owner: OWNER }]);
  });

  it("is empty when the lead is already where the seller wants it", () => {
    expect(planTransition(accepted(), { state: "accepted" }, now)).toMatchObject({ ok: true, steps: [] });
    const won: LifecycleSnapshot = { ...accepted(), state: "won" };
    expect(planTransition(won, { state: "won" }, now)).toMatchObject({ ok: true, steps: [] });
  });

  it("refuses to reopen a substage or to go back to New", () => {
    const qualified = planTransition(accepted(), { state: "qualified" }, now);
    if (!qualified.ok) throw new Error("setup");
    expect(planTransition(qualified.result, { state: "accepted" }, now)).toMatchObject({
      ok: false,
      violation: { code: "LIFECYCLE_NO_REOPEN" },
    });
    expect(planTransition(qualified.result, { state: "qualified", qualifyComplete: false }, now).ok).toBe(false);
    expect(planTransition(accepted(), { state: "new" }, now)).toMatchObject({
      ok: false,
      violation: { message: "An accepted lead cannot go back to New; mark it lost or closed in error instead." },
    });
  });

  it("refuses any change to a closed lead", () => {
    const lost: LifecycleSnapshot = { ...accepted(), state: "lost" };
    expect(planTransition(lost, { state: "won" }, now)).toMatchObject({ ok: false, violation: { code: "LIFECYCLE_TERMINAL" } });
  });

  it("does not let a seller expire a lead, and declines without accepting", () => {
    expect(planTransition(newLead(), { state: "expired" }, now)).toMatchObject({
      ok: false,
      violation: { code: "LIFECYCLE_NOT_A_SELLER_ACTION" },
    });
    const decline = planTransition(newLead(), { state: "declined", reason: "No capacity", owner: OWNER }, now);
    expect(decline.ok && decline.steps).toEqual([{ type: "decline", reason: "No capacity" }]);
    expect(planTransition(newLead(), { state: "declined" }, now)).toMatchObject({
      ok: false,
      violation: { code: "LIFECYCLE_REASON_REQUIRED", message: "Give a reason before declining the lead." },
    });
  });

  it("refuses a plan that would land after the accept window", () => {
    const plan = planTransition(newLead(), { state: "accepted", owner: OWNER }, daysAfter(RECEIVED, 15));
    expect(plan.ok ? "" : plan.violation.code).toBe("LIFECYCLE_ACCEPT_WINDOW_CLOSED");
  });
});
