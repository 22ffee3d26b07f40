import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/index.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { ManualClock } from "../../src/shared/clock.js";
import { captureLogger } from "../helpers/log-capture.js";
import { createTestDatabase } from "../helpers/stores.js";

function configFor(url: string) {
  return parseConfigText(
    `store:\n  url: ${url}\npartnerCenter:\n  accounts:\n    a:\n      auth:\n        mode: sandbox\ncrms:\n  c:\n    type: hubspot\n    auth:\n      mode: sandbox\npairs:\n  - name: p\n    partnerCenter: a\n    crm: c\n    mapping: mappings/hubspot.yaml\n`,
    "test.yaml",
    { env: {}, cwd: process.cwd() },
  );
}

describe("daemon", () => {
  it("starts once, reports its uptime from the injected clock, and stops idempotently", async () => {
    const database = await createTestDatabase("sqlite");
    const clock = new ManualClock("2026-06-01T00:00:00Z");
    const { logger, lines } = captureLogger();
    const daemon = new Daemon({ config: configFor(database.url), logger, clock });
    await daemon.start();
    expect(daemon.state).toBe("running");
    await expect(daemon.store.repos.leads.countOpen()).resolves.toBe(0);
    await expect(daemon.start()).rejects.toMatchObject({ code: "DAEMON_ALREADY_STARTED" });

    clock.advance(90_000);
    await daemon.stop("test");
    await daemon.stop("again");
    expect(daemon.state).toBe("stopped");
    expect(() => daemon.store).toThrow(/not running/);
    const stopped = lines().filter((line) => line.msg === "cosell-sync stopped");
    expect(stopped).toEqual([expect.objectContaining({ reason: "test", uptimeMs: 90_000 })]);
    await database.drop();
  });

  it("pulls the Partner Center sandbox and lands every lead in the CRM through the outbox", async () => {
    const database = await createTestDatabase("sqlite");
    const { logger } = captureLogger();
    // One-shot: the test drives the passes itself instead of waiting on the background worker.
    const daemon = new Daemon({ config: configFor(database.url), logger, oneShot: true });
    await daemon.start();
    try {
      const reports = await daemon.pullNow("a");
      const referrals = daemon.partnerCenter("a").sandbox?.referrals.all() ?? [];
      expect(referrals.length).toBeGreaterThan(0);
      expect(reports.get("a")?.cursor).toBeDefined();
      const kept = await daemon.store.repos.leads.countOpen();
      expect(kept).toBeGreaterThan(0);
      // Each lead written once, and its new record's id written back to Partner Center once.
      expect(await daemon.drainOutbox()).toEqual({ "crm:c": kept, "partner-center": kept });
      const { byState } = await daemon.store.repos.outbox.stats(new Date());
      expect((byState.pending?.["crm:c"] ?? 0) + (byState.running?.["crm:c"] ?? 0)).toBe(0);
      expect(byState.done?.["crm:c"]).toBe(kept);
      const lead = await daemon.store.repos.leads.findByReferralId("a", referrals.find((r) => r.referralProgram === "JointPlanning" && r.direction === "Incoming")?.id ?? "");
      const links = await daemon.store.repos.crmLinks.forLead(lead?.id ?? 0);
      expect(links.map((l) => `${l.crmObject}:${l.status}`).sort()).toEqual(["company:confirmed", "contact:confirmed", "lead:confirmed"]);
      // A pull with nothing new queues nothing more.
      const again = await daemon.pullNow();
      expect(again.get("a")).toMatchObject({ created: 0, updated: 0 });
      expect((await daemon.store.repos.outbox.stats(new Date())).byState.pending?.["crm:c"] ?? 0).toBe(0);
    } finally {
      await daemon.stop("test");
      await database.drop();
    }
  });

  it("refuses to start on a broken mapping, before opening the store", async () => {
    const database = await createTestDatabase("sqlite");
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "cosell-daemon-"));
    writeFileSync(join(dir, "bad.yaml"), "version: 1\ncrm: hubspot\nobjects: {}\n");
    const config = { ...configFor(database.url), pairs: configFor(database.url).pairs.map((p) => ({ ...p, mapping: join(dir, "bad.yaml") })) };
    const { logger } = captureLogger();
    const daemon = new Daemon({ config, logger });
    await expect(daemon.start()).rejects.toMatchObject({ code: "MAPPING_INVALID", message: expect.stringContaining("define at least one object") });
    expect(daemon.state).toBe("stopped");
    await database.drop();
  });

  it("a store it cannot open fails start and leaves the daemon stopped", async () => {
    const { logger } = captureLogger();
    const daemon = new Daemon({ config: configFor("postgres://u@127.0.0.1:1/none"), logger });
    await expect(daemon.start()).rejects.toMatchObject({ code: "STORE_UNAVAILABLE" });
    expect(daemon.state).toBe("stopped");
  });
});
