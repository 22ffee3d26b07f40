import { describe, expect, it } from "vitest";
import type { Lead } from "../../src/domain/lead.js";
import { adaptReferral } from "../../src/partner-center/adapter.js";
import { decideRouting } from "../../src/routing/decide.js";
import type { RoutingConfig } from "../../src/routing/schema.js";
import { routingSchema } from "../../src/routing/schema.js";

function lead(overrides: Record<string, unknown> = {}): Lead {
  return adaptReferral({
    id: "ref-1",
    customerProfile: { name: "Contoso", address: { country: "US" }, size: "Morethan20000employees" },
    details: { requirements: { solutions: [{ id: "sol-1", name: "SAP on Azure" }] } },
    inviteContext: { sender: { firstName: "Mia", lastName: "Msft", email: "mia@microsoft.example" } },
    team: [],
    ...overrides,
  }).lead;
}

const parse = (value: unknown): RoutingConfig => routingSchema.parse(value);

describe("routing decisions", () => {
  it("central: every lead goes to the central owner", () => {
    const decision = decideRouting(parse({ mode: "central", owner: { team: "Joint Planning Leads" } }), lead());
    expect(decision.candidates).toEqual([{ owner: { team: "Joint Planning Leads" }, why: "the central owner" }]);
  });

  it("direct: the partner sellers tagged on the lead in order, then the central owner", () => {
    const routing = parse({ mode: "direct", owner: { user: "referrals@partner.example" } });
    const tagged = lead({ team: [{ firstName: "Ada", lastName: "L", email: "ada@partner.example" }, { firstName: "X", lastName: "Y" }, { firstName: "Ada", lastName: "L", email: "ADA@partner.example" }, { firstName: "Grace", lastName: "H", email: "grace@partner.example" }] });
    expect(decideRouting(routing, tagged).candidates.map((c) => c.owner)).toEqual([{ user: "ada@partner.example" }, { user: "grace@partner.example" }, { user: "referrals@partner.example" }]);
    const untagged = decideRouting(routing, lead());
    expect(untagged.candidates.map((c) => c.owner)).toEqual([{ user: "referrals@partner.example" }]);
    expect(untagged.reason).toMatch(/names no partner seller/);
  });

  it("rules: the first matching rule wins, every condition must hold, values match case-insensitively", () => {
    const routing = parse({
      mode: "rules",
      rules: [
        { name: "EMEA", when: { country: ["DE", "FR"] }, owner: { user: "emea@partner.example" } },
        { name: "US enterprise SAP", when: { country: "us", customerSize: "Morethan20000employees", solution: "sap on azure" }, owner: { user: "sap@partner.example" } },
        { name: "US", when: { country: "US" }, owner: { user: "us@partner.example" } },
      ],
      default: { team: "Joint Planning Leads" },
    });
    const decision = decideRouting(routing, lead());
    expect(decision.reason).toBe("rule 2 (US enterprise SAP)");
    expect(decision.candidates.map((c) => c.owner)).toEqual([{ user: "sap@partner.example" }, { team: "Joint Planning Leads" }]);
    expect(decision.rules?.map((r) => r.matched)).toEqual([false, true, true]);
    expect(decision.rules?.[0]?.conditions).toEqual([{ condition: "country", wanted: ["DE", "FR"], actual: ["US"], matched: false }]);
    // A condition on a field the lead lacks does not match.
    const small = decideRouting(routing, lead({ customerProfile: { name: "Contoso", address: { country: "US" } } }));
    expect(small.reason).toBe("rule 3 (US)");
  });

  it("rules: a Microsoft seller matches by email or by @domain; no match goes to the default", () => {
    const routing = parse({
      mode: "rules",
      rules: [{ when: { microsoftSeller: "@MICROSOFT.example" }, owner: { user: "ms@partner.example" } }],
      default: { user: "referrals@partner.example" },
    });
    expect(decideRouting(routing, lead()).reason).toBe("rule 1 (rule 1)");
    const other = decideRouting(routing, lead({ inviteContext: { sender: { email: "someone@contoso.example" } } }));
    expect(other.reason).toBe("default: no rule matched");
    expect(other.candidates).toEqual([{ owner: { user: "referrals@partner.example" }, why: "the default" }]);
  });

  it("refuses routing it could not follow, saying what is wrong", () => {
    const problems = (value: unknown) => routingSchema.safeParse(value).error?.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`) ?? [];
    expect(problems({ mode: "rules", rules: [{ when: { country: "US" }, owner: { user: "a@b.example" } }] })).toEqual([expect.stringMatching(/^default: /)]);
    expect(problems({ mode: "rules", rules: [{ when: {}, owner: { user: "a@b.example" } }], default: { user: "a@b.example" } })).toEqual([expect.stringMatching(/rules\.0\.when: has no condition/)]);
    expect(problems({ mode: "rules", rules: [{ when: { country: "USA" }, owner: { user: "a@b.example" } }], default: { user: "a@b.example" } })[0]).toMatch(/two-letter country code/);
    expect(problems({ mode: "rules", rules: [{ when: { customerSize: "huge" }, owner: { user: "a@b.example" } }], default: { user: "a@b.example" } })[0]).toMatch(/not a customer size/);
    expect(problems({ mode: "central", owner: { user: "not an email" } })[0]).toMatch(/owner\.user: is not an email address/);
    expect(problems({ mode: "direct" })[0]).toMatch(/^owner: /);
    expect(problems({ mode: "everyone" })[0]).toMatch(/needs mode: central, direct or rules/);
    expect(problems({ mode: "central", owner: { user: "a@b.example", team: "x" } }).length).toBeGreaterThan(0);
  });
});
