import { generateKeyPairSync, verify } from "node:crypto";
import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { SalesforceConnector } from "../../connectors/salesforce/connector.js";
import { silentLogger } from "../../src/log/logger.js";
import { ManualClock } from "../../src/shared/clock.js";

const LOGIN = "https://login.salesforce.com";
const INSTANCE = "https://contoso.my.salesforce.com";
const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const privateKey = keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const clock = new ManualClock("2026-11-24T10:00:00Z");

function connector(auth: ConstructorParameters<typeof SalesforceConnector>[0]["auth"]) {
  return new SalesforceConnector({ loginUrl: LOGIN, apiVersion: "62.0", auth, logger: silentLogger(), clock });
}

const TOKEN = { access_token: "00Dxx!token", instance_url: INSTANCE, id: `${LOGIN}/id/00Dxx0000001gPL/005xx000001Svcu`, token_type: "Bearer", issued_at: "1", signature: "x" };

beforeAll(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

describe("the requests jsforce makes for the connector", () => {
  it("JWT bearer: posts a signed assertion for the integration user to the token endpoint", async () => {
    let form = new URLSearchParams();
    nock(LOGIN)
      .post("/services/oauth2/token", (body: string) => {
        form = new URLSearchParams(body);
        return true;
      })
      .reply(200, TOKEN);
    const c = connector({ mode: "jwt", clientId: "3MVG9.consumer", username: "cosell@partner.example", privateKey });
    await c.connect();
    expect(form.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
    const [header, claims, signature] = (form.get("assertion") ?? "").split(".");
    expect(JSON.parse(Buffer.from(header ?? "", "base64url").toString())).toEqual({ alg: "RS256", typ: "JWT" });
    expect(JSON.parse(Buffer.from(claims ?? "", "base64url").toString())).toEqual({ iss: "3MVG9.consumer", sub: "cosell@partner.example", aud: LOGIN, exp: Date.parse("2026-11-24T10:03:00Z") / 1000 });
    expect(verify("RSA-SHA256", Buffer.from(`${header}.${claims}`), keys.publicKey, Buffer.from(signature ?? "", "base64url"))).toBe(true);
    expect(c.userId).toBe("005xx000001Svcu");
  });

  it("client credentials: posts the connected app's id and secret", async () => {
    nock(LOGIN).post("/services/oauth2/token", { grant_type: "client_credentials", client_id: "3MVG9.consumer", client_secret: "s3cret" }).reply(200, TOKEN);
    await connector({ mode: "client-credentials", clientId: "3MVG9.consumer", clientSecret: "s3cret" }).connect();
  });

  it("upsert: sObject Collections on the external-id field, 200 records per call, allOrNone false", async () => {
    nock(LOGIN).post("/services/oauth2/token").reply(200, TOKEN);
    const bodies: Array<{ allOrNone: boolean; records: Array<Record<string, unknown>> }> = [];
    nock(INSTANCE, { reqheaders: { authorization: "Bearer 00Dxx!token", "content-type": "application/json" } })
      .patch("/services/data/v62.0/composite/sobjects/Lead/Cosell_Referral_Id__c", (body: { allOrNone: boolean; records: Array<Record<string, unknown>> }) => {
        bodies.push(body);
        return true;
      })
      .times(2)
      .reply(200, function (_uri, body) {
        return (body as { records: unknown[] }).records.map((_, i) => ({ id: `00Q${String(i).padStart(15, "0")}`, success: true, errors: [], created: true }));
      }, { "Sforce-Limit-Info": "api-usage=42/15000" });
    const c = connector({ mode: "client-credentials", clientId: "id", clientSecret: "s" });
    await c.connect();
    const records = Array.from({ length: 250 }, (_, i) => ({ key: `ref-${i}`, fields: { LastName: "L", Company: "C" } }));
    const results = await c.upsert({ object: "Lead", externalIdField: "Cosell_Referral_Id__c", records });
    expect(bodies.map((b) => b.records.length)).toEqual([200, 50]);
    expect(bodies[0]?.allOrNone).toBe(false);
    expect(bodies[0]?.records[0]).toEqual({ Cosell_Referral_Id__c: "ref-0", attributes: { type: "Lead" }, LastName: "L", Company: "C" });
    expect(results.filter((r) => r.outcome === "created")).toHaveLength(250);
    expect(c.rateInfo()).toEqual({ dailyUsed: 42, dailyLimit: 15000 });
  });

  it("changes: one tie-safe SOQL query, then queryMore on nextRecordsUrl", async () => {
    nock(LOGIN).post("/services/oauth2/token").reply(200, TOKEN);
    const record = (id: string, stamp: string) => ({ attributes: { type: "Lead" }, Id: id, Cosell_Referral_Id__c: `ref-${id}`, SystemModstamp: stamp, LastModifiedById: "005seller", Cosell_Status__c: "Won" });
    let soql = "";
    nock(INSTANCE)
      .get("/services/data/v62.0/query")
      .query((query) => {
        soql = String(query.q);
        return true;
      })
      .reply(200, { totalSize: 3, done: false, nextRecordsUrl: "/services/data/v62.0/query/01gxx00000Abcde-2000", records: [record("00Q1", "2026-11-24T10:00:00.000+0000"), record("00Q2", "2026-11-24T10:00:00.000+0000")] })
      .get("/services/data/v62.0/query/01gxx00000Abcde-2000")
      .reply(200, { totalSize: 3, done: true, records: [record("00Q3", "2026-11-24T10:00:01.000+0000")] });
    const c = connector({ mode: "client-credentials", clientId: "id", clientSecret: "s" });
    await c.connect();
    const pages = [];
    for await (const page of c.changes({ object: "Lead", externalIdField: "Cosell_Referral_Id__c", fields: ["Cosell_Status__c"], cursor: { modstamp: "2026-11-24T09:59:59.000Z", id: "00Q0" } })) pages.push(page);
    expect(soql).toBe(
      "SELECT Id, Cosell_Referral_Id__c, SystemModstamp, LastModifiedById, Cosell_Status__c FROM Lead WHERE Cosell_Referral_Id__c != null AND (SystemModstamp > 2026-11-24T09:59:59.000Z OR (SystemModstamp = 2026-11-24T09:59:59.000Z AND Id > '00Q0')) ORDER BY SystemModstamp ASC, Id ASC",
    );
    expect(pages.map((p) => [p.changes.map((c) => c.id), p.cursor])).toEqual([
      [["00Q1", "00Q2"], { modstamp: "2026-11-24T10:00:00.000Z", id: "00Q2" }],
      [["00Q3"], { modstamp: "2026-11-24T10:00:01.000Z", id: "00Q3" }],
    ]);
  });

  it("createTask: looks for the task by record and subject, reads the owner, posts a Task for a user owner", async () => {
    nock(LOGIN).post("/services/oauth2/token").reply(200, TOKEN);
    let soql = "";
    let task: Record<string, unknown> = {};
    nock(INSTANCE)
      .get("/services/data/v62.0/query")
      .query((q) => {
        soql = String(q.q);
        return true;
      })
      .reply(200, { totalSize: 0, done: true, records: [] })
      .get("/services/data/v62.0/sobjects/Lead/00Q000000000001AAA")
      .query({ fields: "OwnerId" })
      .reply(200, { attributes: { type: "Lead" }, Id: "00Q000000000001AAA", OwnerId: "005000000000007AAA" })
      .post("/services/data/v62.0/sobjects/Task", (body: Record<string, unknown>) => {
        task = body;
        return true;
      })
      .reply(201, { id: "00T000000000001AAA", success: true, errors: [] });
    const c = connector({ mode: "client-credentials", clientId: "id", clientSecret: "s" });
    await c.connect();
    const result = await c.createTask({ object: "Lead", recordId: "00Q000000000001AAA", key: "k", subject: "Accept by Monday: O'Brien's lead", body: "Accept it.", dueAt: new Date("2026-12-01T23:30:00Z") });
    expect(soql).toBe("SELECT Id, OwnerId FROM Task WHERE WhoId = '00Q000000000001AAA' AND Subject = 'Accept by Monday: O\\'Brien\\'s lead' LIMIT 1");
    expect(task).toEqual({ Subject: "Accept by Monday: O'Brien's lead", Description: "Accept it.", ActivityDate: "2026-12-01", Status: "Not Started", Priority: "High", WhoId: "00Q000000000001AAA", OwnerId: "005000000000007AAA" });
    expect(result).toEqual({ id: "00T000000000001AAA", outcome: "created", ownerId: "005000000000007AAA", requests: 3 });
  });

  it("createTask: a queue-owned record's task stays with the integration user (a queue cannot own a task)", async () => {
    nock(LOGIN).post("/services/oauth2/token").reply(200, TOKEN);
    let task: Record<string, unknown> = {};
    nock(INSTANCE)
      .get("/services/data/v62.0/query")
      .query(true)
      .reply(200, { totalSize: 0, done: true, records: [] })
      .get("/services/data/v62.0/sobjects/Lead/00Q000000000001AAA")
      .query(true)
      .reply(200, { Id: "00Q000000000001AAA", OwnerId: "00G000000000001AAA" })
      .post("/services/data/v62.0/sobjects/Task", (body: Record<string, unknown>) => {
        task = body;
        return true;
      })
      .reply(201, { id: "00T2", success: true, errors: [] });
    const c = connector({ mode: "client-credentials", clientId: "id", clientSecret: "s" });
    await c.connect();
    await c.createTask({ object: "Lead", recordId: "00Q000000000001AAA", key: "k", subject: "s", body: "b", dueAt: new Date("2026-12-01T00:00:00Z") });
    expect(task).not.toHaveProperty("OwnerId");
  });
});
