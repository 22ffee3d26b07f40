import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TokenProvider } from "../../src/auth/token-provider.js";
import { silentLogger } from "../../src/log/logger.js";
import { ReferralClient } from "../../src/partner-center/client.js";
import type { PartnerCenterError} from "../../src/partner-center/errors.js";
import { ReferralConflictError } from "../../src/partner-center/errors.js";
import { ManualClock } from "../../src/shared/clock.js";

const HOST = "https://api.partner.microsoft.com";
const BASE = `${HOST}/v1.0/engagements`;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

class CountingTokens implements TokenProvider {
  calls: Array<{ forceRefresh?: boolean } | undefined> = [];
  async getToken(options?: { forceRefresh?: boolean }): Promise<string> {
    this.calls.push(options);
    return options?.forceRefresh ? "fresh-token" : "cached-token";
  }
}

function client(tokens: TokenProvider = new CountingTokens()) {
  return new ReferralClient({ baseUrl: BASE, tokens, logger: silentLogger(), clock: new ManualClock("2026-05-01T00:00:00Z"), correlationId: "run-42" });
}

const referral = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  eTag: `"${id}-e1"`,
  status: "New",
  substatus: "Received",
  updatedDateTime: "2026-05-01T00:00:00Z",
  ...extra,
});

beforeAll(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

describe("referral client wire shape", () => {
  it("lists with $filter/$orderby/$top and the documented headers, following a nextLink rebuilt on the base URL", async () => {
    const seen: Array<Record<string, string | string[] | undefined>> = [];
    nock(HOST)
      .get("/v1.0/engagements/referrals")
      .query({ $filter: "updatedDateTime ge 2026-04-30T23:55:00.000Z and direction eq 'Incoming'", $orderby: "updatedDateTime", $top: "100" })
      .reply(function () {
        seen.push(this.req.headers);
        // The documented sample: http:// and no /engagements. The client must not follow it literally.
        return [200, { value: [referral("a"), referral("b")], "@odata.nextLink": "http://api.partner.microsoft.com/v1.0/referrals?$skiptoken=abc%3D%3D&$top=100" }];
      })
      .get("/v1.0/engagements/referrals")
      .query({ $skiptoken: "abc==", $top: "100" })
      .reply(200, { value: [referral("c")] });

    const pages = [];
    for await (const page of client().listChanged({ since: new Date("2026-04-30T23:55:00Z"), filter: "direction eq 'Incoming'" })) pages.push(page);
    expect(pages.map((p) => p.items.map((r) => r.id))).toEqual([["a", "b"], ["c"]]);
    const headers = seen[0] ?? {};
    expect(headers.authorization).toBe("Bearer cached-token");
    expect(headers.accept).toBe("application/json");
    expect(headers["client-request-id"]).toMatch(GUID);
    expect(headers["ms-correlationid"]).toBe("run-42");
  });

  it("uses a new client-request-id for every call", async () => {
    const ids: string[] = [];
    nock(HOST)
      .get("/v1.0/engagements/referrals/x")
      .times(2)
      .reply(function () {
        ids.push(String(this.req.headers["client-request-id"]));
        return [200, referral("x")];
      });
    const c = client();
    await c.get("x");
    await c.get("x");
    expect(new Set(ids).size).toBe(2);
  });

  it("patches with JSON Patch, If-Match and return=representation", async () => {
    nock(HOST, { reqheaders: { "if-match": '"x-e1"', "content-type": "application/json", prefer: "return=representation" } })
      .patch("/v1.0/engagements/referrals/x", [
        { op: "replace", path: "/status", value: "Active" },
        { op: "replace", path: "/substatus", value: "Accepted" },
      ])
      .reply(200, referral("x", { status: "Active", substatus: "Accepted", eTag: '"x-e2"' }));
    const updated = await client().patch(
      "x",
      [
        { op: "replace", path: "/status", value: "Active" },
        { op: "replace", path: "/substatus", value: "Accepted" },
      ],
      '"x-e1"',
    );
    expect(updated.eTag).toBe('"x-e2"');
  });

  it("re-reads after a 204 patch", async () => {
    nock(HOST).patch("/v1.0/engagements/referrals/x").reply(204).get("/v1.0/engagements/referrals/x").reply(200, referral("x", { eTag: '"x-e3"' }));
    expect((await client().patch("x", [], '"x-e2"')).eTag).toBe('"x-e3"');
  });

  it("on 412 re-reads the record and throws a typed conflict carrying it", async () => {
    nock(HOST)
      .patch("/v1.0/engagements/referrals/x")
      .reply(412, { error: { code: "preconditionFailed", message: "The resource has been modified." } })
      .get("/v1.0/engagements/referrals/x")
      .reply(200, referral("x", { eTag: '"x-e9"', status: "Active" }));
    const error = await client()
      .patch("x", [{ op: "replace", path: "/substatus", value: "Won" }], '"x-e1"')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReferralConflictError);
    expect(error).toMatchObject({ code: "PC_PRECONDITION_FAILED", retryable: true, current: { eTag: '"x-e9"', status: "Active" } });
  });

  it("matches error codes in the body case-insensitively (resourceModified is a conflict too)", async () => {
    nock(HOST).patch("/v1.0/engagements/referrals/x").reply(409, { error: { code: "ResourceModified", message: "changed" } }).get("/v1.0/engagements/referrals/x").reply(200, referral("x"));
    await expect(client().patch("x", [], '"e"')).rejects.toBeInstanceOf(ReferralConflictError);
  });

  it("reads Retry-After on 429", async () => {
    nock(HOST).get("/v1.0/engagements/referrals/x").reply(429, { error: { code: "tooManyRequests", message: "slow down" } }, { "Retry-After": "12" });
    await expect(client().get("x")).rejects.toMatchObject({ code: "PC_THROTTLED", retryable: true, retryAfterMs: 12_000 });
  });

  it("reads the wait from the documented 429 body when there is no header", async () => {
    nock(HOST).get("/v1.0/engagements/referrals/x").reply(429, { statusCode: 429, message: "Rate limit is exceeded. Try again in 57 seconds." });
    const error = (await client().get("x").catch((e: unknown) => e)) as PartnerCenterError;
    expect(error).toMatchObject({ code: "PC_THROTTLED", retryAfterMs: 57_000 });
    expect(error.message).toContain("Try again in 57 seconds");
    expect(error.message).toMatch(/client-request-id [0-9a-f-]{36}/);
  });

  it("maps the error body to a stable, non-retryable code with the field", async () => {
    nock(HOST).post("/v1.0/engagements/referrals").reply(400, { error: { code: "invalidRequest", message: "Country is required", target: "customerProfile.address.country" } });
    await expect(client().create({ name: "x" })).rejects.toMatchObject({
      code: "PC_INVALID_REQUEST",
      retryable: false,
      details: { remoteCode: "invalidRequest", target: "customerProfile.address.country", status: 400 },
    });
  });

  it("retries once with a fresh token after a 401, and no more", async () => {
    const tokens = new CountingTokens();
    nock(HOST)
      .get("/v1.0/engagements/referrals/x")
      .matchHeader("authorization", "Bearer cached-token")
      .reply(401, { error: { code: "unauthenticated", message: "token expired" } })
      .get("/v1.0/engagements/referrals/x")
      .matchHeader("authorization", "Bearer fresh-token")
      .reply(200, referral("x"));
    await expect(client(tokens).get("x")).resolves.toMatchObject({ id: "x" });
    expect(tokens.calls).toEqual([undefined, { forceRefresh: true }]);

    nock(HOST).get("/v1.0/engagements/referrals/y").times(2).reply(401, { error: { code: "unauthenticated", message: "no" } });
    await expect(client(tokens).get("y")).rejects.toMatchObject({ code: "PC_UNAUTHENTICATED", retryable: false });
  });

  it("treats 503 as retryable unavailability and a refused connection as unreachable", async () => {
    nock(HOST).get("/v1.0/engagements/referrals/x").reply(503, { error: { code: "serviceNotAvailable", message: "down" } }, { "Retry-After": "5" });
    await expect(client().get("x")).rejects.toMatchObject({ code: "PC_UNAVAILABLE", retryable: true, retryAfterMs: 5000 });
    nock(HOST).get("/v1.0/engagements/referrals/x").replyWithError({ code: "ECONNRESET", message: "socket hang up" });
    await expect(client().get("x")).rejects.toMatchObject({ code: "PC_UNREACHABLE", retryable: true });
  });

  it("skips a record without an id instead of failing the page", async () => {
    nock(HOST).get("/v1.0/engagements/referrals").query(true).reply(200, { value: [{ name: "no id" }, referral("ok")] });
    const pages = [];
    for await (const page of client().listChanged()) pages.push(page);
    expect(pages[0]?.items.map((r) => r.id)).toEqual(["ok"]);
  });

  it("measures Partner Center's clock against the real local clock from the Date header", async () => {
    const ahead = new Date(Date.now() + 5 * 60_000).toUTCString();
    nock(HOST).get("/v1.0/engagements/referrals/r-1").reply(200, referral("r-1"), { Date: ahead });
    const c = client();
    expect(c.clockSkewMs).toBeUndefined();
    await c.get("r-1");
    // The header has one-second resolution.
    expect(Math.abs((c.clockSkewMs ?? 0) - 5 * 60_000)).toBeLessThan(2_000);
  });
});
