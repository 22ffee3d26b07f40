import { afterEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/index.js";
import { CosellError } from "../../src/shared/errors.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { TwoWayRig } from "../helpers/two-way.js";
import { startTwoWay } from "../helpers/two-way.js";

const MINUTE = 60_000;

async function get(rig: TwoWayRig, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; text: string; headers: Headers }> {
  const res = await fetch(`${rig.daemon.httpUrl ?? ""}${path}`, { headers });
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text(), headers: res.headers };
}

/** One Prometheus sample's value, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? "").split(",");
    if (wanted.every((label) => have.includes(label))) return Number(match[3]);
  }
  return undefined;
}

describe("status page, metrics and readiness", () => {
  let rig: TwoWayRig | undefined;

  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it("serves the status page with each pair, the leads due soonest linked to their timelines, and the failure index", async () => {
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay("salesforce", clock, { http: "" });
    await rig.pass();
    const page = await get(rig, "/");
    expect(page.status).toBe(200);
    expect(page.type).toContain("text/html");
    expect(page.text).toContain("<title>cosell-sync status</title>");
    expect(page.text).toMatch(/<b>p<\/b><br><span class="muted">pc → crm<\/span>/);
    const due = await rig.daemon.store.repos.leads.listDueBy(new Date(clock.now().getTime() + 7 * 86_400_000), 25);
    expect(due.length).toBeGreaterThan(0);
    for (const { lead } of due.slice(0, 3)) expect(page.text).toContain(`<a href="/leads/${lead.id}">`);
    expect(page.text).toContain("No failed jobs.");

    const [first] = due;
    const leadPage = await get(rig, `/leads/${first?.lead.id ?? 0}`);
    expect(leadPage.status).toBe(200);
    expect(leadPage.text).toContain(`<code>${first?.lead.referralId ?? "-"}</code>`);
    expect(leadPage.text).toContain("<code>lead-received</code>");
    expect(leadPage.text).toContain("<code>crm-upserted</code>");
    expect(leadPage.text).toMatch(/\/lightning\/r\/Lead\/00Q\w+\/view/);
    expect((await get(rig, "/leads/999999")).status).toBe(404);
  });

  it("exposes Prometheus metrics that match the store", async () => {
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay("salesforce", clock, { http: "" });
    await rig.pass();
    const metrics = await get(rig, "/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.type).toContain("text/plain");
    const byState = await rig.daemon.store.repos.leads.countByState("pc");
    for (const [state, count] of Object.entries(byState)) expect(sample(metrics.text, "cosell_leads", { pair: "p", state })).toBe(count);
    expect(sample(metrics.text, "cosell_outbox_jobs_total", { target: "crm:crm", kind: "crm-upsert", outcome: "done" })).toBeGreaterThan(0);
    expect(sample(metrics.text, "cosell_outbox_jobs", { target: "crm:crm", state: "done" })).toBeGreaterThan(0);
    expect(sample(metrics.text, "cosell_api_requests_total", { target: "partner-center:pc" })).toBeGreaterThan(0);
    expect(sample(metrics.text, "cosell_sync_lag_seconds", { pair: "p" })).toBe(0);
    expect(sample(metrics.text, "cosell_last_pull_success_timestamp_seconds", { pair: "p" })).toBe(clock.now().getTime() / 1000);
    expect(sample(metrics.text, "cosell_deadlines", { window: "7d" })).toBe(await rig.daemon.store.repos.leads.countDueWithin(clock.now(), new Date(clock.now().getTime() + 7 * 86_400_000)));
    expect(sample(metrics.text, "cosell_sync_runs_total", { kind: "pull", name: "pc", outcome: "ok" })).toBeGreaterThan(0);
    expect(metrics.text).toContain("cosell_process_resident_memory_bytes");

    // A forged webhook is refused and counted as such.
    const forged = await fetch(`${rig.daemon.httpUrl ?? ""}/webhooks/partner-center/pc`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ EventName: "referral-created", ResourceUri: "x" }) });
    expect(forged.status).toBe(401);
    const after = await get(rig, "/metrics");
    expect(sample(after.text, "cosell_webhooks_total", { account: "pc", outcome: "refused" })).toBe(1);

    // A change waiting to be written shows as lag.
    const status = await get(rig, "/status.json");
    const json = JSON.parse(status.text) as { pairs: Array<{ name: string; lagMs: number }>; deadlines: { dueWithin7d: number } };
    expect(json.pairs[0]).toMatchObject({ name: "p", lagMs: 0 });
    expect(json.deadlines.dueWithin7d).toBe(sample(metrics.text, "cosell_deadlines", { window: "7d" }));
  });

  it("/readyz names the pair whose pulls stopped, and recovers when a pull succeeds", async () => {
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay("salesforce", clock, { http: "" });
    await rig.pass();
    const ready = await get(rig, "/readyz");
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text).checks).toContainEqual({ name: "pull:p", ok: true, detail: "last successful pull 0 s ago (limit 180 s)" });

    clock.advance(4 * MINUTE);
    const stale = await get(rig, "/readyz");
    expect(stale.status).toBe(503);
    const body = JSON.parse(stale.text) as { status: string; failed: string[]; checks: Array<{ name: string; detail?: string }> };
    expect(body.failed).toEqual(["pull:p"]);
    expect(body.checks.find((c) => c.name === "pull:p")?.detail).toBe("last successful pull 240 s ago (limit 180 s)");

    rig.pc.faults.errorRate = 1;
    await expect(rig.daemon.pullNow()).rejects.toBeInstanceOf(CosellError);
    const failing = JSON.parse((await get(rig, "/readyz")).text) as { checks: Array<{ name: string; detail?: string }> };
    expect(failing.checks.find((c) => c.name === "pull:p")?.detail).toMatch(/; last failure PC_\w+: /);
    rig.pc.faults.errorRate = 0;
    await rig.daemon.pullNow();
    expect((await get(rig, "/readyz")).status).toBe(200);
  });

  it("keeps the status page and metrics behind bearer auth when configured; probes stay open", async () => {
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay("salesforce", clock, { http: "  auth:\n    mode: bearer\n    token: ${STATUS_TOKEN}", env: { STATUS_TOKEN: "s3cret-token" } });
    for (const path of ["/", "/metrics", "/status.json", "/leads/1"]) {
      const refused = await get(rig, path);
      expect([path, refused.status, refused.headers.get("www-authenticate")]).toEqual([path, 401, 'Bearer realm="cosell-sync"']);
      expect((await get(rig, path, { Authorization: "Bearer wrong" })).status).toBe(401);
    }
    expect((await get(rig, "/", { Authorization: "Bearer s3cret-token" })).status).toBe(200);
    expect((await get(rig, "/metrics", { Authorization: "Bearer s3cret-token" })).status).toBe(200);
    expect((await get(rig, "/healthz")).status).toBe(200);
    expect([200, 503]).toContain((await get(rig, "/readyz")).status);
  });

  it("takes basic auth too", async () => {
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay("salesforce", clock, { http: "  auth:\n    mode: basic\n    username: ops\n    password: ${STATUS_PASSWORD}", env: { STATUS_PASSWORD: "pa:ss" } });
    const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
    const refused = await get(rig, "/");
    expect([refused.status, refused.headers.get("www-authenticate")]).toEqual([401, 'Basic realm="cosell-sync", charset="UTF-8"']);
    expect((await get(rig, "/", basic("ops", "wrong"))).status).toBe(401);
    expect((await get(rig, "/", basic("other", "pa:ss"))).status).toBe(401);
    expect((await get(rig, "/", basic("ops", "pa:ss"))).status).toBe(200);
  });

  it("refuses a config that serves the status page beyond loopback without auth", () => {
    const text = `http:\n  host: 0.0.0.0\npartnerCenter:\n  accounts:\n    a:\n      auth:\n        mode: sandbox\ncrms:\n  c:\n    type: salesforce\n    auth:\n      mode: sandbox\npairs:\n  - name: p\n    partnerCenter: a\n    crm: c\n    mapping: mappings/salesforce.yaml\n`;
    let error: unknown;
    try {
      parseConfigText(text, "t.yaml", { env: {}, cwd: process.cwd() });
    } catch (caught) {
      error = caught;
    }
    expect((error as CosellError).details.issues).toContainEqual(expect.objectContaining({ path: "http.auth", message: expect.stringContaining("http.host 0.0.0.0 serves the status page") }));
  });
});
