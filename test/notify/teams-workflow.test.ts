import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/logger.js";
import { TeamsWorkflow } from "../../src/notify/teams-workflow.js";
import { TeamsWorkflowSandbox } from "../../src/sandbox/teams/server.js";
import { renderTeamsCard } from "../../src/sync/reminder-teams.js";
import { captureLogger } from "../helpers/log-capture.js";

const notice = {
  to: "ana@contoso.example",
  referralId: "7c1e-referral",
  name: "Azure migration for Fabrikam",
  customer: "Fabrikam",
  deadline: "accept" as const,
  at: "2026-12-01T12:00:00.000Z",
  leadTimeMs: 86_400_000,
  partnerCenterUrl: "https://partner.microsoft.com/dashboard/referrals/v2/leads/7c1e-referral",
  records: [{ pair: "salesforce", url: "https://contoso.my.salesforce.com/lightning/r/Lead/00Q1/view" }],
};

describe("Teams Workflows webhook (sandbox)", () => {
  let sandbox: TeamsWorkflowSandbox;

  beforeAll(async () => {
    sandbox = await TeamsWorkflowSandbox.start();
  });

  afterAll(async () => {
    await sandbox.close();
  });

  it("posts the reminder card: 202 with a run id, the card in the channel, and the signature never logged", async () => {
    const capture = captureLogger();
    const teams = new TeamsWorkflow({ webhookUrl: sandbox.webhookUrl, logger: capture.logger });
    const answer = await teams.post(renderTeamsCard(notice, "Europe/Berlin"));
    expect(answer.runId).toMatch(/^08584/);
    expect(sandbox.runs.at(-1)?.status).toBe("Succeeded");
    const card = sandbox.channel.at(-1)?.card as { version: string; body: Array<{ text?: string; facts?: Array<{ title: string; value: string }> }>; actions: Array<{ title: string; url: string }> };
    expect(card.version).toBe("1.4");
    // 12:00 UTC is 13:00 in Berlin; ICU versions differ on the comma after the weekday.
    expect(card.body[0]?.text).toMatch(/^Accept by Tuesday,? 1 December 2026 at 13:00: Azure migration for Fabrikam$/);
    expect(card.body[2]?.facts?.find((f) => f.title === "Deadline")?.value).toMatch(/^Tuesday,? 1 December 2026 at 13:00 \(Europe\/Berlin\)$/);
    expect(card.actions.map((a) => a.title)).toEqual(["Open in Partner Center", "Open in salesforce"]);
    const sig = new URL(sandbox.webhookUrl).searchParams.get("sig") ?? "";
    expect(capture.text()).toContain("Teams reminder posted");
    expect(capture.text()).not.toContain(sig);
  });

  it("refuses a wrong signature for good (NOTIFY_TEAMS_DENIED, not retried)", async () => {
    const forged = new URL(sandbox.webhookUrl);
    forged.searchParams.set("sig", "forged");
    const teams = new TeamsWorkflow({ webhookUrl: forged.toString(), logger: silentLogger() });
    await expect(teams.post(renderTeamsCard(notice, "UTC"))).rejects.toMatchObject({ code: "NOTIFY_TEAMS_DENIED", retryable: false });
  });

  it("answers throttling as retryable with the wait the trigger asked for", async () => {
    sandbox.throttleRate = 1;
    try {
      const teams = new TeamsWorkflow({ webhookUrl: sandbox.webhookUrl, logger: silentLogger() });
      await expect(teams.post(renderTeamsCard(notice, "UTC"))).rejects.toMatchObject({ code: "NOTIFY_TEAMS_THROTTLED", retryable: true, retryAfterMs: 5_000 });
    } finally {
      sandbox.throttleRate = 0;
    }
  });

  it("queues a run for anything JSON but fails it when the body is no Adaptive Card message, as the real flow does", async () => {
    const posted = sandbox.channel.length;
    const answer = await fetch(sandbox.webhookUrl, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: "plain text" }) });
    expect(answer.status).toBe(202);
    expect(sandbox.runs.at(-1)).toMatchObject({ status: "Failed", error: "The body is not a Teams message (type: message)." });
    expect(sandbox.channel).toHaveLength(posted);
    const broken = await fetch(sandbox.webhookUrl, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{not json" });
    expect([broken.status, ((await broken.json()) as { error: { code: string } }).error.code]).toEqual([400, "InvalidRequestContent"]);
  });
});

describe("Teams Workflows wire shape", () => {
  const URL_ = "https://prod-42.westeurope.logic.azure.com:443/workflows/abc123/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s3cr3t";

  beforeAll(() => {
    nock.disableNetConnect();
  });

  afterEach(() => {
    expect(nock.pendingMocks()).toEqual([]);
    nock.cleanAll();
  });

  afterAll(() => {
    nock.enableNetConnect();
  });

  it("posts a Teams message with one Adaptive Card attachment to the trigger URL, query intact", async () => {
    let seen: { type?: string; body?: unknown } = {};
    nock("https://prod-42.westeurope.logic.azure.com:443")
      .post("/workflows/abc123/triggers/manual/paths/invoke")
      .query({ "api-version": "2016-06-01", sp: "/triggers/manual/run", sv: "1.0", sig: "s3cr3t" })
      .reply(function (_uri, body) {
        seen = { type: String(this.req.headers["content-type"]), body };
        return [202, "", { "x-ms-workflow-run-id": "08584RUN" }];
      });
    const card = renderTeamsCard(notice, "UTC");
    const answer = await new TeamsWorkflow({ webhookUrl: URL_, logger: silentLogger() }).post(card);
    expect(answer.runId).toBe("08584RUN");
    expect(seen.type).toBe("application/json");
    expect(seen.body).toEqual({ type: "message", attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card }] });
  });

  it("a 502 from the workflow service is retried; a 400 is not", async () => {
    const host = nock("https://prod-42.westeurope.logic.azure.com:443");
    host.post("/workflows/abc123/triggers/manual/paths/invoke").query(true).reply(502, "Bad Gateway");
    host.post("/workflows/abc123/triggers/manual/paths/invoke").query(true).reply(400, { error: { code: "TriggerInputSchemaMismatch", message: "The input body for trigger 'manual' of type 'Request' did not match its schema definition." } });
    const teams = new TeamsWorkflow({ webhookUrl: URL_, logger: silentLogger() });
    await expect(teams.post(renderTeamsCard(notice, "UTC"))).rejects.toMatchObject({ code: "NOTIFY_TEAMS_THROTTLED", retryable: true });
    await expect(teams.post(renderTeamsCard(notice, "UTC"))).rejects.toMatchObject({ code: "NOTIFY_TEAMS_REFUSED", retryable: false });
  });
});
