import { describe, expect, it } from "vitest";
import { acceptBy, actBy, currentDeadline, HOUR_MS, transition, urgency } from "../../src/domain/index.js";
import { daysAfter, newLead, OWNER, RECEIVED } from "../helpers/leads.js";

describe("deadlines", () => {
  it("accept-by is received + 14 days unless Partner Center states an expiry", () => {
    expect(acceptBy(newLead())).toEqual(daysAfter(RECEIVED, 14));
    expect(acceptBy(newLead({ expiresAt: daysAfter(RECEIVED, 12) }))).toEqual(daysAfter(RECEIVED, 12));
  });

  it("act-by is accepted + 60 days and only exists once accepted", () => {
    expect(actBy(newLead())).toBeUndefined();
    const accepted = transition(newLead(), { type: "accept", owner: OWNER }, daysAfter(RECEIVED, 3));
    if (!accepted.ok) throw new Error("setup");
    expect(actBy(accepted.lead)).toEqual(daysAfter(RECEIVED, 63));
    expect(currentDeadline(accepted.lead)).toEqual({ kind: "act", at: daysAfter(RECEIVED, 63) });
  });

  it("closed leads have no deadline and no urgency", () => {
    const declined = transition(newLead(), { type: "decline", reason: "x" }, RECEIVED);
    if (!declined.ok) throw new Error("setup");
    expect(currentDeadline(declined.lead)).toBeUndefined();
    expect(urgency(declined.lead, RECEIVED)).toEqual({ level: "none", rank: 0 });
  });

  it("urgency climbs as the deadline nears and ranks overdue work highest", () => {
    const lead = newLead();
    const deadline = acceptBy(lead).getTime();
    const at = (msBefore: number) => urgency(lead, new Date(deadline - msBefore));
    expect(at(10 * 24 * HOUR_MS).level).toBe("normal");
    expect(at(7 * 24 * HOUR_MS).level).toBe("soon");
    expect(at(24 * HOUR_MS).level).toBe("urgent");
    expect(at(4 * HOUR_MS).level).toBe("critical");
    expect(at(0).level).toBe("overdue");
    expect(at(-HOUR_MS)).toMatchObject({ level: "overdue", remainingMs: -HOUR_MS });
    const ranks = [10, 7, 1].map((d) => at(d * 24 * HOUR_MS).rank).concat(at(4 * HOUR_MS).rank, at(0).rank);
    expect([...ranks].sort((a, b) => a - b)).toEqual(ranks);
  });
});
