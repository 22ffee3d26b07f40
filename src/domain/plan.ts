import type { LeadState, LifecycleSnapshot, Person } from "./lead.js";
import { isTerminal } from "./lead.js";
import type { LeadAction, Violation } from "./lifecycle.js";
import { applyAll, terminalViolation } from "./lifecycle.js";

/**
 * What a seller's CRM edit asks for, as read through the mapping: a target state and whatever the
 * steps to it need. Substage flags are explicit because a seller may tick Qualify and Evaluate in one
 * save; `undefined` means the CRM said nothing about that substage.
 */
export interface DesiredOutcome {
  state: LeadState;
  owner?: Person;
  reason?: string;
  qualifyComplete?: boolean;
  evaluateComplete?: boolean;
}

export type Plan =
  | { ok: true; steps: LeadAction[]; result: LifecycleSnapshot }
  | { ok: false; violation: Violation };

const PROGRESS: Partial<Record<LeadState, number>> = { new: 0, accepted: 1, qualified: 2, evaluated: 3 };

/** Target states that do not pass through acceptance. */
const WITHOUT_ACCEPTANCE: ReadonlySet<LeadState> = new Set<LeadState>(["new", "declined", "closed-in-error"]);

function refuse(lead: LifecycleSnapshot, violation: Omit<Violation, "state">): Plan {
  return { ok: false, violation: { ...violation, state: lead.state } };
}

/**
 * The ordered Partner Center steps that take `lead` to `desired` at `now`, or the first rule they
 * break. Acceptance is inserted when the target needs it and an owner is known; substages are only
 * completed when the seller said so, never assumed.
 */
export function planTransition(lead: LifecycleSnapshot, requested: DesiredOutcome, now: Date): Plan {
  const desired = { ...requested, state: targetState(requested) };
  if (isTerminal(lead.state)) {
    return desired.state === lead.state
      ? { ok: true, steps: [], result: lead }
      : { ok: false, violation: terminalViolation(lead.state) };
  }

  if (desired.state === "expired") {
    return refuse(lead, {
      code: "LIFECYCLE_NOT_A_SELLER_ACTION",
      message: "Partner Center expires a lead by itself when the 14-day accept window closes; decline the lead instead.",
    });
  }

  const reopen = reopenViolation(lead, desired);
  if (reopen) return refuse(lead, reopen);

  const steps: LeadAction[] = [];
  if (lead.state === "new" && !WITHOUT_ACCEPTANCE.has(desired.state)) {
    steps.push({ type: "accept", owner: desired.owner ?? lead.owner ?? {} });
  }
  if (desired.state !== "declined") {
    const wantQualify = desired.qualifyComplete === true || desired.state === "qualified";
    const wantEvaluate = desired.evaluateComplete === true || desired.state === "evaluated";
    if (wantQualify && !lead.substages.qualify.complete) steps.push({ type: "completeQualify" });
    if (wantEvaluate && !lead.substages.evaluate.complete) steps.push({ type: "completeEvaluate" });
  }
  const closing = closingStep(desired);
  if (closing) steps.push(closing);

  const applied = applyAll(lead, steps, now);
  // The violation may arise mid-walk; the seller is told about the lead as it stands.
  return applied.ok ? { ok: true, steps, result: applied.lead } : refuse(lead, applied.violation);
}

/**
 * A working-state target raised by the substage flags: a CRM that shows status "Accepted" with the
 * Qualify box ticked means "qualified". Closing targets are left as asked.
 */
export function targetState(desired: DesiredOutcome): LeadState {
  const asked = PROGRESS[desired.state];
  if (asked === undefined) return desired.state;
  const implied = desired.evaluateComplete === true ? 3 : desired.qualifyComplete === true ? 2 : 0;
  if (implied <= asked) return desired.state;
  return implied === 3 ? "evaluated" : "qualified";
}

function closingStep(desired: DesiredOutcome): LeadAction | undefined {
  const reason = desired.reason ?? "";
  switch (desired.state) {
    case "won":
      return { type: "win" };
    case "converted":
      return { type: "convert" };
    case "lost":
      return { type: "lose", reason };
    case "declined":
      return { type: "decline", reason };
    case "closed-in-error":
      return { type: "closeInError", reason };
    default:
      return undefined;
  }
}

function reopenViolation(lead: LifecycleSnapshot, desired: DesiredOutcome): Omit<Violation, "state"> | undefined {
  const from = PROGRESS[lead.state];
  const to = PROGRESS[desired.state];
  if (from !== undefined && to !== undefined && to < from) {
    return to === 0
      ? { code: "LIFECYCLE_NO_REOPEN", message: "An accepted lead cannot go back to New; mark it lost or closed in error instead." }
      : { code: "LIFECYCLE_NO_REOPEN", message: "A completed substage cannot be reopened in Partner Center." };
  }
  if (
    (desired.qualifyComplete === false && lead.substages.qualify.complete) ||
    (desired.evaluateComplete === false && lead.substages.evaluate.complete)
  ) {
    return { code: "LIFECYCLE_NO_REOPEN", message: "A completed substage cannot be reopened in Partner Center." };
  }
  return undefined;
}
