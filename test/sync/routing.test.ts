import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DataverseSandbox } from "../../connectors/dynamics/sandbox/server.js";
import type { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import type { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import { LEAD_QUEUE, PARTNER_SELLERS, SELLER_WITHOUT_CRM_USER } from "../../connectors/sandbox-people.js";
import type { WireReferral } from "../../src/partner-center/wire.js";
import { generateLeads } from "../../src/sandbox/partner-center/generator.js";
import { sellerUiFor } from "../../src/sandbox/seller-ui.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { CrmKind, TwoWayRig } from "../helpers/two-way.js";
import { startTwoWay } from "../helpers/two-way.js";

const DEBOUNCE_MS = 30_000;
const [ada, grace, alan, katherine, edsger] = PARTNER_SELLERS as [(typeof PARTNER_SELLERS)[number], (typeof PARTNER_SELLERS)[number], (typeof PARTNER_SELLERS)[number], (typeof PARTNER_SELLERS)[number], (typeof PARTNER_SELLERS)[number]];
const member = (p: { firstName: string; lastName: string; email: string }) => ({ firstName: p.firstName, lastName: p.lastName, email: p.email });

/** The CRM's own view of owners: user ids by email, the central owner, a record's owner. */
function owners(kind: CrmKind, rig: TwoWayRig) {
  const sandbox = rig.daemon.crmSandbox("crm");
  if (kind === "salesforce") {
    const sf = sandbox as SalesforceSandbox;
    return {
      userId: (email: string) => [...sf.org.users.values()].find((u) => u.Email === email)?.Id,
      central: sf.leadQueue.Id,
      ownerOf: (recordId: string) => String(sf.org.leads.get(recordId)?.OwnerId),
    };
  }
  if (kind === "hubspot") {
    const hs = sandbox as HubSpotSandbox;
    return {
      userId: (email: string) => hs.owners.find((o) => o.email === email)?.id,
      central: hs.owners.find((o) => o.email === "referrals@partner.example")?.id,
      ownerOf: (recordId: string) => String(hs.get("leads", recordId)?.properties.hubspot_owner_id),
    };
  }
  const dv = sandbox as DataverseSandbox;
  return {
    userId: (email: string) => dv.userByEmail(email)?.systemuserid,
    central: dv.teams.find((t) => t.name === LEAD_QUEUE)?.teamid,
    ownerOf: (recordId: string) => String(dv.ownerOf(recordId)?.id),
  };
}

describe.each<CrmKind>(["salesforce", "hubspot", "dynamics"])("lead routing into %s", (kind) => {
  let rig: TwoWayRig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  // HubSpot records are owned by users only: its central owner is the referrals admin.
  const central = kind === "hubspot" ? "{ user: referrals@partner.example }" : `{ team: ${LEAD_QUEUE} }`;

  async function start(routing: string): Promise<{ rig: TwoWayRig; clock: ManualClock; leads: WireReferral[] }> {
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay(kind, clock, { routing });
    const open = rig.pc.referrals.all().filter((r) => r.status === "New" && Date.parse(r.expirationDateTime ?? "") > clock.now().getTime() + 5 * 86_400_000).slice(0, 4);
    expect(open).toHaveLength(4);
    // What Microsoft's sellers tagged on each lead: a seller with a CRM user, a new hire without one,
    // a seller who has left (deactivated), and nobody.
    const tags = [[member(grace)], [member(SELLER_WITHOUT_CRM_USER)], [member(edsger)], []];
    open.forEach((referral, index) => rig?.pc.referrals.touch(referral.id, (r) => void (r.team = tags[index])));
    await rig.pass();
    await rig.pass();
    return { rig, clock, leads: open };
  }

  /** A seller's save, read by the next poll, pushed once the debounce window has passed. */
  async function sellerSaves(r: TwoWayRig, clock: ManualClock, recordId: string, fields: Record<string, unknown>): Promise<void> {
    await r.seller.edit(recordId, fields);
    await r.pass();
    clock.advance(DEBOUNCE_MS + 1_000);
    await r.pass();
    await r.pass();
  }

  async function timeline(r: TwoWayRig, referralId: string) {
    const lead = await r.daemon.store.repos.leads.findByReferralId("pc", referralId);
    return r.daemon.store.repos.events.timeline(lead?.id ?? 0);
  }

  it("direct: a lead goes to its tagged seller's CRM user; without one (unknown, deactivated, untagged) to the central owner, saying why", async () => {
    const { rig: r, leads } = await start(`{ mode: direct, owner: ${central} }`);
    const crm = owners(kind, r);
    const [tagged, newHire, departed, untagged] = await Promise.all(leads.map((lead) => r.recordOf(lead.id)));
    expect(crm.ownerOf(tagged as string)).toBe(crm.userId(grace.email));
    for (const id of [newHire, departed, untagged]) expect(crm.ownerOf(id as string)).toBe(crm.central);
    const fallback = (await timeline(r, leads[1]?.id ?? "")).find((e) => e.kind === "routing-fallback");
    expect(fallback?.cause).toMatch(/no \w+ user has the email nora\.newhire@partner\.example/);
    expect((await timeline(r, leads[2]?.id ?? "")).find((e) => e.kind === "routing-fallback")?.cause).toMatch(/edsger\.dijkstra@partner\.example .*deactivated/);
    expect((await timeline(r, leads[3]?.id ?? "")).some((e) => e.kind === "routing-fallback")).toBe(false);
  });

  it("an accept adds the record's CRM owner at that moment to the Partner Center team; a later reassignment is kept in the CRM and its seller added too", async () => {
    const { rig: r, clock, leads } = await start(`{ mode: direct, owner: ${central} }`);
    const crm = owners(kind, r);
    const referralId = leads[0]?.id ?? "";
    const recordId = await r.recordOf(referralId);
    const ui = sellerUiFor(r.daemon.crmSandbox("crm") as never);
    const handTo = (email: string) => ({ [ui.ownerField]: ui.colleagues().find((c) => c.email === email)?.value });

    // Grace hands the lead to Alan and accepts it in one save: Alan is who Partner Center learns of.
    await sellerSaves(r, clock, recordId, { [r.seller.status]: r.seller.value("accepted"), ...handTo(alan.email) });
    const accepted = r.pc.referrals.get(referralId);
    expect([accepted.status, accepted.substatus]).toEqual(["Active", "Accepted"]);
    const alanOnTeam = accepted.team?.find((m) => m.email === alan.email);
    expect(alanOnTeam).toMatchObject({ firstName: "Alan", lastName: "Turing" });
    // Salesforce and Dataverse users carry a phone; HubSpot owners do not.
    if (kind !== "hubspot") expect(alanOnTeam?.phoneNumber).toBe(alan.phone);
    expect(accepted.team?.map((m) => m.email)).toEqual([grace.email, alan.email]);

    // Later Alan gives it to Katherine: the CRM keeps her, Partner Center's team gains her.
    await sellerSaves(r, clock, recordId, handTo(katherine.email));
    expect(r.pc.referrals.get(referralId).team?.map((m) => m.email)).toEqual([grace.email, alan.email, katherine.email]);
    expect(crm.ownerOf(recordId)).toBe(crm.userId(katherine.email));

    // A change from Partner Center rewrites the record but never its owner, and nothing echoes.
    r.pc.referrals.touch(referralId, (referral) => void (referral.details = { ...referral.details, notes: "Customer moved the workshop to March." }));
    clock.advance(1_000);
    await r.pass();
    await r.pass();
    expect(crm.ownerOf(recordId)).toBe(crm.userId(katherine.email));
    expect((await r.daemon.pollCrmsNow()).get("p")).toMatchObject({ queued: 0 });
    const pushes = (await timeline(r, referralId)).filter((e) => e.kind === "pc-pushed");
    expect(pushes).toHaveLength(2);
    expect(r.pc.referrals.get(referralId).team?.filter((m) => m.email === katherine.email)).toHaveLength(1);
    void ada;
  });

  it("a seller deactivated after the lookup: the CRM refuses them, the lookup is redone and the lead goes to the fallback", async () => {
    const { rig: r, clock } = await start(`{ mode: direct, owner: ${central}, cacheTtl: 1h }`);
    const crm = owners(kind, r);
    // Grace leaves the company: deactivated in the CRM, while the daemon's cache still has her active.
    const sandbox = r.daemon.crmSandbox("crm");
    if (kind === "salesforce") {
      const user = [...(sandbox as SalesforceSandbox).org.users.values()].find((u) => u.Email === grace.email);
      if (user) user.IsActive = false;
    } else if (kind === "hubspot") {
      const owner = (sandbox as HubSpotSandbox).owners.find((o) => o.email === grace.email);
      if (owner) owner.archived = true;
    } else {
      const user = (sandbox as DataverseSandbox).userByEmail(grace.email);
      if (user) user.isdisabled = true;
    }
    const [fresh] = generateLeads({ count: 1, seed: "late", now: clock.now(), acceptedShare: 0, idPrefix: "late-" });
    if (!fresh) throw new Error("no lead");
    // Received now, so the next pull (from its cursor) finds it.
    r.pc.referrals.insert([{ ...fresh, team: [member(grace)], createdDateTime: clock.now().toISOString(), updatedDateTime: clock.now().toISOString(), expirationDateTime: new Date(clock.now().getTime() + 14 * 86_400_000).toISOString() }]);
    await r.pass();
    for (let i = 0; i < 3; i += 1) {
      clock.advance(60_000);
      await r.pass();
    }
    expect(crm.ownerOf(await r.recordOf(fresh.id))).toBe(crm.central);
    const events = await timeline(r, fresh.id);
    expect(events.find((e) => e.kind === "routing-fallback")?.cause).toMatch(/deactivated/);
  });

  it("a mapping whose owner rule is latest re-routes when Partner Center changes the lead, unless a seller gave the record away since", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cosell-routing-"));
    const file = join(dir, `${kind}.yaml`);
    const field = { salesforce: "OwnerId", hubspot: "hubspot_owner_id", dynamics: "ownerid@odata.bind" }[kind];
    const shipped = readFileSync(`mappings/${kind}.yaml`, "utf8");
    expect(shipped).toContain(`${field}: sync.owner`);
    writeFileSync(file, shipped.replace(`${field}: sync.owner`, `${field}: { from: sync.owner, owner: latest }`));
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay(kind, clock, { mapping: file, routing: `{ mode: central, owner: { user: ${grace.email} } }` });
    await rig.pass();
    const r = rig;
    const crm = owners(kind, r);
    const [lead] = r.pc.referrals.all().filter((x) => x.status === "New");
    const recordId = await r.recordOf(lead?.id ?? "");
    expect(crm.ownerOf(recordId)).toBe(crm.userId(grace.email));
    const ui = sellerUiFor(r.daemon.crmSandbox("crm") as never);
    await sellerSaves(r, clock, recordId, { [ui.ownerField]: ui.colleagues().find((c) => c.email === alan.email)?.value });
    // The seller's hand-over is newer than anything from Partner Center: it stands through our writes.
    await r.pass();
    expect(crm.ownerOf(recordId)).toBe(crm.userId(alan.email));
    r.pc.referrals.touch(lead?.id ?? "", (referral) => void (referral.details = { ...referral.details, notes: "New notes from Microsoft." }));
    clock.advance(1_000);
    await r.pass();
    // Partner Center moved after the hand-over: the lead is routed again.
    expect(crm.ownerOf(recordId)).toBe(crm.userId(grace.email));
  });

  it("an accept does not wait on a throttled CRM: it goes with the seller on the lead, and says so", async () => {
    const { rig: r, clock, leads } = await start(`{ mode: central, owner: ${central} }`);
    const referralId = leads[0]?.id ?? "";
    const recordId = await r.recordOf(referralId);
    await r.seller.edit(recordId, { [r.seller.status]: r.seller.value("accepted") });
    await r.pass();
    // Every CRM call is now refused with a 429 or 503: the owner cannot be read.
    const sandbox = r.daemon.crmSandbox("crm") as unknown as { faults: Record<string, number> };
    Object.assign(sandbox.faults, kind === "salesforce" ? { errorRate: 1 } : { throttleRate: 1 });
    clock.advance(DEBOUNCE_MS + 1_000);
    // Only the outbox: the CRM's change feed is down too.
    await r.daemon.drainOutbox();
    const accepted = r.pc.referrals.get(referralId);
    expect([accepted.status, accepted.substatus]).toEqual(["Active", "Accepted"]);
    // Grace was tagged on the lead: she is the partner seller, on the team once.
    expect(accepted.team?.map((m) => m.email)).toEqual([grace.email]);
    const pushed = (await timeline(r, referralId)).find((e) => e.kind === "pc-pushed");
    expect(JSON.stringify(pushed?.details)).toMatch(/owner could not be read from the CRM/);
    Object.assign(sandbox.faults, { errorRate: 0, throttleRate: 0 });
  });

  it("central: every lead goes to the central owner, whoever is tagged", async () => {
    const { rig: r, leads } = await start(`{ mode: central, owner: ${central} }`);
    const crm = owners(kind, r);
    for (const lead of leads) expect(crm.ownerOf(await r.recordOf(lead.id))).toBe(crm.central);
  });

  it("rules: the first matching rule's owner, else the default", async () => {
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay(kind, clock, { routing: `{ mode: rules, rules: [{ name: one, when: { microsoftSeller: "@microsoft.example", country: [US] }, owner: { user: ${katherine.email} } }], default: ${central} }` });
    await rig.pass();
    const crm = owners(kind, rig);
    const leads = rig.pc.referrals.all().filter((r) => r.status === "New").slice(0, 20);
    let matched = 0;
    for (const lead of leads) {
      const expected = lead.customerProfile?.address?.country === "US" ? crm.userId(katherine.email) : crm.central;
      if (lead.customerProfile?.address?.country === "US") matched += 1;
      expect(crm.ownerOf(await rig.recordOf(lead.id))).toBe(expected);
    }
    expect(matched).toBeGreaterThan(0);
    expect(matched).toBeLessThan(leads.length);
  });
});
