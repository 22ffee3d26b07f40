import type { Lead } from "../domain/lead.js";
import type { OwnerSpec, RoutingCondition, RoutingConfig } from "./schema.js";

/** One condition of a rule, as tested against a lead (for `routing explain`). */
export interface ConditionCheck {
  condition: keyof RoutingCondition;
  wanted: string[];
  /** What the lead has for it. */
  actual: string[];
  matched: boolean;
}

export interface RuleCheck {
  index: number;
  name: string;
  matched: boolean;
  conditions: ConditionCheck[];
}

/**
 * Where a lead should go, before any CRM is asked: the owners to try in order (the first with an
 * active CRM user or team wins) and why. The last candidate is always the central owner or the
 * rules' default, so a lead is never left without one.
 */
export interface RoutingDecision {
  mode: RoutingConfig["mode"];
  /** What decided: "central", "direct: partner seller", "rule 2 (US enterprise)", "default"… */
  reason: string;
  candidates: Array<{ owner: OwnerSpec; why: string }>;
  /** The rules as tested, first to last (rules mode). */
  rules?: RuleCheck[];
}

export function decideRouting(routing: RoutingConfig, lead: Lead): RoutingDecision {
  switch (routing.mode) {
    case "central":
      return { mode: "central", reason: "central: every lead goes to one owner", candidates: [{ owner: routing.owner, why: "the central owner" }] };
    case "direct": {
      const sellers = lead.team.flatMap((member) => (member.email ? [member.email.trim()] : [])).filter((email, index, all) => all.findIndex((other) => other.toLowerCase() === email.toLowerCase()) === index);
      return {
        mode: "direct",
        reason: sellers.length > 0 ? `direct: the partner seller${sellers.length > 1 ? "s" : ""} on the lead, then the central owner` : "direct: the lead names no partner seller, so the central owner",
        candidates: [...sellers.map((email) => ({ owner: { user: email }, why: "a partner seller on the lead" })), { owner: routing.owner, why: "the central owner (fallback)" }],
      };
    }
    case "rules": {
      const rules = routing.rules.map((rule, index) => checkRule(rule.when, lead, index, rule.name));
      const winner = rules.find((rule) => rule.matched);
      const fallback = { owner: routing.default, why: "the default" };
      if (!winner) return { mode: "rules", reason: "default: no rule matched", candidates: [fallback], rules };
      const owner = (routing.rules[winner.index] as { owner: OwnerSpec }).owner;
      return { mode: "rules", reason: `rule ${winner.index + 1} (${winner.name})`, candidates: [{ owner, why: `rule ${winner.index + 1} (${winner.name})` }, fallback], rules };
    }
  }
}

function checkRule(when: RoutingCondition, lead: Lead, index: number, name: string | undefined): RuleCheck {
  const conditions: ConditionCheck[] = [];
  const test = (condition: keyof RoutingCondition, wanted: string[] | undefined, actual: string[], match: (want: string, have: string) => boolean) => {
    if (!wanted) return;
    conditions.push({ condition, wanted, actual, matched: wanted.some((want) => actual.some((have) => match(want, have))) });
  };
  const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();
  test("country", when.country, lead.customer.address?.country ? [lead.customer.address.country] : [], same);
  test("customerSize", when.customerSize, lead.customer.size ? [lead.customer.size] : [], same);
  test("solution", when.solution, lead.requirements.solutions, same);
  test("microsoftSeller", when.microsoftSeller, lead.microsoftSeller?.email ? [lead.microsoftSeller.email] : [], (want, have) => (want.startsWith("@") ? have.trim().toLowerCase().endsWith(want.toLowerCase()) : same(want, have)));
  return { index, name: name ?? `rule ${index + 1}`, matched: conditions.every((c) => c.matched), conditions };
}

/** An owner as config names it, for messages: "user jane@contoso.com", "team Joint Planning". */
export function describeOwnerSpec(owner: OwnerSpec): string {
  return "user" in owner ? `user ${owner.user}` : `team "${owner.team}"`;
}
