import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeBatch, encodeBatch } from "../../connectors/dynamics/batch.js";
import { DynamicsConnector } from "../../connectors/dynamics/connector.js";
import { StaticTokenProvider } from "../../src/auth/token-provider.js";
import { silentLogger } from "../../src/log/logger.js";

const ORG = "https://contoso.crm.dynamics.com";
const connector = () => new DynamicsConnector({ url: ORG, apiVersion: "9.2", tokens: new StaticTokenProvider("dv-token"), logger: silentLogger(), pageSize: 500 });

beforeAll(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

describe("the requests the Dataverse connector makes", () => {
  it("$batch: one multipart request, a PATCH by alternate key per record, continue-on-error", async () => {
    let contentType = "";
    let body = "";
    nock(ORG, { reqheaders: { authorization: "Bearer dv-token", "odata-version": "4.0", prefer: "odata.continue-on-error" } })
      .post("/api/data/v9.2/$batch", (raw: string) => {
        body = raw;
        return true;
      })
      .reply(function () {
        contentType = String(this.req.headers["content-type"]);
        const answer = encodeBatch(
          "batchresponse_1",
          [
            { status: 201, headers: { "Content-ID": "1", "Content-Type": "application/json" }, body: JSON.stringify({ leadid: "00000000-0000-0000-0000-000000000001" }) },
            { status: 400, headers: { "Content-ID": "2", "Content-Type": "application/json" }, body: JSON.stringify({ error: { code: "0x80044331", message: "too long" } }) },
          ],
          "response",
        );
        return [200, answer, { "Content-Type": "multipart/mixed; boundary=batchresponse_1" }];
      });
    const results = await connector().upsert({ object: "lead", externalIdField: "cosell_referralid", records: [{ key: "a'b", fields: { subject: "S" } }, { key: "c", fields: { subject: "x".repeat(400) } }] });
    expect(contentType).toMatch(/^multipart\/mixed; boundary=batch_[0-9a-f-]{36}$/);
    const parts = decodeBatch(body, contentType.split("boundary=")[1] ?? "");
    expect(parts.map((p) => [p.method, p.url, p.headers["content-id"], p.headers.prefer])).toEqual([
      ["PATCH", `${ORG}/api/data/v9.2/leads(cosell_referralid='a''b')?$select=leadid`, "1", "return=representation"],
      ["PATCH", `${ORG}/api/data/v9.2/leads(cosell_referralid='c')?$select=leadid`, "2", "return=representation"],
    ]);
    expect(JSON.parse(parts[0]?.body ?? "")).toEqual({ subject: "S" });
    expect(results.map((r) => (r.outcome === "failed" ? r.error.code : r.outcome))).toEqual(["created", "CRM_VALUE_TOO_LONG"]);
  });

  it("a 429 with Retry-After is the pacer's wait until a call goes through again", async () => {
    const c = connector();
    const record = { key: "ref-1", fields: { subject: "x" } };
    nock(ORG).post("/api/data/v9.2/$batch").reply(429, { error: { code: "0x80072322", message: "Number of requests exceeded the limit of 6000 over time window of 300 seconds." } }, { "Retry-After": "5" });
    await expect(c.upsert({ object: "lead", externalIdField: "cosell_referralid", records: [record] })).rejects.toMatchObject({ code: "CRM_THROTTLED", retryAfterMs: 5_000 });
    expect(c.rateInfo()).toEqual({ retryAfterMs: 5_000, remaining: 0 });
    nock(ORG)
      .post("/api/data/v9.2/$batch")
      .reply(200, encodeBatch("batchresponse_2", [{ status: 204, headers: { "Content-ID": "1", "OData-EntityId": `${ORG}/api/data/v9.2/leads(00000000-0000-0000-0000-000000000001)` } }], "response"), { "Content-Type": "multipart/mixed; boundary=batchresponse_2" });
    await c.upsert({ object: "lead", externalIdField: "cosell_referralid", records: [record] });
    expect(c.rateInfo()).toEqual({});
  });

  it("change tracking: Prefer odata.track-changes without $filter, then the delta link as the cursor", async () => {
    nock(ORG)
      .get("/api/data/v9.2/leads")
      .query({ $select: "leadid,cosell_referralid,modifiedon,_modifiedby_value,cosell_status" })
      .matchHeader("prefer", "odata.track-changes, odata.maxpagesize=500")
      .reply(
        200,
        { value: [{ leadid: "1", cosell_referralid: "r1", modifiedon: "2026-11-24T10:00:00Z", _modifiedby_value: "seller", cosell_status: 100000002 }], "@odata.deltaLink": `${ORG}/api/data/v9.2/leads?$select=leadid&$deltatoken=919042!11/24/2026` },
        { "Preference-Applied": "odata.track-changes" },
      )
      .get("/api/data/v9.2/leads")
      .query({ $select: "leadid", $deltatoken: "919042!11/24/2026" })
      .reply(200, { value: [{ "@odata.context": `${ORG}/api/data/v9.2/$metadata#leads/$deletedEntity`, id: "9", reason: "deleted" }], "@odata.deltaLink": `${ORG}/api/data/v9.2/leads?$select=leadid&$deltatoken=919043` });
    const c = connector();
    const request = { object: "lead", externalIdField: "cosell_referralid", fields: ["cosell_status"], since: new Date("2026-11-24T09:00:00Z") };
    const first = [];
    for await (const page of c.changes(request)) first.push(page);
    expect(first.map((p) => [p.changes.map((x) => x.externalId), p.cursor.token])).toEqual([[["r1"], `${ORG}/api/data/v9.2/leads?$select=leadid&$deltatoken=919042!11/24/2026`]]);
    const second = [];
    for await (const page of c.changes({ ...request, cursor: first[0]?.cursor })) second.push(page);
    expect(second[0]?.changes).toEqual([]);
    expect(second[0]?.cursor.token).toContain("919043");
  });

  it("createTask: reads the owner with its table, then PATCHes tasks(<key-derived id>) create-only, regarding the lead", async () => {
    const seen: { body?: Record<string, unknown>; ifNoneMatch?: string; path?: string } = {};
    nock(ORG, { reqheaders: { prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"' } })
      .get("/api/data/v9.2/leads(11111111-1111-1111-1111-111111111111)")
      .query({ $select: "_ownerid_value" })
      .reply(200, { leadid: "11111111-1111-1111-1111-111111111111", _ownerid_value: "22222222-2222-2222-2222-222222222222", "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "team" });
    nock(ORG)
      .patch(/\/api\/data\/v9\.2\/tasks\([0-9a-f-]{36}\)$/, (body: Record<string, unknown>) => {
        seen.body = body;
        return true;
      })
      .times(2)
      .reply(function (uri) {
        seen.ifNoneMatch = String(this.req.headers["if-none-match"]);
        const first = seen.path === undefined;
        seen.path = uri;
        return first ? [204, ""] : [412, { error: { code: "0x80040237", message: "A record with matching key values already exists." } }];
      });
    nock(ORG).get("/api/data/v9.2/leads(11111111-1111-1111-1111-111111111111)").query(true).reply(200, { _ownerid_value: "22222222-2222-2222-2222-222222222222" });
    const c = connector();
    const request = { object: "lead", recordId: "11111111-1111-1111-1111-111111111111", key: "ref:accept:2026-12-01:86400000:p", subject: "Accept by Monday", body: "Accept it.", dueAt: new Date("2026-12-01T12:00:00Z") };
    const first = await c.createTask(request);
    const path = seen.path;
    expect(seen.ifNoneMatch).toBe("*");
    expect(seen.body).toEqual({
      subject: "Accept by Monday",
      description: "Accept it.",
      scheduledend: "2026-12-01T12:00:00.000Z",
      prioritycode: 2,
      "regardingobjectid_lead_task@odata.bind": "/leads(11111111-1111-1111-1111-111111111111)",
      "ownerid@odata.bind": "/teams(22222222-2222-2222-2222-222222222222)",
    });
    const second = await c.createTask(request);
    expect(seen.path).toBe(path);
    expect([first.outcome, second.outcome, second.id]).toEqual(["created", "existing", first.id]);
    expect(first.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
