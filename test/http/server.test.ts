import { afterEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/index.js";
import { Daemon } from "../../src/daemon/daemon.js";
import type { ReadinessCheck } from "../../src/http/server.js";
import { HttpServer, MAX_WEBHOOK_BYTES } from "../../src/http/server.js";
import { silentLogger } from "../../src/log/logger.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase } from "../helpers/stores.js";

describe("HTTP server", () => {
  let server: HttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(checks: ReadinessCheck[]) {
    const seen: Array<{ account: string | undefined; body: string }> = [];
    server = new HttpServer({
      logger: silentLogger(),
      readiness: async () => checks,
      webhook: async (account, _headers, body) => {
        seen.push({ account, body: body.toString() });
        return { status: 202, body: { accepted: true } };
      },
    });
    return { url: await server.listen("127.0.0.1", 0), seen };
  }

  it("answers /healthz, and /readyz with each check, 503 when one fails", async () => {
    const { url } = await start([{ name: "store", ok: true }, { name: "mappings", ok: false, detail: "not loaded: x.yaml" }]);
    const health = await fetch(`${url}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: "ok" }]);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "not ready", failed: ["mappings"], checks: [{ name: "store", ok: true }, { name: "mappings", ok: false, detail: "not loaded: x.yaml" }] });
  });

  it("routes webhooks by account, refuses other methods, unknown paths and oversized bodies", async () => {
    const { url, seen } = await start([]);
    expect((await fetch(`${url}/webhooks/partner-center/acme`, { method: "POST", body: "{}" })).status).toBe(202);
    expect((await fetch(`${url}/webhooks/partner-center`, { method: "POST", body: "{}" })).status).toBe(202);
    expect(seen.map((s) => s.account)).toEqual(["acme", undefined]);
    expect((await fetch(`${url}/webhooks/partner-center/acme`)).status).toBe(405);
    expect((await fetch(`${url}/readyz`, { method: "DELETE" })).status).toBe(405);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    const big = await fetch(`${url}/webhooks/partner-center/acme`, { method: "POST", body: "x".repeat(MAX_WEBHOOK_BYTES + 1) });
    expect(big.status).toBe(413);
    expect(seen).toHaveLength(2);
  });
});

describe("daemon webhook receiver", () => {
  let daemon: Daemon | undefined;
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await daemon?.stop("test");
    await database?.drop();
  });

  it("pulls a referral named by a verified webhook at once, and refuses a forged one", async () => {
    database = await createTestDatabase("sqlite");
    const config = parseConfigText(
      `store:\n  url: ${database.url}\nhttp:\n  port: 0\npartnerCenter:\n  accounts:\n    pc:\n      auth:\n        mode: sandbox\ncrms:\n  crm:\n    type: salesforce\n    auth:\n      mode: sandbox\npairs:\n  - name: p\n    partnerCenter: pc\n    crm: crm\n    mapping: mappings/salesforce.yaml\n`,
      "webhook.yaml",
      { env: {}, cwd: process.cwd() },
    );
    daemon = new Daemon({ config, logger: silentLogger(), clock: new ManualClock("2026-11-24T09:00:00Z") });
    await daemon.start();
    const url = daemon.httpUrl ?? "";
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Array<{ name: string; ok: boolean }> }).checks.map((c) => c.name)).toEqual(["daemon", "store", "clock", "mappings", "pull:p"]);
    // The start-up pull has run; the scheduled one is a minute away.
    await daemon.pullNow();
    const pc = daemon.partnerCenter("pc").sandbox;
    const [fresh] = pc?.generate(1, { acceptedShare: 0, spreadDays: 0 }) ?? [];
    await pc?.deliverWebhooks();
    await daemon.webhooks?.settle();
    const lead = await daemon.store.repos.leads.findByReferralId("pc", fresh?.id ?? "");
    expect(lead).toBeDefined();
    const events = await daemon.store.repos.events.timeline(lead?.id ?? 0);
    expect(events.find((e) => e.kind === "lead-received")?.cause).toBe("webhook");
    expect(daemon.webhooks?.counts).toMatchObject({ accepted: 1, refused: 0 });

    const forged = await fetch(`${url}/webhooks/partner-center/pc`, {
      method: "POST",
      headers: { Authorization: "Signature AAAA", "x-ms-certificate-url": `${pc?.certificateUrl ?? ""}`, "x-ms-signature-algorithm": "rsa-sha256" },
      body: JSON.stringify({ EventName: "referral-created", ResourceUri: `${pc?.baseUrl ?? ""}/referrals/made-up` }),
    });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: "WEBHOOK_SIGNATURE_INVALID" });
    await daemon.webhooks?.settle();
    expect(await daemon.store.repos.leads.findByReferralId("pc", "made-up")).toBeUndefined();
    expect((await fetch(`${url}/webhooks/partner-center/other`, { method: "POST", body: "{}" })).status).toBe(404);
  });
});
