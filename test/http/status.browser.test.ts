import { existsSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/shared/clock.js";
import type { TwoWayRig } from "../helpers/two-way.js";
import { startTwoWay } from "../helpers/two-way.js";

const CHROMIUM = process.env.COSELL_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = "test-artifacts";
// CI installs Chromium (.ci/run) and must run this; a laptop without it skips.
const available = existsSync(CHROMIUM) || process.env.CI === "true";

describe.runIf(available)("status page in headless Chromium, JavaScript off", () => {
  let rig: TwoWayRig;

  beforeAll(async () => {
    rig = await startTwoWay("salesforce", new ManualClock("2026-11-24T09:00:00Z"), { http: "" });
    await rig.pass();
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await rig.close();
  });

  it("loads the status page, follows a lead to its timeline, and saves screenshots", async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const answer = await page.goto(rig.daemon.httpUrl ?? "");
      expect(answer?.status()).toBe(200);
      expect(await page.locator("h1").textContent()).toBe("cosell-sync");
      expect(await page.locator("#pairs + table tbody tr").count()).toBe(1);
      await page.screenshot({ path: `${ARTIFACTS}/status-page.png`, fullPage: true });

      const firstLead = page.locator("#due + table tbody tr a").first();
      const name = (await firstLead.textContent()) ?? "";
      await firstLead.click();
      await page.waitForURL(/\/leads\/\d+$/);
      expect(await page.locator("h1").textContent()).toBe(name);
      const timeline = page.locator("#timeline + table tbody tr");
      expect(await timeline.count()).toBeGreaterThan(1);
      expect(await page.locator("#timeline + table").textContent()).toContain("lead-received");
      await page.screenshot({ path: `${ARTIFACTS}/lead-page.png`, fullPage: true });
      expect(existsSync(`${ARTIFACTS}/status-page.png`) && existsSync(`${ARTIFACTS}/lead-page.png`)).toBe(true);

      await page.locator("a", { hasText: "← status" }).click();
      await page.waitForURL(/\/$/);
    } finally {
      await browser.close();
    }
  });
});
