import { afterEach, describe, expect, it } from "vitest";
import type { HubSpotConnector } from "../../connectors/hubspot/connector.js";
import { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import type { ChangePage } from "../../connectors/types.js";
import { ManualClock } from "../../src/shared/clock.js";
import { startHubSpot, syncLeads } from "../helpers/hubspot.js";

let sandbox: HubSpotSandbox;
let connector: HubSpotConnector;
const LEADS = { object: "leads", externalIdField: "cosell_referral_id", fields: ["cosell_status", "cosell_qualify_complete"] };

afterEach(async () => {
  await sandbox?.close();
});

async function allChanges(request: Parameters<HubSpotConnector["changes"]>[0]): Promise<ChangePage[]> {
  const pages: ChangePage[] = [];
  for await (const page of connector.changes(request)) pages.push(page);
  return pages;
}

describe("HubSpot connector against the sandbox", () => {
  it("writes 1,000 leads with their companies and contacts in 30 calls, associated once; a re-sync creates nothing", async () => {
    ({ sandbox, connector } = await startHubSpot({ rateLimit: 10_000 }));
    const before = sandbox.stats.requests;
    const first = await syncLeads(connector, 1000);
    expect(sandbox.stats.requests - before).toBe(30);
    expect(first.every((r) => r.outcome === "created")).toBe(true);
    expect([sandbox.count("companies"), sandbox.count("contacts"), sandbox.count("leads")]).toEqual([1000, 1000, 1000]);
    const lead = sandbox.all("leads")[0];
    expect(lead?.associations.map((a) => a.toType).sort()).toEqual(["companies", "contacts"]);

    const known = new Map(first.map((r) => [r.key, r.outcome === "failed" ? "" : r.id]));
    const again = await syncLeads(connector, 1000, known);
    expect(again.every((r) => r.outcome === "updated")).toBe(true);
    expect([sandbox.count("companies"), sandbox.count("contacts"), sandbox.count("leads")]).toEqual([1000, 1000, 1000]);
    expect(sandbox.all("leads")[0]?.associations).toHaveLength(2);
  });

  it("a lead created before a crash (its id never stored) is found and updated, not duplicated", async () => {
    ({ sandbox, connector } = await startHubSpot());
    await syncLeads(connector, 5);
    const again = await syncLeads(connector, 5);
    expect(again.map((r) => r.outcome)).toEqual(["updated", "updated", "updated", "updated", "updated"]);
    expect(sandbox.count("leads")).toBe(5);
  });

  it("returns a seller's edit and leaves our own write out", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startHubSpot({ clock }));
    const written = await syncLeads(connector, 3);
    clock.advance(60_000);
    const target = written[1];
    sandbox.editAsSeller("leads", [target?.outcome === "created" ? target.id : ""], { cosell_status: "accepted", cosell_qualify_complete: "true" });
    const pages = await allChanges({ ...LEADS, since: new Date("2026-11-24T09:00:00Z") });
    expect(pages.flatMap((p) => p.changes)).toEqual([
      { id: target?.outcome === "created" ? target.id : "", externalId: "ref-00001", modifiedAt: String(Date.parse("2026-11-24T10:01:00Z")), modifiedBy: "CRM_UI", fields: { cosell_status: "accepted", cosell_qualify_complete: "true" } },
    ]);
    clock.advance(60_000);
    await syncLeads(connector, 3, new Map(written.map((r) => [r.key, r.outcome === "failed" ? "" : r.id])));
    const after = await allChanges({ ...LEADS, cursor: pages.at(-1)?.cursor });
    expect(after.flatMap((p) => p.changes)).toEqual([]);
  });

  it("reads no history for the leads it created and nobody touched since; a seller's later edit is still found", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startHubSpot({ clock }));
    const written = await syncLeads(connector, 250);
    const stamps = new Map(written.flatMap((r) => (r.outcome === "created" && r.modstamp ? [[r.key, r.modstamp] as const] : [])));
    expect(stamps.size).toBe(250);
    clock.advance(60_000);
    const edited = written[7];
    sandbox.editAsSeller("leads", [edited?.outcome === "created" ? edited.id : ""], { cosell_status: "accepted" });
    const reads = () => sandbox.stats.byRoute["POST /crm/v3/objects/leads/batch/read"] ?? 0;
    const before = reads();
    const lastWritten = async (ids: string[]) => new Map(ids.flatMap((id) => (stamps.has(id) ? [[id, { modstamp: stamps.get(id) as string, fields: { cosell_status: "new" } }] as const] : [])));
    const pages = await allChanges({ ...LEADS, since: new Date("2026-11-24T09:00:00Z"), lastWritten });
    expect(pages.flatMap((p) => p.changes.map((c) => c.externalId))).toEqual(["ref-00007"]);
    // The edited record's history alone is read: one call, not one per hundred records we wrote.
    expect(reads() - before).toBe(1);
  });

  it("returns 15,000 records edited with one timestamp exactly once, under the 10,000-result cap", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startHubSpot({ clock, rateLimit: 100_000, searchRateLimit: 100_000 }));
    const results = await connector.upsert({ object: "contacts", externalIdField: "email", records: Array.from({ length: 15_000 }, (_, i) => ({ key: `c${i}@x.example`, fields: { firstname: "A" } })) });
    clock.advance(60_000);
    sandbox.editAsSeller("contacts", results.map((r) => (r.outcome === "failed" ? "" : r.id)), { jobtitle: "CIO" });
    const pages = await allChanges({ object: "contacts", externalIdField: "email", fields: ["jobtitle"], since: new Date("2026-11-24T10:00:30Z") });
    const ids = pages.flatMap((p) => p.changes.map((c) => c.id));
    expect(ids).toHaveLength(15_000);
    expect(new Set(ids).size).toBe(15_000);
  });

  it("a change feed's search (found through the write log) answers what a scan of every record answers, page by page", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startHubSpot({ clock, rateLimit: 100_000, searchRateLimit: 100_000 }));
    const written = await connector.upsert({ object: "contacts", externalIdField: "email", records: Array.from({ length: 300 }, (_, i) => ({ key: `c${i}@x.example`, fields: { firstname: "A" } })) });
    const ids = written.map((r) => (r.outcome === "failed" ? "" : r.id));
    clock.advance(60_000);
    // Rewritten records (their first log entries go stale), some twice, some at one shared stamp.
    sandbox.editAsSeller("contacts", ids.filter((_, i) => i % 3 === 0), { jobtitle: "CIO" });
    sandbox.editAsSeller("contacts", ids.filter((_, i) => i % 6 === 0), { jobtitle: "CTO" });
    clock.advance(1_000);
    sandbox.editAsSeller("contacts", ids.slice(0, 5), { jobtitle: "CEO" });
    const search = async (filterGroups: unknown[], after?: string) => {
      const response = await fetch(`${sandbox.url}/crm/v3/objects/contacts/search`, {
        method: "POST",
        headers: { Authorization: `Bearer ${sandbox.appToken}`, "Content-Type": "application/json" },
        body: JSON.stringify({ filterGroups, sorts: [{ propertyName: "hs_lastmodifieddate", direction: "ASCENDING" }], properties: ["jobtitle"], limit: 40, ...(after ? { after } : {}) }),
      });
      return (await response.json()) as { total: number; results: Array<{ id: string; properties: Record<string, string> }>; paging?: { next: { after: string } } };
    };
    for (const [operator, value] of [["GTE", "2026-11-24T10:01:00Z"], ["GT", String(Date.parse("2026-11-24T10:01:00Z"))], ["GTE", "0"]] as const) {
      const since = { propertyName: "hs_lastmodifieddate", operator, value: String(Number.isNaN(Number(value)) ? Date.parse(value) : value) };
      // Two identical groups are the same question, but take the scan.
      const viaLog = await search([{ filters: [since] }]);
      const viaScan = await search([{ filters: [since] }, { filters: [since] }]);
      expect(viaLog.total).toBe(viaScan.total);
      expect(viaLog.results).toEqual(viaScan.results);
      expect((await search([{ filters: [since] }], viaLog.paging?.next.after)).results).toEqual((await search([{ filters: [since] }, { filters: [since] }], viaScan.paging?.next.after)).results);
      // A further filter beside the stamp is still applied to what the log found.
      const cio = [since, { propertyName: "jobtitle", operator: "EQ", value: "CIO" }];
      const narrowed = await search([{ filters: cio }]);
      expect(narrowed.results).toEqual((await search([{ filters: cio }, { filters: cio }])).results);
      expect(narrowed.results.every((record) => record.properties.jobtitle === "CIO")).toBe(true);
    }
    expect((await search([{ filters: [{ propertyName: "hs_lastmodifieddate", operator: "GTE", value: String(Date.parse("2026-11-24T10:01:00Z")) }] }])).total).toBe(103);
  });

  it("refuses what HubSpot refuses: two sorts, paging past 10,000, a lead without a contact, upsert on a non-unique property", async () => {
    ({ sandbox, connector } = await startHubSpot());
    const call = async (path: string, body: unknown) => {
      const response = await fetch(`${sandbox.url}${path}`, { method: "POST", headers: { Authorization: `Bearer ${sandbox.appToken}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as { category?: string; message?: string } };
    };
    expect(await call("/crm/v3/objects/leads/search", { sorts: [{ propertyName: "a" }, { propertyName: "b" }] })).toMatchObject({ status: 400, body: { category: "VALIDATION_ERROR" } });
    expect(await call("/crm/v3/objects/leads/search", { limit: 200, after: "9900" })).toMatchObject({ status: 400, body: { message: expect.stringContaining("10000") } });
    expect(await call("/crm/v3/objects/leads/batch/create", { inputs: [{ properties: { hs_lead_name: "x", cosell_referral_id: "r" } }] })).toMatchObject({ status: 400, body: { message: expect.stringContaining("contact") } });
    expect(await call("/crm/v3/objects/companies/batch/upsert", { inputs: [{ id: "x", idProperty: "name", properties: {} }] })).toMatchObject({ status: 400, body: { message: expect.stringContaining("unique") } });
    const anonymous = await fetch(`${sandbox.url}/crm/v3/properties/leads`);
    expect(anonymous.status).toBe(401);
  });

  it("search has its own limit (5 a second for the account) and does not count in the ten-second window", async () => {
    // The sandbox alone: a connector's opening calls would take from the window.
    sandbox = await HubSpotSandbox.start({ rateLimit: 3 });
    const post = (path: string, body: unknown, token = sandbox.appToken) => fetch(`${sandbox.url}${path}`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    // Sent together, so they land within one second even on a slow machine.
    const searches = await Promise.all(Array.from({ length: 7 }, () => post("/crm/v3/objects/companies/search", { limit: 1 })));
    const refused = searches.filter((response) => response.status === 429);
    expect(refused).toHaveLength(2);
    expect(await refused[0]?.json()).toMatchObject({ category: "RATE_LIMITS", message: "You have reached your secondly limit.", policyName: "SECONDLY" });
    expect(searches.find((response) => response.status === 200)?.headers.get("x-hubspot-ratelimit-remaining")).toBeNull();
    // Five searches later the ten-second window (three calls here) is still whole.
    const writes = [];
    for (let i = 0; i < 4; i += 1) writes.push(await post("/crm/v3/objects/companies/batch/upsert", { inputs: [{ id: `k${i}`, idProperty: "cosell_customer_key", properties: { name: "A" } }] }));
    expect(writes.map((response) => response.status)).toEqual([200, 200, 200, 429]);
    expect(writes[0]?.headers.get("x-hubspot-ratelimit-remaining")).toBe("2");
    expect(await writes[3]?.json()).toMatchObject({ policyName: "TEN_SECONDLY_ROLLING" });
  });

  it("reports partial failures per record, typed", async () => {
    ({ sandbox, connector } = await startHubSpot());
    const results = await connector.upsert({ object: "companies", externalIdField: "cosell_customer_key", records: [{ key: "a", fields: { name: "A" } }, { key: "b", fields: { nope: "x" } }, { key: "c", fields: { numberofemployees: "many" } }] });
    expect(results.map((r) => (r.outcome === "failed" ? [r.key, r.error.code, r.error.retryable] : [r.key, r.outcome]))).toEqual([
      ["a", "created"],
      ["b", "CRM_INVALID_FIELD", false],
      ["c", "CRM_INVALID_VALUE", false],
    ]);
  });
});
