import { describe, expect, it } from "vitest";
import { DataverseSandbox } from "../../connectors/dynamics/sandbox/server.js";
import { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import { parseConfigText } from "../../src/config/index.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { silentLogger } from "../../src/log/logger.js";
import { SellerSimulator } from "../../src/sandbox/seller-simulator.js";
import { sellerUiFor } from "../../src/sandbox/seller-ui.js";
import { ManualClock } from "../../src/shared/clock.js";
import { checkAgreement } from "../helpers/agreement.js";
import { createTestDatabase } from "../helpers/stores.js";
import { liftSearchLimit } from "../helpers/two-way.js";

const KINDS = ["salesforce", "hubspot", "dynamics"] as const;
const PAIRS = KINDS.map((kind) => ({ pair: `p-${kind}`, crm: kind, mapping: `mappings/${kind}.yaml` }));
const LEADS = 2_000;

describe("a 2,000-lead run with faults in every sandbox", () => {
  it("ends with Partner Center, the store and each CRM in agreement", { timeout: 300_000 }, async () => {
    const database = await createTestDatabase("sqlite");
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    const config = parseConfigText(
      [
        `store:\n  url: ${database.url}\nhttp:\n  port: 0`,
        // Partner Center publishes no limit; the sandbox answers 429s of its own when pressed.
        "outbox:\n  maxAttempts: 50\n  backoff: { base: 1s, cap: 2m }\n  targets:\n    partner-center: { requestsPerInterval: 200, concurrency: 8 }",
        "partnerCenter:\n  accounts:\n    pc:\n      auth:\n        mode: sandbox",
        `crms:\n${KINDS.map((kind) => `  ${kind}:\n    type: ${kind}\n    auth:\n      mode: sandbox`).join("\n")}`,
        `pairs:\n${PAIRS.map((p) => `  - name: ${p.pair}\n    partnerCenter: pc\n    crm: ${p.crm}\n    mapping: ${p.mapping}\n    debounce: 30s\n    acceptAs: { firstName: Ana, lastName: Seller, email: ana@partner.example }`).join("\n")}`,
      ].join("\n"),
      "agreement.yaml",
      { env: {}, cwd: process.cwd() },
    );
    const daemon = new Daemon({ config, logger: silentLogger(), clock, oneShot: true, serveHttp: true });
    await daemon.start();
    try {
      const pc = daemon.partnerCenter("pc").sandbox;
      if (!pc) throw new Error("no sandbox");
      pc.generate(LEADS - 50, { acceptedShare: 0.3, spreadDays: 3 });
      for (const kind of KINDS) liftSearchLimit(daemon, kind);
      const uis = KINDS.map((kind) => {
        const sandbox = daemon.crmSandbox(kind);
        if (!sandbox) throw new Error(`no ${kind} sandbox`);
        return { sandbox, ui: sellerUiFor(sandbox) };
      });
      const sellers = new SellerSimulator({ crms: uis.map((u) => u.ui), logger: silentLogger(), seed: "agreement", activity: 0.05 });
      const faults = (on: boolean) => {
        Object.assign(pc.faults, on ? { throttleRate: 0.05, errorRate: 0.05, latencyMs: 1, webhookDropRate: 0.3, retryAfterSeconds: 1 } : { throttleRate: 0, errorRate: 0, latencyMs: 0, webhookDropRate: 0 });
        for (const { sandbox } of uis) {
          if (sandbox instanceof SalesforceSandbox) Object.assign(sandbox.faults, { errorRate: on ? 0.05 : 0, latencyMs: on ? 1 : 0 });
          // HubSpot and Dataverse answer bursts with 429s (Salesforce's limit is a daily 403 instead).
          if (sandbox instanceof HubSpotSandbox || sandbox instanceof DataverseSandbox) Object.assign(sandbox.faults, { errorRate: on ? 0.05 : 0, throttleRate: on ? 0.05 : 0, latencyMs: on ? 1 : 0 });
        }
      };
      const errors: string[] = [];
      const attempt = async (what: string, run: () => Promise<unknown>) => {
        try {
          await run();
        } catch (error) {
          errors.push(`${what}: ${(error as Error).message.slice(0, 80)}`);
        }
      };
      const round = async (index: number, simulate: boolean) => {
        clock.advance(10 * 60_000);
        await attempt("webhooks", () => pc.deliverWebhooks());
        await daemon.webhooks?.settle();
        await attempt("pull", () => daemon.pullNow());
        // The reconciliation pass catches what dropped webhooks and failed pages missed.
        if (index % 4 === 3) await attempt("reconcile", () => daemon.reconcileNow());
        if (simulate) await sellers.tick();
        await attempt("poll", () => daemon.pollCrmsNow());
        for (let n = 0; n < 10 && Object.values(await daemon.drainOutbox()).some((ran) => ran > 0); n += 1);
      };

      faults(true);
      for (let i = 0; i < 8; i += 1) await round(i, true);
      faults(false);
      // Quiet: no seller acts, every retry comes due, until a whole round changes nothing.
      for (let i = 0; i < 40; i += 1) {
        await round(i, false);
        const { byState } = await daemon.store.repos.outbox.stats(clock.now());
        const pending = Object.values(byState.pending ?? {}).reduce((a, b) => a + b, 0);
        if (pending === 0 && i >= 3) break;
      }

      const report = await checkAgreement(daemon, "pc", PAIRS);
      const { byState } = await daemon.store.repos.outbox.stats(clock.now());
      expect(report.problems.slice(0, 10)).toEqual([]);
      expect(report.referrals).toBeGreaterThanOrEqual(LEADS);
      expect(report.checkedRecords).toBe(report.referrals * KINDS.length);
      expect(byState.dead ?? {}).toEqual({});
      // The faults really happened, and the sellers really worked leads through them.
      expect(pc.stats.throttled + pc.stats.failed).toBeGreaterThan(0);
      for (const { sandbox } of uis) if (sandbox instanceof HubSpotSandbox || sandbox instanceof DataverseSandbox) expect(sandbox.stats.throttled).toBeGreaterThan(0);
      expect(pc.webhooks.stats.droppedByFault).toBeGreaterThan(0);
      expect(errors.length).toBeGreaterThan(0);
      expect(Object.values(sellers.counts).reduce((a, b) => a + b, 0)).toBeGreaterThan(50);
      const pushed = await daemon.store.repos.events.countByKind(["pc-pushed", "push-refused"]);
      expect(pushed["pc-pushed"]).toBeGreaterThan(20);
    } finally {
      await daemon.stop("test");
      await database.drop();
    }
  });
});
