import { describe, expect, it } from "vitest";
import type { CrmConnector, CrmOwner, OwnerQuery } from "../../connectors/types.js";
import { CrmError } from "../../connectors/types.js";
import { OwnerDirectory } from "../../src/routing/owner-directory.js";
import { ManualClock } from "../../src/shared/clock.js";

const ada: CrmOwner = { id: "005A", kind: "user", value: "005A", name: "Ada Lovelace", firstName: "Ada", lastName: "Lovelace", email: "ada@partner.example", phone: "+1 425 555 0101", title: "Account Executive", active: true };
const gone: CrmOwner = { id: "005E", kind: "user", value: "005E", name: "Edsger Dijkstra", email: "edsger@partner.example", active: false };
const queue: CrmOwner = { id: "00GQ", kind: "team", value: "00GQ", name: "Joint Planning Leads", active: true };
const bot: CrmOwner = { id: "005I", kind: "user", value: "005I", name: "Co-sell Integration", email: "integration@partner.example", active: true };

/** A connector that only answers owner lookups, counting them; `down` makes the next lookup fail. */
function fakeCrm() {
  const asked: OwnerQuery[] = [];
  const state = { down: false };
  const connector = {
    kind: "salesforce",
    userId: bot.id,
    async findOwner(query: OwnerQuery) {
      asked.push(query);
      if (state.down) throw new CrmError("CRM_UNAVAILABLE", "down", { crm: "salesforce" });
      const all = [ada, gone, queue, bot];
      if ("email" in query) return all.find((o) => o.email?.toLowerCase() === query.email.toLowerCase());
      if ("team" in query) return all.find((o) => o.kind === "team" && o.name === query.team);
      return all.find((o) => o.id === query.id);
    },
  } as unknown as CrmConnector;
  return { connector, asked, state };
}

describe("the owner directory", () => {
  it("asks the CRM once per owner within the TTL (emails case-insensitively), and again after it", async () => {
    const clock = new ManualClock();
    const crm = fakeCrm();
    const directory = new OwnerDirectory({ connector: crm.connector, clock, ttlMs: 60_000, crmName: "sf" });
    await Promise.all([directory.find({ email: "ada@partner.example" }), directory.find({ email: "ADA@partner.example " })]);
    await directory.find({ email: "nobody@partner.example" });
    await directory.find({ email: "nobody@partner.example" });
    expect(crm.asked).toHaveLength(2);
    clock.advance(60_000);
    expect(await directory.find({ email: "ada@partner.example" })).toEqual(ada);
    expect(crm.asked).toHaveLength(3);
  });

  it("does not keep a failed lookup: the next asks again", async () => {
    const crm = fakeCrm();
    const directory = new OwnerDirectory({ connector: crm.connector, clock: new ManualClock(), ttlMs: 60_000, crmName: "sf" });
    crm.state.down = true;
    await expect(directory.find({ email: "ada@partner.example" })).rejects.toMatchObject({ code: "CRM_UNAVAILABLE" });
    crm.state.down = false;
    expect(await directory.find({ email: "ada@partner.example" })).toEqual(ada);
  });

  it("falls back along the candidates past unknown and deactivated users, saying why each was skipped", async () => {
    const directory = new OwnerDirectory({ connector: fakeCrm().connector, clock: new ManualClock(), ttlMs: 60_000, crmName: "sf" });
    const routed = await directory.resolve({
      candidates: [
        { owner: { user: "nora.newhire@partner.example" }, why: "a partner seller on the lead" },
        { owner: { user: "edsger@partner.example" }, why: "a partner seller on the lead" },
        { owner: { team: "Joint Planning Leads" }, why: "the central owner (fallback)" },
      ],
    });
    expect(routed.owner).toEqual(queue);
    expect(routed.via?.why).toBe("the central owner (fallback)");
    expect(routed.problems.map((p) => p.code)).toEqual(["ROUTING_OWNER_NOT_FOUND", "ROUTING_OWNER_INACTIVE"]);
    expect(routed.problems[0]?.message).toMatch(/no salesforce user has the email nora\.newhire@partner\.example in CRM "sf".*Add the user, or correct pairs\[\]\.routing/);
    expect(routed.problems[1]?.message).toMatch(/deactivated/);
  });

  it("says so when no candidate exists at all", async () => {
    const directory = new OwnerDirectory({ connector: fakeCrm().connector, clock: new ManualClock(), ttlMs: 60_000, crmName: "sf" });
    const routed = await directory.resolve({ candidates: [{ owner: { team: "Nobody's queue" }, why: "the central owner" }] });
    expect(routed.owner).toBeUndefined();
    expect(routed.problems[0]?.message).toMatch(/no queue is named "Nobody's queue"/);
  });

  it("gives the person behind an owner id for Partner Center's team; not for a queue or the integration user", async () => {
    const directory = new OwnerDirectory({ connector: fakeCrm().connector, clock: new ManualClock(), ttlMs: 60_000, crmName: "sf" });
    expect(await directory.person("005A")).toEqual({ firstName: "Ada", lastName: "Lovelace", email: "ada@partner.example", phoneNumber: "+1 425 555 0101", title: "Account Executive" });
    expect(await directory.person("00GQ")).toBeUndefined();
    expect(await directory.person("005I")).toBeUndefined();
    expect(await directory.person("005-unknown")).toBeUndefined();
    // A user without first and last name fields is split from the full name.
    expect(await directory.person("005E")).toEqual({ firstName: "Edsger", lastName: "Dijkstra", email: "edsger@partner.example" });
  });
});
