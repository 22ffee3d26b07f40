import { describe, expect, it } from "vitest";
import { adaptParsedReferral, adaptReferral, requestsForSteps } from "../../src/partner-center/adapter.js";
import { parseReferral } from "../../src/partner-center/adapter.js";

const base = {
  id: "r-1",
  engagementId: "e-1",
  name: "Fabrikam – Azure migration",
  referralProgram: "JointPlanning",
  createdDateTime: "2026-05-01T08:00:00Z",
  updatedDateTime: "2026-05-02T08:00:00Z",
  expirationDateTime: "2026-05-15T08:00:00Z",
  status: "New",
  substatus: "Received",
  eTag: '"\\"2500ec5a\\""',
  direction: "Incoming",
  customerProfile: {
    name: "Fabrikam",
    address: { city: "Lyon", country: "FR" },
    size: "51to250employees",
    team: [{ firstName: "Luc", lastName: "Martin", email: "luc@fabrikam.example" }],
  },
  details: {
    dealValue: "125000.50",
    currency: "EUR",
    notes: "Wants a landing zone",
    substages: [
      { name: "Qualify", status: "NotStarted" },
      { name: "Evaluate", status: "NotStarted" },
    ],
    requirements: { solutions: [{ id: "s1", name: "Azure Landing Zone", type: "Solution" }], products: ["Azure"] },
  },
  inviteContext: { invitedBy: { organizationId: "msft", organizationName: "Microsoft" }, sender: { firstName: "Mia", email: "mia@microsoft.example" } },
  trackingInfo: { microsoftMsxId: "7-XYZ" },
  someFutureField: { nested: true },
};

describe("referral adapter", () => {
  it("maps a new Joint Planning lead to the domain, keeping unknown fields in the raw record", () => {
    const { lead, remote, referral } = adaptReferral(base);
    expect(lead).toMatchObject({
      referralId: "r-1",
      engagementId: "e-1",
      program: "JointPlanning",
      state: "new",
      receivedAt: new Date("2026-05-01T08:00:00Z"),
      expiresAt: new Date("2026-05-15T08:00:00Z"),
      customer: { name: "Fabrikam", address: { city: "Lyon", country: "FR" }, contacts: [{ email: "luc@fabrikam.example" }] },
      deal: { value: 125000.5, currency: "EUR", notes: "Wants a landing zone" },
      microsoftSeller: { firstName: "Mia" },
      requirements: { solutions: ["Azure Landing Zone"], products: ["Azure"] },
      eTag: '"\\"2500ec5a\\""',
    });
    expect(remote).toEqual({ status: "New", substatus: "Received", direction: "Incoming" });
    expect(referral).toMatchObject({ trackingInfo: { microsoftMsxId: "7-XYZ" }, someFutureField: { nested: true } });
  });

  it("accepts both consent spellings", () => {
    const older = adaptReferral({ ...base, consent: { consentToToShareInfoWithOthers: true, consentToContact: false } });
    const newer = adaptReferral({ ...base, consent: { consentToShareInfoWithOthers: true, consentToShareReferralWithMicrosoftSellers: true } });
    expect(older.lead.consent).toEqual({ shareWithOthers: true, contact: false });
    expect(newer.lead.consent).toEqual({ shareWithOthers: true, shareWithMicrosoftSellers: true });
  });

  it("reads dealValue as a number or a string, and ignores garbage", () => {
    expect(adaptReferral({ ...base, details: { dealValue: 5000 } }).lead.deal.value).toBe(5000);
    expect(adaptReferral({ ...base, details: { dealValue: "1,250" } }).lead.deal.value).toBe(1250);
    expect(adaptReferral({ ...base, details: { dealValue: "lots" } }).lead.deal.value).toBeUndefined();
    expect(adaptReferral({ ...base, details: { dealValue: { amount: 1 } } }).lead.deal.value).toBeUndefined();
  });

  it("derives the lifecycle state from status, substatus, substages and statusReason", () => {
    const substages = (q: string, e: string) => ({ details: { substages: [{ name: "Qualify", status: q }, { name: "Evaluate", status: e }] } });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ status: "Active", substatus: "Accepted" }, "accepted"],
      [{ status: "Active", substatus: "Accepted", ...substages("Complete", "NotStarted") }, "qualified"],
      [{ status: "Active", substatus: "Accepted", ...substages("complete", "COMPLETE") }, "evaluated"],
      [{ status: "Closed", substatus: "Won" }, "won"],
      [{ status: "Closed", substatus: "Won", statusReason: "ConvertedToOpportunity" }, "converted"],
      [{ status: "Closed", substatus: "Lost", statusReason: "Budget" }, "lost"],
      [{ status: "Closed", substatus: "Lost", statusReason: "Error: duplicate" }, "closed-in-error"],
      [{ status: "Closed", substatus: "Declined" }, "declined"],
      [{ status: "closed", substatus: "expired" }, "expired"],
      [{ status: "Closed", substatus: "SomethingNew" }, "lost"],
      [{ status: "Pending-Review", substatus: "Whatever" }, "new"],
    ];
    for (const [patch, state] of cases) expect(adaptReferral({ ...base, ...patch }).lead.state, JSON.stringify(patch)).toBe(state);
    expect(adaptReferral({ ...base, status: "Closed", substatus: "Lost", statusReason: "Error: duplicate" }).lead.closeReason).toBe("duplicate");
  });

  it("tolerates missing and mistyped fields, but not a missing id", () => {
    const minimal = adaptReferral({ id: "only-id", status: 7, customerProfile: "nope", team: [{ email: 3 }] });
    expect(minimal.lead).toMatchObject({ referralId: "only-id", state: "new", name: "only-id", customer: { name: "", contacts: [] } });
    expect(() => parseReferral({ name: "x" })).toThrow(expect.objectContaining({ code: "PC_RECORD_INVALID" }));
  });

  it("adapts a referral the client already parsed exactly as it adapts the raw record", () => {
    const mistyped = { id: "only-id", status: 7, customerProfile: "nope", team: [{ email: 3 }], extra: { kept: true } };
    for (const raw of [mistyped, { ...mistyped, customerProfile: { name: "Contoso", team: [{ firstName: "A", email: "a@contoso.example" }] }, details: { dealValue: "1,200", substages: [{ name: "Qualify", status: "Complete" }] } }]) {
      expect(adaptParsedReferral(parseReferral(raw))).toEqual(adaptReferral(raw));
    }
  });
});

