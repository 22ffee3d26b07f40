import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/logger.js";
import { GraphMail } from "../../src/notify/graph-mail.js";

const GRAPH = "https://graph.microsoft.com";
const tokens = { getToken: async () => "app-token" };
const mail = () => new GraphMail({ sender: "reminders@contoso.example", tokens, logger: silentLogger() });

beforeAll(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

describe("Graph mail wire shape", () => {
  it("posts the documented sendMail body to /v1.0/users/{sender}/sendMail with the app token", async () => {
    let seen: { auth?: string; body?: unknown } = {};
    nock(GRAPH)
      .post("/v1.0/users/reminders%40contoso.example/sendMail")
      .reply(function (_uri, body) {
        seen = { auth: String(this.req.headers.authorization), body };
        return [202, ""];
      });
    await mail().send({ to: "ana@contoso.example", subject: "Accept by Monday", html: "<p>Lead</p>" });
    expect(seen.auth).toBe("Bearer app-token");
    expect(seen.body).toEqual({
      message: { subject: "Accept by Monday", body: { contentType: "HTML", content: "<p>Lead</p>" }, toRecipients: [{ emailAddress: { address: "ana@contoso.example" } }] },
      saveToSentItems: false,
    });
  });

  it("reads the mailbox time zone with $select and maps Graph's Windows names to IANA", async () => {
    nock(GRAPH).get("/v1.0/users/ana%40contoso.example/mailboxSettings").query({ $select: "timeZone" }).reply(200, { timeZone: "Pacific Standard Time" });
    expect(await mail().timeZoneOf("ana@contoso.example")).toBe("America/Los_Angeles");
  });

  it("answers a 429 once, as a retryable error carrying Retry-After (the outbox retries, not the SDK)", async () => {
    nock(GRAPH)
      .post("/v1.0/users/reminders%40contoso.example/sendMail")
      .reply(429, { error: { code: "ApplicationThrottled", message: "Application is over its MailboxConcurrency limit." } }, { "Retry-After": "7" });
    await expect(mail().send({ to: "ana@contoso.example", subject: "s", html: "h" })).rejects.toMatchObject({ code: "NOTIFY_MAIL_THROTTLED", retryable: true, retryAfterMs: 7_000 });
  });

  it("refuses without retry what Graph rejects (a bad recipient)", async () => {
    nock(GRAPH)
      .post("/v1.0/users/reminders%40contoso.example/sendMail")
      .reply(400, { error: { code: "ErrorInvalidRecipients", message: "At least one recipient is not valid." } });
    await expect(mail().send({ to: "nobody", subject: "s", html: "h" })).rejects.toMatchObject({ code: "NOTIFY_MAIL_REFUSED", retryable: false });
  });
});
