import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { LeadAction, LeadState, LifecycleSnapshot } from "../../src/domain/index.js";
import {
  acceptBy,
  actBy,
  currentDeadline,
  DAY_MS,
  emptySubstages,
  isTerminal,
  planTransition,
  targetState,
  transition,
  LEAD_STATES,
} from "../../src/domain/index.js";

const RECEIVED = new Date("2026-05-01T00:00:00Z").getTime();

const personArb = fc.record(
  {
    firstName: fc.constantFrom("Ada", "", " ", "Grace"),
    lastName: fc.constantFrom("Hopper", ""),
    email: fc.constantFrom("s@p.example", "", "t@p.example"),
  },
  { requiredKeys: [] },
);
const reasonArb = fc.constantFrom("", "  ", "Budget", "Duplicate record");

const actionArb: fc.Arbitrary<LeadAction> = fc.oneof(
  personArb.map((owner) => ({ type: "accept", owner }) as const),
  reasonArb.map((reason) => ({ type: "decline", reason }) as const),
  fc.constant({ type: "completeQualify" } as const),
  fc.constant({ type: "completeEvaluate" } as const),
  fc.constant({ type: "win" } as const),
  reasonArb.map((reason) => ({ type: "lose", reason }) as const),
  reasonArb.map((reason) => ({ type: "closeInError", reason }) as const),
  fc.constant({ type: "convert" } as const),
  fc.constant({ type: "expire" } as const),
  fc.constant({ type: "lapse" } as const),
);

/** Each step: an action attempted after some time passed (0 to 30 days). */
const stepsArb = fc.array(fc.tuple(actionArb, fc.integer({ min: 0, max: 30 * DAY_MS })), { maxLength: 25 });
const startArb = fc.option(fc.integer({ min: DAY_MS, max: 30 * DAY_MS }), { nil: undefined }).map(
  (expiresIn): LifecycleSnapshot => ({
    state: "new",
    receivedAt: new Date(RECEIVED),
    substages: emptySubstages(),
    ...(expiresIn === undefined ? {} : { expiresAt: new Date(RECEIVED + expiresIn) }),
  }),
);

/** What a reachable state must look like; an illegal state breaks one of these. */
function assertLegal(lead: LifecycleSnapshot): void {
  const { qualify, evaluate } = lead.substages;
  if (evaluate.complete) expect(qualify.complete).toBe(true);
  if (lead.state === "qualified") expect([qualify.complete, evaluate.complete]).toEqual([true, false]);
  if (lead.state === "evaluated" || lead.state === "won" || lead.state === "converted") {
    expect(qualify.complete && evaluate.complete).toBe(true);
  }
  if (lead.state !== "new" && lead.state !== "declined" && lead.state !== "expired" && lead.acceptedAt === undefined) {
    // Only closed-in-error may skip acceptance.
    expect(lead.state).toBe("closed-in-error");
  }
  if (lead.acceptedAt) {
    expect(lead.owner?.email?.trim()).toBeTruthy();
    expect(lead.acceptedAt.getTime()).toBeLessThan(acceptBy(lead).getTime());
  }
  if (isTerminal(lead.state)) expect(lead.closedAt).toBeInstanceOf(Date);
  if (lead.state === "declined" || lead.state === "lost" || lead.state === "closed-in-error") {
    expect(lead.closeReason?.trim()).toBeTruthy();
  }
}

describe("lifecycle properties", () => {
  it("no illegal state is reachable, terminal states never change, deadlines never move backwards", () => {
    fc.assert(
      fc.property(startArb, stepsArb, (start, steps) => {
        let lead = start;
        let now = RECEIVED;
        const fixedAcceptBy = acceptBy(lead).getTime();
        let lastDeadline = currentDeadline(lead)?.at.getTime() ?? -Infinity;
        for (const [action, wait] of steps) {
          now += wait;
          const before = lead;
          const result = transition(lead, action, new Date(now));
          if (isTerminal(before.state)) {
            expect(result.ok).toBe(false);
            continue;
          }
          if (!result.ok) {
            expect(result.violation.message.length).toBeGreaterThan(10);
            continue;
          }
          lead = result.lead;
          assertLegal(lead);
          expect(acceptBy(lead).getTime()).toBe(fixedAcceptBy);
          const previousActBy = actBy(before);
          if (previousActBy) expect(actBy(lead)).toEqual(previousActBy);
          const deadline = currentDeadline(lead)?.at.getTime();
          if (deadline !== undefined) {
            expect(deadline).toBeGreaterThanOrEqual(lastDeadline);
            lastDeadline = deadline;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("a successful plan is a legal walk that ends in the desired state", () => {
    const desiredArb = fc.record({
      state: fc.constantFrom<LeadState>(...LEAD_STATES),
      owner: fc.option(personArb, { nil: undefined }),
      reason: fc.option(reasonArb, { nil: undefined }),
      qualifyComplete: fc.option(fc.boolean(), { nil: undefined }),
      evaluateComplete: fc.option(fc.boolean(), { nil: undefined }),
    });
    fc.assert(
      fc.property(startArb, stepsArb, desiredArb, fc.integer({ min: 0, max: 90 * DAY_MS }), (start, steps, desired, wait) => {
        let lead = start;
        let now = RECEIVED;
        for (const [action, pause] of steps) {
          now += pause;
          const result = transition(lead, action, new Date(now));
          if (result.ok) lead = result.lead;
        }
        now += wait;
        const plan = planTransition(lead, desired, new Date(now));
        if (!plan.ok) {
          expect(plan.violation.state).toBe(lead.state);
          return;
        }
        let walked = lead;
        for (const step of plan.steps) {
          const result = transition(walked, step, new Date(now));
          expect(result.ok).toBe(true);
          if (result.ok) walked = result.lead;
        }
        expect(walked).toEqual(plan.result);
        assertLegal(walked);
        expect(walked.state).toBe(targetState(desired));
      }),
      { numRuns: 2000 },
    );
  });
});
