import { acceptBy, actBy } from "./deadlines.js";
import type { LeadState, LifecycleSnapshot, Person } from "./lead.js";
import { displayName, isTerminal, WORKING_STATES } from "./lead.js";

/**
 * The Joint Planning lifecycle as a state machine. Seller actions come from CRM edits; `expire` and
 * `lapse` are what Partner Center (and our local enforcement) do when a window closes.
 */
export type LeadAction =
  | { type: "accept"; owner: Person }
  | { type: "decline"; reason: string }
  | { type: "completeQualify" }
  | { type: "completeEvaluate" }
  | { type: "win" }
  | { type: "lose"; reason: string }
  | { type: "closeInError"; reason: string }
  | { type: "convert" }
  | { type: "expire" }
  | { type: "lapse" };

export type LeadActionType = LeadAction["type"];

export type ViolationCode =
  | "LIFECYCLE_TERMINAL"
  | "LIFECYCLE_OWNER_REQUIRED"
  | "LIFECYCLE_REASON_REQUIRED"
  | "LIFECYCLE_NOT_ACCEPTED"
  | "LIFECYCLE_ALREADY_ACCEPTED"
  | "LIFECYCLE_QUALIFY_FIRST"
  | "LIFECYCLE_EVALUATE_FIRST"
  | "LIFECYCLE_ALREADY_COMPLETE"
  | "LIFECYCLE_ACCEPT_WINDOW_CLOSED"
  | "LIFECYCLE_ACT_WINDOW_CLOSED"
  | "LIFECYCLE_NOT_DUE"
  | "LIFECYCLE_NO_REOPEN"
  | "LIFECYCLE_NOT_A_SELLER_ACTION";

/** Why a change is refused, in words a seller can act on (it is written to the CRM record). */
export interface Violation {
  code: ViolationCode;
  message: string;
  action?: LeadActionType;
  state: LeadState;
}

export type TransitionResult =
  | { ok: true; lead: LifecycleSnapshot }
  | { ok: false; violation: Violation };

const ACTION_LABEL: Record<LeadActionType, string> = {
  accept: "accepting the lead",
  decline: "declining the lead",
  completeQualify: "marking Qualify complete",
  completeEvaluate: "marking Evaluate complete",
  win: "marking the lead won",
  lose: "marking the lead lost",
  closeInError: "closing the lead in error",
  convert: "converting the lead to an opportunity",
  expire: "expiring the lead",
  lapse: "closing the lead under the 60-day rule",
};

const STATE_LABEL: Record<LeadState, string> = {
  new: "new",
  accepted: "accepted",
  qualified: "qualified",
  evaluated: "evaluated",
  won: "won",
  lost: "lost",
  declined: "declined",
  expired: "expired",
  "closed-in-error": "closed in error",
  converted: "converted to an opportunity",
};

export function terminalViolation(state: LeadState, action?: LeadActionType): Violation {
  return {
    code: "LIFECYCLE_TERMINAL",
    message: `This lead is already ${STATE_LABEL[state]}; Partner Center does not allow changes to a closed lead.`,
    state,
    ...(action === undefined ? {} : { action }),
  };
}