describe("lifecycle steps → referral requests", () => {
  const owner = { firstName: "Ada", lastName: "Lovelace", email: "ada@partner.example" };

  it("merges accept + Qualify into one patch that adds the owner to the team", () => {
    const requests = requestsForSteps(parseReferral(base), [{ type: "accept", owner }, { type: "completeQualify" }]);
    expect(requests).toEqual([
      {
        kind: "patch",
        operations: [
          { op: "replace", path: "/status", value: "Active" },
          { op: "replace", path: "/substatus", value: "Accepted" },
          // The record has no team list yet: it gets one.
          { op: "add", path: "/team", value: [owner] },
          { op: "replace", path: "/details/substages/0/status", value: "Complete" },
        ],
      },
    ]);
  });

  it("adds the accepting seller to an existing team, and not twice when Microsoft already tagged them", () => {
    const withTeam = parseReferral({ ...base, team: [{ firstName: "Grace", lastName: "Hopper", email: "grace@partner.example" }] });
    expect((requestsForSteps(withTeam, [{ type: "accept", owner }])[0] as { operations: unknown[] }).operations).toContainEqual({ op: "add", path: "/team/-", value: owner });
    const tagged = parseReferral({ ...base, team: [{ firstName: "Ada", lastName: "Lovelace", email: "ADA@partner.example" }] });
    expect((requestsForSteps(tagged, [{ type: "accept", owner }])[0] as { operations: unknown[] }).operations).toEqual([
      { op: "replace", path: "/status", value: "Active" },
      { op: "replace", path: "/substatus", value: "Accepted" },
    ]);
  });

  it("adds the substage list when the record has none", () => {
    const requests = requestsForSteps(parseReferral({ id: "x" }), [{ type: "completeQualify" }, { type: "completeEvaluate" }]);
    expect(requests).toEqual([
      {
        kind: "patch",
        operations: [
          { op: "add", path: "/details", value: { substages: [{ name: "Qualify", status: "Complete" }, { name: "Evaluate", status: "NotStarted" }] } },
          { op: "replace", path: "/details/substages/1/status", value: "Complete" },
        ],
      },
    ]);
  });

  it("closes with substatus and reason; close-in-error marks the reason", () => {
    const referral = parseReferral(base);
    expect(requestsForSteps(referral, [{ type: "decline", reason: "No capacity" }])[0]).toEqual({
      kind: "patch",
      operations: [
        { op: "replace", path: "/status", value: "Closed" },
        { op: "replace", path: "/substatus", value: "Declined" },
        { op: "add", path: "/statusReason", value: "No capacity" },
      ],
    });
    expect(requestsForSteps(referral, [{ type: "closeInError", reason: "Duplicate" }])[0]).toMatchObject({
      operations: expect.arrayContaining([{ op: "add", path: "/statusReason", value: "Error: Duplicate" }]),
    });
  });

  it("converts by creating the Shared referral first, then closing the lead as won/converted", () => {
    const requests = requestsForSteps(parseReferral(base), [{ type: "convert" }]);
    expect(requests[0]).toMatchObject({
      kind: "create",
      referral: { engagementId: "e-1", type: "Shared", inviteContext: { assistanceRequestCode: "GeneralOrOther" }, customerProfile: { name: "Fabrikam" } },
    });
    expect(requests[1]).toEqual({
      kind: "patch",
      operations: [
        { op: "replace", path: "/status", value: "Closed" },
        { op: "replace", path: "/substatus", value: "Won" },
        { op: "add", path: "/statusReason", value: "ConvertedToOpportunity" },
      ],
    });
  });

  it("refuses to send what only Partner Center decides", () => {
    expect(() => requestsForSteps(parseReferral(base), [{ type: "expire" }])).toThrow(expect.objectContaining({ code: "PC_NOT_A_REMOTE_ACTION" }));
  });
});
