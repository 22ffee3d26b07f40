import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { HubSpotConnector } from "../../connectors/hubspot/connector.js";
import { silentLogger } from "../../src/log/logger.js";
import { metered } from "../../src/shared/call-meter.js";

const BASE = "https://api.hubapi.com";
const connector = () => new HubSpotConnector({ accessToken: "pat-na1-test", basePath: BASE, logger: silentLogger(), appId: "99" });

/** A search hit: a lead with its stamp. */
const hit = (id: string, stamp: string) => ({ id, properties: { hs_lastmodifieddate: stamp, cosell_referral_id: `r${id}`, cosell_status: "won" }, createdAt: "x", updatedAt: "x", archived: false });

/** A batch read's answer: every record's status last set by a seller in the CRM's UI. */
const sellersHistory = (_uri: string, body: unknown) => ({
  status: "COMPLETE",
  results: (body as { inputs: Array<{ id: string }> }).inputs.map((input) => ({ id: input.id, properties: {}, propertiesWithHistory: { cosell_status: [{ value: "won", timestamp: "2026-11-24T10:00:00Z", sourceType: "CRM_UI" }] }, createdAt: "x", updatedAt: "x", archived: false })),
  startedAt: "x",
  completedAt: "x",
});

beforeAll(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

describe("the requests @hubspot/api-client makes for the connector", () => {
  it("upsert: batch/upsert on the unique property, 100 inputs per call, values as text", async () => {
    const bodies: Array<{ inputs: Array<Record<string, unknown>> }> = [];
    nock(BASE, { reqheaders: { authorization: "Bearer pat-na1-test" } })
      .post("/crm/v3/objects/companies/batch/upsert", (body: { inputs: Array<Record<string, unknown>> }) => {
        bodies.push(body);
        return true;
      })
      .times(2)
      .reply(200, (_uri, body) => ({
        status: "COMPLETE",
        results: (body as { inputs: Array<{ id: string }> }).inputs.map((input, i) => ({ id: String(i + 1), properties: { cosell_customer_key: input.id }, new: true, createdAt: "2026-11-24T10:00:00Z", updatedAt: "2026-11-24T10:00:00Z", archived: false })),
        startedAt: "2026-11-24T10:00:00Z",
        completedAt: "2026-11-24T10:00:00Z",
      }));
    const records = Array.from({ length: 150 }, (_, i) => ({ key: `k${i}`, fields: { name: `C${i}`, numberofemployees: 250, closed: null } }));
    const results = await connector().upsert({ object: "companies", externalIdField: "cosell_customer_key", records });
    expect(bodies.map((b) => b.inputs.length)).toEqual([100, 50]);
    expect(bodies[0]?.inputs[0]).toEqual({ id: "k0", idProperty: "cosell_customer_key", properties: { name: "C0", numberofemployees: "250", closed: "" } });
    expect(results.filter((r) => r.outcome === "created")).toHaveLength(150);
  });

  it("associations: a new lead is created with its contact and company associations", async () => {
    let created: unknown;
    nock(BASE)
      .post("/crm/v3/objects/leads/batch/create", (body: unknown) => {
        created = body;
        return true;
      })
      .reply(201, { status: "COMPLETE", results: [{ id: "501", properties: { cosell_referral_id: "ref-1" }, createdAt: "2026-11-24T10:00:00Z", updatedAt: "2026-11-24T10:00:00Z", archived: false }], startedAt: "x", completedAt: "x" });
    await connector().upsert({ object: "leads", externalIdField: "cosell_referral_id", records: [{ key: "ref-1", fields: { hs_lead_name: "L" }, associations: [{ object: "contacts", id: "11" }, { object: "companies", id: "22" }] }] });
    expect(created).toEqual({
      inputs: [
        {
          properties: { hs_lead_name: "L", cosell_referral_id: "ref-1" },
          associations: [
            { to: { id: "11" }, types: [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId: 578 }] },
            { to: { id: "22" }, types: [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId: 580 }] },
          ],
        },
      ],
    });
  });

  it("search paging: one sort, a GT page, then the newest stamp's ties by id with after", async () => {
    const searches: Array<Record<string, unknown>> = [];
    nock(BASE)
      .post("/crm/v3/objects/leads/search", (body: Record<string, unknown>) => {
        searches.push(body);
        return true;
      })
      .reply(200, { total: 2, results: [hit("1", "1000"), hit("2", "2000")] })
      .post("/crm/v3/objects/leads/search", (body: Record<string, unknown>) => {
        searches.push(body);
        return true;
      })
      .reply(200, { total: 1, results: [hit("2", "2000")] })
      .post("/crm/v3/objects/leads/batch/read")
      .times(2)
      .reply(200, sellersHistory);
    const pages = [];
    for await (const page of connector().changes({ object: "leads", externalIdField: "cosell_referral_id", fields: ["cosell_status"], since: new Date(500) })) pages.push(page);
    expect(searches[0]).toEqual({
      filterGroups: [{ filters: [{ propertyName: "hs_lastmodifieddate", operator: "GT", value: "500" }] }],
      sorts: [{ propertyName: "hs_lastmodifieddate", direction: "ASCENDING" }],
      properties: ["cosell_referral_id", "hs_lastmodifieddate", "cosell_status"],
      limit: 200,
      after: "0",
    });
    expect(searches[1]).toMatchObject({ filterGroups: [{ filters: [{ propertyName: "hs_lastmodifieddate", operator: "EQ", value: "2000" }] }], sorts: [{ propertyName: "hs_object_id", direction: "ASCENDING" }] });
    expect(pages.map((p) => [p.changes.map((c) => c.id), p.cursor])).toEqual([
      [["1"], { modstamp: "1000", id: "1" }],
      [["2"], { modstamp: "2000", id: "2" }],
    ]);
  });

  it("a create answers the record's stamp; an update answers none (it may change nothing and show a seller's older stamp)", async () => {
    nock(BASE)
      .post("/crm/v3/objects/leads/batch/create")
      .reply(201, { status: "COMPLETE", results: [{ id: "501", properties: { cosell_referral_id: "ref-1", hs_lastmodifieddate: "2026-11-24T10:00:00.123Z" }, createdAt: "x", updatedAt: "2026-11-24T10:00:00.123Z", archived: false }], startedAt: "x", completedAt: "x" })
      .post("/crm/v3/objects/leads/batch/update")
      .reply(200, { status: "COMPLETE", results: [{ id: "501", properties: { hs_lastmodifieddate: "2026-11-24T11:00:00.000Z" }, createdAt: "x", updatedAt: "2026-11-24T11:00:00.000Z", archived: false }], startedAt: "x", completedAt: "x" });
    const lead = { key: "ref-1", fields: { hs_lead_name: "L" }, associations: [{ object: "contacts", id: "11" }] };
    const c = connector();
    expect(await c.upsert({ object: "leads", externalIdField: "cosell_referral_id", records: [lead] })).toEqual([{ key: "ref-1", outcome: "created", id: "501", modstamp: "2026-11-24T10:00:00.123Z" }]);
    expect(await c.upsert({ object: "leads", externalIdField: "cosell_referral_id", records: [{ ...lead, id: "501" }] })).toEqual([{ key: "ref-1", outcome: "updated", id: "501" }]);
  });

  it("reads no history for records still showing the stamp and values our create left; the others' history is read as before", async () => {
    const read: string[][] = [];
    nock(BASE)
      .post("/crm/v3/objects/leads/search")
      .reply(200, { total: 3, results: [hit("1", "1000"), hit("2", "1500"), hit("3", "2000")] })
      .post("/crm/v3/objects/leads/search")
      .reply(200, { total: 1, results: [hit("3", "2000")] })
      .post("/crm/v3/objects/leads/batch/read", (body: { inputs: Array<{ id: string }> }) => {
        read.push(body.inputs.map((input) => input.id));
        return true;
      })
      .times(2)
      .reply(200, sellersHistory);
    // r1 still shows our create's stamp (as ISO text) and values; r2 shows our stamp but another
    // value (a seller's save in the same millisecond); r3 we never wrote.
    const asked: string[][] = [];
    const lastWritten = async (ids: string[]) => {
      asked.push(ids);
      return new Map([
        ["r1", { modstamp: new Date(1000).toISOString(), fields: { cosell_status: "won" } }],
        ["r2", { modstamp: "1500", fields: { cosell_status: "new" } }],
      ]);
    };
    const pages = [];
    for await (const page of connector().changes({ object: "leads", externalIdField: "cosell_referral_id", fields: ["cosell_status"], since: new Date(500), lastWritten })) pages.push(page);
    expect(read).toEqual([["2"], ["3"]]);
    expect(asked).toEqual([["r1", "r2"], ["r3"]]);
    expect(pages.flatMap((p) => p.changes.map((c) => c.id))).toEqual(["2", "3"]);
  });

  it("a 429 becomes a typed, retryable error: a second's wait, doubling while they come in a row, up to the policy's window", async () => {
    const throttle = () => nock(BASE).post("/crm/v3/objects/companies/batch/upsert").reply(429, { status: "error", message: "You have reached your ten_secondly_rolling limit.", errorType: "RATE_LIMIT", policyName: "TEN_SECONDLY_ROLLING", category: "RATE_LIMITS" }, { "X-HubSpot-RateLimit-Interval-Milliseconds": "10000" });
    const c = connector();
    const waits: unknown[] = [];
    for (let i = 0; i < 5; i += 1) {
      throttle();
      const error = await c.upsert({ object: "companies", externalIdField: "cosell_customer_key", records: [{ key: "a", fields: {} }] }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "CRM_THROTTLED", retryable: true });
      waits.push((error as { retryAfterMs: number }).retryAfterMs);
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 10_000]);
    expect(c.rateInfo()).toEqual({ retryAfterMs: 10_000, remaining: 0 });
    // Once a call goes through the throttle is over: later batches must not wait it out again.
    nock(BASE).post("/crm/v3/objects/companies/batch/upsert").reply(200, { status: "COMPLETE", results: [{ id: "9", properties: { cosell_customer_key: "a" } }] });
    await c.upsert({ object: "companies", externalIdField: "cosell_customer_key", records: [{ key: "a", fields: {} }] });
    expect(c.rateInfo()).toEqual({});
    throttle();
    await expect(c.upsert({ object: "companies", externalIdField: "cosell_customer_key", records: [{ key: "a", fields: {} }] })).rejects.toMatchObject({ retryAfterMs: 1_000 });
  });

  it("a search draws on search's own rate: counted under that budget, and its secondly 429 does not hold up the writes", async () => {
    const budgets: Array<string | undefined> = [];
    nock(BASE)
      .post("/crm/v3/objects/leads/search")
      .reply(429, { status: "error", message: "You have reached your secondly limit.", errorType: "RATE_LIMIT", policyName: "SECONDLY", category: "RATE_LIMITS" })
      .post("/crm/v3/objects/companies/batch/upsert")
      .reply(200, { status: "COMPLETE", results: [{ id: "9", properties: { cosell_customer_key: "a" } }] });
    const c = connector();
    const { value: error } = await metered(
      async () => {
        for await (const page of c.changes({ object: "leads", externalIdField: "cosell_referral_id", fields: ["cosell_status"], since: new Date(500) })) void page;
      },
      (_calls, budget) => void budgets.push(budget),
    ).catch((e: unknown) => ({ value: e }));
    expect(error).toMatchObject({ code: "CRM_THROTTLED", retryAfterMs: 1_000, rateBudget: "search" });
    expect(c.rateInfo()).toEqual({});
    await metered(() => c.upsert({ object: "companies", externalIdField: "cosell_customer_key", records: [{ key: "a", fields: {} }] }), (_calls, budget) => void budgets.push(budget));
    expect(budgets).toEqual(["search", undefined]);
  });

  it("createTask: searches tasks by title and due time, reads the record's owner, creates a to-do, associates it by default", async () => {
    const seen: Record<string, unknown> = {};
    nock(BASE)
      .post("/crm/v3/objects/tasks/search", (body: Record<string, unknown>) => {
        seen.search = body;
        return true;
      })
      .reply(200, { total: 0, results: [] })
      .get("/crm/v3/objects/leads/501")
      .query({ properties: "hubspot_owner_id" })
      .reply(200, { id: "501", properties: { hubspot_owner_id: "7001" } })
      .post("/crm/v3/objects/tasks", (body: Record<string, unknown>) => {
        seen.create = body;
        return true;
      })
      .reply(201, { id: "9001", properties: { hubspot_owner_id: "7001" } })
      .put("/crm/v4/objects/tasks/9001/associations/default/leads/501")
      .reply(200, { status: "COMPLETE", results: [] });
    const result = await connector().createTask({ object: "leads", recordId: "501", key: "k", subject: "Accept by Monday: a lead", body: "Accept it.", dueAt: new Date("2026-12-01T12:00:00Z") });
    expect(seen.search).toMatchObject({ filterGroups: [{ filters: [{ propertyName: "hs_task_subject", operator: "EQ", value: "Accept by Monday: a lead" }, { propertyName: "hs_timestamp", operator: "EQ", value: "1796126400000" }] }], limit: 1 });
    expect(seen.create).toEqual({
      properties: { hs_timestamp: "1796126400000", hs_task_subject: "Accept by Monday: a lead", hs_task_body: "Accept it.", hs_task_status: "NOT_STARTED", hs_task_priority: "HIGH", hs_task_type: "TODO", hubspot_owner_id: "7001" },
      associations: [],
    });
    expect(result).toEqual({ id: "9001", outcome: "created", ownerId: "7001", requests: 4 });
  });

  it("record links come from account-info: portal id and UI domain", async () => {
    nock(BASE).get("/crm/v3/properties/leads").query(true).reply(200, { results: [] });
    nock(BASE).get("/account-info/v3/details").reply(200, { portalId: 62515, uiDomain: "app.hubspot.com", timeZone: "US/Eastern" });
    const c = connector();
    await c.connect();
    expect(c.recordUrl("leads", "501")).toBe("https://app.hubspot.com/contacts/62515/record/0-136/501");
    expect(c.recordUrl("unknown-object", "1")).toBeUndefined();
  });
});