function refuse(lead: LifecycleSnapshot, action: LeadAction, code: ViolationCode, message: string): TransitionResult {
  return { ok: false, violation: { code, message, action: action.type, state: lead.state } };
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function hasText(value: string | undefined): value is string {
  return typeof value === "string" && value.trim().length > 0;
}

/** Applies one action at `now`, or says why Partner Center would refuse it. Never mutates `lead`. */
export function transition(lead: LifecycleSnapshot, action: LeadAction, now: Date): TransitionResult {
  if (isTerminal(lead.state)) return { ok: false, violation: terminalViolation(lead.state, action.type) };

  const working = WORKING_STATES.has(lead.state);
  const close = (state: LeadState, reason?: string): TransitionResult => ({
    ok: true,
    lead: { ...lead, state, closedAt: now, ...(reason === undefined ? {} : { closeReason: reason }) },
  });
  const requireWorking = (): TransitionResult | undefined => {
    if (!working) {
      return refuse(lead, action, "LIFECYCLE_NOT_ACCEPTED", `Accept the lead before ${ACTION_LABEL[action.type]}.`);
    }
    const deadline = actBy(lead);
    if (deadline && now.getTime() >= deadline.getTime()) {
      return refuse(
        lead,
        action,
        "LIFECYCLE_ACT_WINDOW_CLOSED",
        `The 60-day window to act on this lead closed on ${day(deadline)}; Partner Center closes it as lost.`,
      );
    }
    return undefined;
  };
  const requireReason = (reason: string): TransitionResult | undefined =>
    hasText(reason)
      ? undefined
      : refuse(lead, action, "LIFECYCLE_REASON_REQUIRED", `Give a reason before ${ACTION_LABEL[action.type]}.`);

  switch (action.type) {
    case "accept": {
      if (lead.state !== "new") {
        return refuse(lead, action, "LIFECYCLE_ALREADY_ACCEPTED", "This lead has already been accepted.");
      }
      const owner = action.owner;
      if (!hasText(owner.email) || !hasText(displayName({ firstName: owner.firstName, lastName: owner.lastName }))) {
        return refuse(
          lead,
          action,
          "LIFECYCLE_OWNER_REQUIRED",
          "Assign the lead to a partner seller with a name and an email address before accepting it; Partner Center adds that seller to the lead's team.",
        );
      }
      const deadline = acceptBy(lead);
      if (now.getTime() >= deadline.getTime()) {
        return refuse(
          lead,
          action,
          "LIFECYCLE_ACCEPT_WINDOW_CLOSED",
          `The 14-day window to accept this lead closed on ${day(deadline)}; it has expired.`,
        );
      }
      return { ok: true, lead: { ...lead, state: "accepted", acceptedAt: now, owner: { ...owner } } };
    }
    case "decline": {
      if (lead.state !== "new") {
        return refuse(
          lead,
          action,
          "LIFECYCLE_ALREADY_ACCEPTED",
          "An accepted lead cannot be declined; mark it lost with a reason instead.",
        );
      }
      return requireReason(action.reason) ?? close("declined", action.reason.trim());
    }
    case "completeQualify": {
      const refused = requireWorking();
      if (refused) return refused;
      if (lead.substages.qualify.complete) {
        return refuse(lead, action, "LIFECYCLE_ALREADY_COMPLETE", "Qualify is already marked complete.");
      }
      return {
        ok: true,
        lead: {
          ...lead,
          state: "qualified",
          substages: { ...lead.substages, qualify: { complete: true, completedAt: now } },
        },
      };
    }
    case "completeEvaluate": {
      const refused = requireWorking();
      if (refused) return refused;
      if (!lead.substages.qualify.complete) {
        return refuse(lead, action, "LIFECYCLE_QUALIFY_FIRST", "Mark Qualify complete before marking Evaluate complete.");
      }
      if (lead.substages.evaluate.complete) {
        return refuse(lead, action, "LIFECYCLE_ALREADY_COMPLETE", "Evaluate is already marked complete.");
      }
      return {
        ok: true,
        lead: {
          ...lead,
          state: "evaluated",
          substages: { ...lead.substages, evaluate: { complete: true, completedAt: now } },
        },
      };
    }
    case "win":
    case "convert": {
      const refused = requireWorking();
      if (refused) return refused;
      if (!lead.substages.qualify.complete) {
        return refuse(lead, action, "LIFECYCLE_QUALIFY_FIRST", `Mark Qualify complete before ${ACTION_LABEL[action.type]}.`);
      }
      if (!lead.substages.evaluate.complete) {
        return refuse(lead, action, "LIFECYCLE_EVALUATE_FIRST", `Mark Evaluate complete before ${ACTION_LABEL[action.type]}.`);
      }
      return close(action.type === "win" ? "won" : "converted");
    }
    case "lose": {
      return requireWorking() ?? requireReason(action.reason) ?? close("lost", action.reason.trim());
    }
    case "closeInError": {
      return requireReason(action.reason) ?? close("closed-in-error", action.reason.trim());
    }
    case "expire": {
      if (lead.state !== "new") {
        return refuse(lead, action, "LIFECYCLE_ALREADY_ACCEPTED", "Only a lead that was never accepted can expire.");
      }
      const deadline = acceptBy(lead);
      if (now.getTime() < deadline.getTime()) {
        return refuse(lead, action, "LIFECYCLE_NOT_DUE", `The accept window runs until ${day(deadline)}; the lead has not expired.`);
      }
      return close("expired", "Not accepted within 14 days");
    }
    case "lapse": {
      const deadline = actBy(lead);
      if (!working || !deadline) {
        return refuse(lead, action, "LIFECYCLE_NOT_ACCEPTED", "Only an accepted lead falls under the 60-day rule.");
      }
      if (now.getTime() < deadline.getTime()) {
        return refuse(lead, action, "LIFECYCLE_NOT_DUE", `The act window runs until ${day(deadline)}; the lead is still open.`);
      }
      return close("lost", "Not closed within 60 days of acceptance");
    }
  }
}

/** Runs actions in order and stops at the first refusal. */
export function applyAll(lead: LifecycleSnapshot, actions: readonly LeadAction[], now: Date): TransitionResult {
  let current = lead;
  for (const action of actions) {
    const result = transition(current, action, now);
    if (!result.ok) return result;
    current = result.lead;
  }
  return { ok: true, lead: current };
}
