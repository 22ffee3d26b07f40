import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { LeadAction, LifecycleSnapshot } from "../../src/domain/index.js";
import { DAY_MS, transition } from "../../src/domain/index.js";
import { adaptReferral, requestsForSteps } from "../../src/partner-center/adapter.js";
import type { ReferralClient } from "../../src/partner-center/client.js";
import { ReferralConflictError } from "../../src/partner-center/errors.js";
import type { WireReferral } from "../../src/partner-center/wire.js";
import type { PartnerCenterSandbox } from "../../src/sandbox/partner-center/sandbox.js";
import { ManualClock } from "../../src/shared/clock.js";
import { startSandboxWithClient } from "../helpers/pc-sandbox.js";

/**
 * The referral client against the sandbox: the cases the real API documents, and the refusals it
 * makes. The sandbox's rules are a separate implementation from src/domain, so the last property
 * checks the two readings of the lifecycle agree.
 */
const clock = new ManualClock(new Date());
let sandbox: PartnerCenterSandbox;
let client: ReferralClient;
const owner = { firstName: "Ada", lastName: "Lovelace", email: "ada@partner.example" };

beforeAll(async () => {
  ({ sandbox, client } = await startSandboxWithClient({ clock, seed: "contract" }));
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(() => {
  Object.assign(sandbox.faults, { throttleRate: 0, errorRate: 0 });
});

/**
 * A new lead nobody is tagged on: acceptance then hinges on the seller the step names (a lead that
 * already has a partner seller on its team is accepted by Partner Center whoever the step names;
 * the planner names that seller then).
 */
function freshLead(): WireReferral {
  const [lead] = sandbox.generate(1, { acceptedShare: 0, spreadDays: 0 });
  if (!lead) throw new Error("no lead");
  if ((lead.team ?? []).length === 0) return lead;
  return sandbox.referrals.touch(lead.id, (r) => void (r.team = []));
}

async function apply(referral: WireReferral, steps: LeadAction[]): Promise<WireReferral> {
  let current = await client.get(referral.id);
  for (const request of requestsForSteps(current, steps)) {
    if (request.kind === "create") await client.create(request.referral);
    else current = await client.patch(current.id, request.operations, current.eTag ?? "");
  }
  return current;
}

describe("listing", () => {
  it("pages through every record by updatedDateTime, following the documented (quirky) nextLink", async () => {
    sandbox.generate(250);
    const seen: string[] = [];
    let previous = "";
    let pages = 0;
    for await (const page of client.listChanged({ since: new Date(0) })) {
      pages += 1;
      expect(page.items.length).toBeLessThanOrEqual(100);
      for (const item of page.items) {
        expect((item.updatedDateTime ?? "") >= previous).toBe(true);
        previous = item.updatedDateTime ?? "";
        seen.push(item.id);
      }
    }
    expect(new Set(seen).size).toBe(sandbox.referrals.size);
    expect(pages).toBe(Math.ceil(sandbox.referrals.size / 100));
  });

  it("filters on status, team member and time, and refuses an unsupported filter", async () => {
    const lead = await apply(freshLead(), [{ type: "accept", owner: { ...owner, email: "filter-me@partner.example" } }]);
    const found: string[] = [];
    for await (const page of client.listChanged({ filter: "team/any(t:t/email eq 'FILTER-ME@partner.example') and status eq 'Active'" })) found.push(...page.items.map((i) => i.id));
    expect(found).toEqual([lead.id]);
    const later: string[] = [];
    for await (const page of client.listChanged({ since: new Date(lead.updatedDateTime ?? 0) })) later.push(...page.items.map((i) => i.id));
    expect(later).toContain(lead.id);
    const pagesOf = async (filter: string) => {
      for await (const page of client.listChanged({ filter })) void page;
    };
    await expect(pagesOf("dealValue gt 5")).rejects.toMatchObject({ code: "PC_INVALID_REQUEST", details: { target: "$filter" } });
  });
});

describe("what the sandbox refuses, as the real API does", () => {
  it("accepting without a partner seller on the team", async () => {
    const lead = freshLead();
    const bare = [
      { op: "replace" as const, path: "/status", value: "Active" },
      { op: "replace" as const, path: "/substatus", value: "Accepted" },
    ];
    await expect(client.patch(lead.id, bare, lead.eTag ?? "")).rejects.toMatchObject({ code: "PC_INVALID_REQUEST", details: { target: "team" } });
    const accepted = await apply(lead, [{ type: "accept", owner }]);
    expect(adaptReferral(accepted).lead).toMatchObject({ state: "accepted", owner: { email: owner.email } });
    expect(accepted.acceptedDateTime).toBe(clock.now().toISOString());
    expect(accepted.eTag).not.toBe(lead.eTag);
  });

  it("a stale eTag: 412, re-read, typed conflict carrying the current record", async () => {
    const lead = freshLead();
    const moved = await apply(lead, [{ type: "accept", owner }]);
    const error = await client.patch(lead.id, [{ op: "replace", path: "/statusReason", value: "x" }], lead.eTag ?? "").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReferralConflictError);
    expect((error as ReferralConflictError).current.eTag).toBe(moved.eTag);
  });

  it("declining or losing without a reason", async () => {
    const lead = freshLead();
    await expect(apply(lead, [{ type: "decline", reason: "" }])).rejects.toMatchObject({ details: { target: "statusReason" } });
    expect(adaptReferral(await apply(lead, [{ type: "decline", reason: "Outside our region" }])).lead.state).toBe("declined");
    const other = await apply(freshLead(), [{ type: "accept", owner }]);
    await expect(apply(other, [{ type: "lose", reason: " " }])).rejects.toMatchObject({ code: "PC_INVALID_REQUEST" });
  });

  it("Evaluate before Qualify, and won before both", async () => {
    const lead = await apply(freshLead(), [{ type: "accept", owner }]);
    const evaluateFirst = [{ op: "replace" as const, path: "/details/substages/1/status", value: "Complete" }];
    await expect(client.patch(lead.id, evaluateFirst, lead.eTag ?? "")).rejects.toMatchObject({ details: { remoteMessage: "Complete Qualify before Evaluate." } });
    await expect(apply(lead, [{ type: "win" }])).rejects.toMatchObject({ details: { target: "details.substages" } });
    const won = await apply(lead, [{ type: "completeQualify" }, { type: "completeEvaluate" }, { type: "win" }]);
    expect(adaptReferral(won).lead.state).toBe("won");
  });

  it("any change to a terminal record", async () => {
    const lead = await apply(freshLead(), [{ type: "decline", reason: "No capacity" }]);
    await expect(client.patch(lead.id, [{ op: "replace", path: "/details/notes", value: "late note" }], lead.eTag ?? "")).rejects.toMatchObject({
      code: "PC_INVALID_REQUEST",
      details: { target: "status" },
    });
  });

  it("operations other than replace/add, and read-only fields", async () => {
    const lead = freshLead();
    await expect(client.patch(lead.id, [{ op: "remove", path: "/details/notes" } as never], lead.eTag ?? "")).rejects.toMatchObject({ details: { target: "op" } });
    await expect(client.patch(lead.id, [{ op: "replace", path: "/eTag", value: "\"x\"" }], lead.eTag ?? "")).rejects.toMatchObject({ code: "PC_INVALID_REQUEST" });
    await expect(client.patch(lead.id, [{ op: "replace", path: "/nope/deeper", value: 1 }], lead.eTag ?? "")).rejects.toMatchObject({ code: "PC_INVALID_REQUEST" });
  });

  it("a conversion without a country code on the customer", async () => {
    const lead = await apply(freshLead(), [{ type: "accept", owner }, { type: "completeQualify" }, { type: "completeEvaluate" }]);
    const broken = { ...lead, customerProfile: { ...lead.customerProfile, address: { city: "Lyon" } } } as WireReferral;
    const [create] = requestsForSteps(broken, [{ type: "convert" }]);
    if (create?.kind !== "create") throw new Error("expected a create");
    await expect(client.create(create.referral)).rejects.toMatchObject({ details: { target: "customerProfile.address.country" } });
  });

  it("unknown ids", async () => {
    await expect(client.get("00000000-0000-0000-0000-000000000000")).rejects.toMatchObject({ code: "PC_NOT_FOUND", retryable: false });
  });
});

describe("what Partner Center does by itself", () => {
  it("converts: a Shared referral on the same engagement, then the lead closes as converted", async () => {
    const lead = await apply(freshLead(), [{ type: "accept", owner }, { type: "completeQualify" }, { type: "completeEvaluate" }]);
    const closed = await apply(lead, [{ type: "convert" }]);
    expect(adaptReferral(closed).lead.state).toBe("converted");
    const related: WireReferral[] = [];
    for await (const page of client.listChanged({ filter: `engagementId eq '${lead.engagementId}'` })) related.push(...page.items);
    expect(related.map((r) => r.type).sort()).toEqual(["Independent", "Shared"]);
    expect(related.find((r) => r.type === "Shared")?.inviteContext?.assistanceRequestCode).toBe("GeneralOrOther");
  });

  it("expires an unaccepted lead after 14 days and closes an accepted one as lost after 60", async () => {
    const waiting = freshLead();
    const working = await apply(freshLead(), [{ type: "accept", owner }]);
    clock.advance(14 * DAY_MS);
    expect(adaptReferral(await client.get(waiting.id)).lead.state).toBe("expired");
    await expect(apply(waiting, [{ type: "accept", owner }])).rejects.toMatchObject({ code: "PC_INVALID_REQUEST" });
    expect(adaptReferral(await client.get(working.id)).lead.state).toBe("accepted");
    clock.advance(46 * DAY_MS);
    const lapsed = adaptReferral(await client.get(working.id));
    expect(lapsed.lead).toMatchObject({ state: "lost", closeReason: "Not closed within 60 days of acceptance" });
  });
});

describe("transport behaviour", () => {
  it("429 with Retry-After or the documented message, and 503, as typed retryable errors", async () => {
    const lead = freshLead();
    Object.assign(sandbox.faults, { throttleRate: 1, retryAfterSeconds: 7 });
    const throttled = await Promise.all([1, 2, 3, 4, 5, 6].map(() => client.get(lead.id).catch((e: unknown) => e)));
    for (const error of throttled) expect(error).toMatchObject({ code: "PC_THROTTLED", retryable: true, retryAfterMs: 7000 });
    Object.assign(sandbox.faults, { throttleRate: 0, errorRate: 1 });
    await expect(client.get(lead.id)).rejects.toMatchObject({ code: "PC_UNAVAILABLE", retryable: true });
  });

  it("a token that expired on the sandbox clock is replaced transparently", async () => {
    const lead = freshLead();
    await client.get(lead.id);
    clock.advance(2 * 60 * 60 * 1000);
    await expect(client.get(lead.id)).resolves.toMatchObject({ id: lead.id });
  });
});

describe("the domain and the sandbox agree on the lifecycle", () => {
  const ownerArb = fc.constantFrom(owner, { email: "no-name@partner.example" }, { firstName: "No", lastName: "Email" });
  const actionArb: fc.Arbitrary<LeadAction> = fc.oneof(
    ownerArb.map((o) => ({ type: "accept", owner: o }) as const),
    fc.constantFrom("", "Budget").map((reason) => ({ type: "decline", reason }) as const),
    fc.constant({ type: "completeQualify" } as const),
    fc.constant({ type: "completeEvaluate" } as const),
    fc.constant({ type: "win" } as const),
    fc.constantFrom("", "Budget").map((reason) => ({ type: "lose", reason }) as const),
    fc.constantFrom("", "Duplicate").map((reason) => ({ type: "closeInError", reason }) as const),
  );

  // Repeating a step that is already done is refused by the domain (the planner never emits it) but
  // is a harmless no-op patch for Partner Center. Every other verdict must match exactly.
  const REDUNDANT = new Set(["LIFECYCLE_ALREADY_COMPLETE", "LIFECYCLE_ALREADY_ACCEPTED"]);

  it("a step the domain allows is never refused, and everything Partner Center refuses the domain refuses", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: 6 }), async (actions) => {
        let referral = freshLead();
        let local: LifecycleSnapshot = adaptReferral(referral).lead;
        for (const action of actions) {
          const verdict = transition(local, action, clock.now());
          let remoteOk = true;
          try {
            referral = await apply(referral, [action]);
          } catch (error) {
            if ((error as { code?: string }).code !== "PC_INVALID_REQUEST") throw error;
            remoteOk = false;
          }
          const explain = `${action.type} from ${local.state}: domain says ${verdict.ok ? "ok" : verdict.violation.code}`;
          const redundantRepeat = !verdict.ok && REDUNDANT.has(verdict.violation.code) && action.type !== "decline";
          if (!redundantRepeat) expect(remoteOk, explain).toBe(verdict.ok);
          if (verdict.ok) {
            local = verdict.lead;
            expect(adaptReferral(referral).lead.state).toBe(local.state);
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});
