import { afterEach, describe, expect, it } from "vitest";
import type { SalesforceConnector } from "../../connectors/salesforce/connector.js";
import type { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import type { ChangePage } from "../../connectors/types.js";
import { ManualClock } from "../../src/shared/clock.js";
import { leads, sellerEdit, startSalesforce } from "../helpers/salesforce.js";

const LEAD = { object: "Lead", externalIdField: "Cosell_Referral_Id__c" };
const INBOUND = ["Cosell_Status__c", "Cosell_Qualify_Complete__c", "Cosell_Close_Reason__c"];
let sandbox: SalesforceSandbox;
let connector: SalesforceConnector;

afterEach(async () => {
  await sandbox?.close();
});

async function allChanges(request: Parameters<SalesforceConnector["changes"]>[0]): Promise<ChangePage[]> {
  const pages: ChangePage[] = [];
  for await (const page of connector.changes(request)) pages.push(page);
  return pages;
}

describe("Salesforce connector against the sandbox", () => {
  it("upserts 1,000 leads in 5 calls, and a second upsert of the same leads creates nothing", async () => {
    ({ sandbox, connector } = await startSalesforce());
    const first = await connector.upsert({ ...LEAD, records: leads(1000) });
    expect(first.filter((r) => r.outcome === "created")).toHaveLength(1000);
    expect(sandbox.stats.byRoute["PATCH /composite/sobjects/Lead/Cosell_Referral_Id__c"]).toBe(5);
    const second = await connector.upsert({ ...LEAD, records: leads(1000) });
    expect(second.every((r) => r.outcome === "updated")).toBe(true);
    expect(sandbox.org.leads.size).toBe(1000);
    expect(second.map((r) => (r.outcome === "updated" ? r.id : ""))).toEqual(first.map((r) => (r.outcome === "created" ? r.id : "")));
  });

  it("returns a seller's edit from changes and leaves our own write out", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startSalesforce({ clock }));
    const written = await connector.upsert({ ...LEAD, records: leads(3) });
    const start = await allChanges({ ...LEAD, fields: INBOUND, since: new Date("2026-11-24T09:00:00Z") });
    expect(start.flatMap((p) => p.changes)).toEqual([]);
    const cursor = start.at(-1)?.cursor;

    clock.advance(60_000);
    const target = written[1];
    expect((await sellerEdit(sandbox, target?.outcome === "created" ? target.id : "", { Cosell_Status__c: "Accepted", Cosell_Qualify_Complete__c: true })).status).toBe(204);
    const edited = await allChanges({ ...LEAD, fields: INBOUND, ...(cursor ? { cursor } : {}) });
    expect(edited.flatMap((p) => p.changes)).toEqual([
      { id: target?.outcome === "created" ? target.id : "", externalId: "ref-00001", modifiedAt: "2026-11-24T10:01:00.000+0000", modifiedBy: sandbox.seller.Id, fields: { Cosell_Status__c: "Accepted", Cosell_Qualify_Complete__c: true, Cosell_Close_Reason__c: null } },
    ]);

    clock.advance(60_000);
    await connector.upsert({ ...LEAD, records: leads(3).map((r) => ({ ...r, fields: { Cosell_Substage__c: "Qualify" } })) });
    const after = await allChanges({ ...LEAD, fields: INBOUND, ...(edited.at(-1) ? { cursor: edited.at(-1)?.cursor } : {}) });
    expect(after.flatMap((p) => p.changes)).toEqual([]);
  });

  it("keeps a seller's edit that our later write to other fields would otherwise hide", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startSalesforce({ clock }));
    const [written] = await connector.upsert({ ...LEAD, records: leads(1) });
    clock.advance(1_000);
    await sellerEdit(sandbox, written?.outcome === "created" ? written.id : "", { Cosell_Status__c: "Won" });
    clock.advance(1_000);
    await connector.upsert({ ...LEAD, records: [{ key: "ref-00000", fields: { Cosell_Last_Sync__c: "2026-11-24T10:00:02Z" } }] });
    const pushed = { Cosell_Status__c: "New", Cosell_Qualify_Complete__c: false, Cosell_Close_Reason__c: null };
    const asked: string[][] = [];
    const pages = await allChanges({ ...LEAD, fields: INBOUND, since: new Date("2026-11-24T09:00:00Z"), lastPushed: async (ids) => (asked.push(ids), new Map(ids.map((id) => [id, pushed]))) });
    expect(pages.flatMap((p) => p.changes).map((c) => c.fields.Cosell_Status__c)).toEqual(["Won"]);
    // One lookup for the page, of the records our integration user wrote last.
    expect(asked).toEqual([["ref-00000"]]);
  });

  it("returns 10,000 records stamped with one SystemModstamp exactly once across pages, and resumes mid-way", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startSalesforce({ clock }));
    await connector.upsert({ ...LEAD, records: leads(10_000) });
    clock.advance(60_000);
    sandbox.org.massTouch([...sandbox.org.leads.keys()], sandbox.seller.Id, { Cosell_Status__c: "Accepted" });
    const request = { ...LEAD, fields: INBOUND, since: new Date("2026-11-24T10:00:30Z") };
    const pages = await allChanges(request);
    const ids = pages.flatMap((p) => p.changes.map((c) => c.id));
    expect(pages.length).toBe(5);
    expect(ids).toHaveLength(10_000);
    expect(new Set(ids).size).toBe(10_000);

    const resumed = await allChanges({ ...request, cursor: pages[2]?.cursor });
    expect(resumed.flatMap((p) => p.changes.map((c) => c.id))).toEqual(ids.slice(6_000));
  });

  it("checkSchema lists a removed field, a non-unique external id and a missing picklist value", async () => {
    ({ sandbox, connector } = await startSalesforce());
    const requirement = {
      ...LEAD,
      fields: [
        { name: "Cosell_Status__c", values: ["New", "Accepted", "Parked"] },
        { name: "Cosell_Accept_By__c" },
        { name: "Company", maxLength: 300 },
      ],
    };
    expect(await connector.checkSchema([{ ...requirement, fields: [{ name: "Cosell_Accept_By__c" }] }])).toEqual({ ok: true, problems: [] });
    sandbox.org.removeField("Cosell_Accept_By__c");
    const externalId = sandbox.org.fields.find((f) => f.name === "Cosell_Referral_Id__c");
    if (externalId) externalId.unique = false;
    const report = await connector.checkSchema([requirement]);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.field, p.problem])).toEqual([
      ["Cosell_Referral_Id__c", "not-unique"],
      ["Cosell_Status__c", "picklist-value-missing"],
      ["Cosell_Accept_By__c", "missing"],
      ["Company", "too-short"],
    ]);
    expect(report.problems[1]?.message).toBe('Add "Parked" to the Cosell_Status__c picklist.');
  });

  it("reports record errors per record, typed, and a duplicate external id naming the records", async () => {
    ({ sandbox, connector } = await startSalesforce());
    sandbox.org.create({ LastName: "A", Company: "A", Cosell_Referral_Id__c: "dup" }, sandbox.seller.Id);
    sandbox.org.create({ LastName: "B", Company: "B", Cosell_Referral_Id__c: "DUP" }, sandbox.seller.Id);
    const results = await connector.upsert({
      ...LEAD,
      records: [
        { key: "ok", fields: { LastName: "L", Company: "C" } },
        { key: "long", fields: { LastName: "L", Company: "C", Cosell_Substage__c: "x".repeat(65) } },
        { key: "pick", fields: { LastName: "L", Company: "C", Cosell_Status__c: "Maybe" } },
        { key: "dup", fields: { LastName: "L", Company: "C" } },
      ],
    });
    expect(results.map((r) => (r.outcome === "failed" ? [r.key, r.error.code, r.error.retryable, r.error.field] : [r.key, r.outcome]))).toEqual([
      ["ok", "created"],
      ["long", "CRM_VALUE_TOO_LONG", false, "Cosell_Substage__c"],
      ["pick", "CRM_BAD_PICKLIST_VALUE", false, "Cosell_Status__c"],
      ["dup", "CRM_DUPLICATE_EXTERNAL_ID", false, "Cosell_Referral_Id__c"],
    ]);
    const duplicate = results[3];
    expect(duplicate?.outcome === "failed" && duplicate.error.details.recordIds).toHaveLength(2);
  });

  it("a field the org lacks fails every record of the call, not retryable", async () => {
    ({ sandbox, connector } = await startSalesforce());
    const results = await connector.upsert({ ...LEAD, records: [{ key: "a", fields: { LastName: "L", Company: "C", Nope__c: 1 } }, { key: "b", fields: { LastName: "L", Company: "C" } }] });
    expect(results.map((r) => r.outcome === "failed" && [r.error.code, r.error.retryable])).toEqual([
      ["CRM_INVALID_FIELD", false],
      ["CRM_INVALID_FIELD", false],
    ]);
  });

  it("stops on REQUEST_LIMIT_EXCEEDED until the window frees up, and reports usage", async () => {
    ({ sandbox, connector } = await startSalesforce());
    await connector.upsert({ ...LEAD, records: leads(10) });
    expect(connector.rateInfo()).toEqual({ dailyUsed: 1, dailyLimit: 100_000 });
    sandbox.setDailyLimit(1);
    await expect(connector.upsert({ ...LEAD, records: leads(10) })).rejects.toMatchObject({ code: "CRM_REQUEST_LIMIT", retryable: true, retryAfterMs: 3_600_000 });
    expect(connector.rateInfo().retryAfterMs).toBeGreaterThan(3_500_000);
  });

  it("a 503 is retryable and jsforce does not retry it behind the outbox's back", async () => {
    ({ sandbox, connector } = await startSalesforce({ faults: { errorRate: 1 } }));
    const before = sandbox.stats.requests;
    const pages = connector.changes({ ...LEAD, fields: INBOUND });
    await expect(pages.next()).rejects.toMatchObject({ code: "CRM_UNAVAILABLE", retryable: true });
    expect(sandbox.stats.requests - before).toBe(1);
  });

  for (const mode of ["client-credentials", "access-token"] as const) {
    it(`connects with ${mode} and knows the integration user`, async () => {
      ({ sandbox, connector } = await startSalesforce({}, mode));
      expect(connector.userId).toBe(sandbox.integrationUser.Id);
    });
  }

  it("re-runs the grant when the session expires", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startSalesforce({ clock }));
    await connector.upsert({ ...LEAD, records: leads(1) });
    clock.advance(3 * 60 * 60 * 1000);
    await expect(connector.upsert({ ...LEAD, records: leads(2) })).resolves.toHaveLength(2);
  });

  it("single-record upsert by external id: 201 created, 200 updated, 300 with the records when several match", async () => {
    ({ sandbox } = await startSalesforce());
    const upsert = (value: string, body: Record<string, unknown>) =>
      fetch(`${sandbox.url}/services/data/v62.0/sobjects/Lead/Cosell_Referral_Id__c/${value}`, {
        method: "PATCH",
        headers: { Authorization: `Bearer ${sandbox.tokenFor(sandbox.integrationUser.Id)}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const created = await upsert("one", { LastName: "L", Company: "C" });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ success: true, created: true });
    expect((await upsert("ONE", { Title: "CIO" })).status).toBe(200);
    expect((await upsert("one", { Cosell_Referral_Id__c: "one", Title: "x" })).status).toBe(400);
    sandbox.org.create({ LastName: "L", Company: "C", Cosell_Referral_Id__c: "two" }, sandbox.seller.Id);
    sandbox.org.create({ LastName: "L", Company: "C", Cosell_Referral_Id__c: "two" }, sandbox.seller.Id);
    const several = await upsert("two", { Title: "x" });
    expect(several.status).toBe(300);
    expect(((await several.json()) as string[]).every((url) => /\/sobjects\/Lead\/00Q\w{15}$/.test(url))).toBe(true);
  });

  it("refuses SOQL outside the subset the way Salesforce does", async () => {
    ({ sandbox, connector } = await startSalesforce());
    const ask = async (soql: string) => {
      const response = await fetch(`${sandbox.url}/services/data/v62.0/query?q=${encodeURIComponent(soql)}`, { headers: { Authorization: `Bearer ${sandbox.tokenFor(sandbox.seller.Id)}` } });
      return { status: response.status, body: (await response.json()) as Array<{ errorCode: string; message: string }> };
    };
    expect(await ask("SELECT Id FROM Lead GROUP BY Status")).toMatchObject({ status: 400, body: [{ errorCode: "MALFORMED_QUERY" }] });
    expect(await ask("SELECT Id, Nope__c FROM Lead")).toMatchObject({ status: 400, body: [{ errorCode: "INVALID_FIELD", message: expect.stringContaining("No such column 'Nope__c'") }] });
    expect(await ask("SELECT Id FROM Lead WHERE SystemModstamp > '2026-01-01'")).toMatchObject({ status: 400, body: [{ errorCode: "MALFORMED_QUERY" }] });
    expect(await ask("SELECT Id FROM Opportunity")).toMatchObject({ status: 400, body: [{ errorCode: "INVALID_TYPE" }] });
    expect((await ask("SELECT Id, LastName FROM Lead WHERE (Company LIKE 'Cust%' OR Email = null) AND Cosell_Status__c IN ('New', 'Won') ORDER BY LastName DESC NULLS LAST LIMIT 5")).status).toBe(200);
  });
});
