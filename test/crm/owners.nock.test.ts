import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { DynamicsConnector } from "../../connectors/dynamics/connector.js";
import { HubSpotConnector } from "../../connectors/hubspot/connector.js";
import { SalesforceConnector } from "../../connectors/salesforce/connector.js";
import { StaticTokenProvider } from "../../src/auth/token-provider.js";
import { silentLogger } from "../../src/log/logger.js";

beforeAll(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

/** Records every GET to a host, decoded, answering each with the next reply in turn. */
function answerGets(host: string, replies: Array<[number, unknown]>): string[] {
  const seen: string[] = [];
  const scope = nock(host);
  for (const [status, body] of replies) {
    scope
      .get(() => true)
      .reply((uri) => {
        seen.push(decodeURIComponent(uri.replace(/\+/g, " ")));
        return [status, body as nock.Body];
      });
  }
  return seen;
}

describe("owner lookups on the wire", () => {
  it("Salesforce: SOQL on User by email (an active one preferred, quotes escaped), on Group for queues, by id prefix", async () => {
    const LOGIN = "https://login.salesforce.com";
    const INSTANCE = "https://contoso.my.salesforce.com";
    nock(LOGIN).post("/services/oauth2/token").reply(200, { access_token: "00Dxx!t", instance_url: INSTANCE, id: `${LOGIN}/id/00Dxx0000001gPL/005xx000001Svcu`, token_type: "Bearer", issued_at: "1", signature: "x" });
    const c = new SalesforceConnector({ loginUrl: LOGIN, apiVersion: "62.0", auth: { mode: "client-credentials", clientId: "id", clientSecret: "s" }, logger: silentLogger() });
    await c.connect();
    const user = (id: string, active: boolean) => ({ attributes: { type: "User" }, Id: id, FirstName: "Pat", LastName: "O'Brien", Name: "Pat O'Brien", Email: "pat.o'brien@partner.example", Phone: null, MobilePhone: "+1 555 0100", Title: "AE", IsActive: active });
    const seen = answerGets(INSTANCE, [
      [200, { totalSize: 2, done: true, records: [user("005A", false), user("005B", true)] }],
      [200, { totalSize: 1, done: true, records: [{ attributes: { type: "Group" }, Id: "00GQ", Name: "Joint Planning Leads", DeveloperName: "Joint_Planning_Leads" }] }],
      [200, { totalSize: 0, done: true, records: [] }],
    ]);
    expect(await c.findOwner({ email: "pat.o'brien@partner.example" })).toEqual({ id: "005B", kind: "user", value: "005B", name: "Pat O'Brien", firstName: "Pat", lastName: "O'Brien", email: "pat.o'brien@partner.example", phone: "+1 555 0100", title: "AE", active: true });
    expect(await c.findOwner({ team: "Joint Planning Leads" })).toMatchObject({ id: "00GQ", kind: "team", value: "00GQ", active: true });
    expect(await c.findOwner({ id: "00GZZ" })).toBeUndefined();
    // Neither a user nor a queue id: not asked at all.
    expect(await c.findOwner({ id: "00Q000" })).toBeUndefined();
    expect(seen).toEqual([
      "/services/data/v62.0/query?q=SELECT Id, FirstName, LastName, Name, Email, Phone, MobilePhone, Title, IsActive FROM User WHERE Email = 'pat.o\\'brien@partner.example' LIMIT 10",
      "/services/data/v62.0/query?q=SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue' AND (Name = 'Joint Planning Leads' OR DeveloperName = 'Joint Planning Leads') LIMIT 1",
      "/services/data/v62.0/query?q=SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue' AND Id = '00GZZ' LIMIT 1",
    ]);
  });

  it("HubSpot: the owners API by email, active then archived; by id with idProperty=id; teams own nothing", async () => {
    const BASE = "https://api.hubapi.com";
    const c = new HubSpotConnector({ accessToken: "pat-na1-test", basePath: BASE, logger: silentLogger() });
    const owner = { id: "81000004", email: "edsger@partner.example", type: "PERSON", firstName: "Edsger", lastName: "Dijkstra", userId: 7104, createdAt: "2025-01-06T00:00:00Z", updatedAt: "2025-01-06T00:00:00Z", archived: true, teams: [] };
    const seen = answerGets(BASE, [
      [200, { results: [] }],
      [200, { results: [owner] }],
      [404, { status: "error", message: "Owner not found", category: "OBJECT_NOT_FOUND" }],
      [404, { status: "error", message: "Owner not found", category: "OBJECT_NOT_FOUND" }],
    ]);
    expect(await c.findOwner({ email: "edsger@partner.example" })).toEqual({ id: "81000004", kind: "user", value: "81000004", name: "Edsger Dijkstra", firstName: "Edsger", lastName: "Dijkstra", email: "edsger@partner.example", active: false });
    expect(await c.findOwner({ id: "81000099" })).toBeUndefined();
    expect(await c.findOwner({ team: "Joint Planning" })).toBeUndefined();
    expect(seen).toEqual([
      "/crm/v3/owners/?email=edsger@partner.example&limit=10&archived=false",
      "/crm/v3/owners/?email=edsger@partner.example&limit=10&archived=true",
      "/crm/v3/owners/81000099?idProperty=id&archived=false",
      "/crm/v3/owners/81000099?idProperty=id&archived=true",
    ]);
  });

  it("Dataverse: systemusers by primary email (quotes doubled), owner teams by name (not access teams), an id tried as a user then a team", async () => {
    const ORG = "https://contoso.crm.dynamics.com";
    const c = new DynamicsConnector({ url: ORG, apiVersion: "9.2", tokens: new StaticTokenProvider("dv-token"), logger: silentLogger() });
    const guid = "7a1c1d2e-0000-4000-8000-000000000001";
    const seen = answerGets(ORG, [
      [200, { value: [{ systemuserid: guid, fullname: "Pat O'Brien", firstname: "Pat", lastname: "O'Brien", internalemailaddress: "pat.o'brien@partner.example", address1_telephone1: "+1 555 0100", mobilephone: null, title: null, isdisabled: false }] }],
      [200, { value: [{ teamid: guid, name: "Joint Planning Leads", teamtype: 0 }] }],
      [200, { value: [] }],
      [200, { value: [{ teamid: guid, name: "Joint Planning Leads", teamtype: 0 }] }],
    ]);
    expect(await c.findOwner({ email: "pat.o'brien@partner.example" })).toEqual({ id: guid, kind: "user", value: `/systemusers(${guid})`, name: "Pat O'Brien", firstName: "Pat", lastName: "O'Brien", email: "pat.o'brien@partner.example", phone: "+1 555 0100", active: true });
    expect(await c.findOwner({ team: "Joint Planning Leads" })).toEqual({ id: guid, kind: "team", value: `/teams(${guid})`, name: "Joint Planning Leads", active: true });
    expect(await c.findOwner({ id: guid })).toMatchObject({ kind: "team" });
    // Not a GUID: never put into a filter.
    expect(await c.findOwner({ id: "x') or (1 eq 1" })).toBeUndefined();
    const select = "systemuserid,fullname,firstname,lastname,internalemailaddress,address1_telephone1,mobilephone,title,isdisabled";
    expect(seen).toEqual([
      `/api/data/v9.2/systemusers?$select=${select}&$filter=internalemailaddress eq 'pat.o''brien@partner.example'`,
      "/api/data/v9.2/teams?$select=teamid,name,teamtype&$filter=name eq 'Joint Planning Leads' and teamtype ne 1",
      `/api/data/v9.2/systemusers?$select=${select}&$filter=systemuserid eq ${guid}`,
      `/api/data/v9.2/teams?$select=teamid,name,teamtype&$filter=teamid eq ${guid} and teamtype ne 1`,
    ]);
  });
});
