import { mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import knex from "knex";
import { describe, expect, it } from "vitest";
import type { DemoSummary } from "../../src/daemon/demo.js";
import { runCli } from "../helpers/cli.js";

describe("npm start (cosell-sync run --demo)", () => {
  // The one test that runs on real time: the demo is a real-time show (fast sandbox days, a seller
  // simulator on timers). It asserts what happened, never how long anything took.
  it("syncs leads to all three CRMs, pushes sellers' changes back, and exits 0 after --duration", { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "cosell-demo-"));
    symlinkSync(resolve("mappings"), join(dir, "mappings"));
    const result = await runCli(["run", "--demo", "--duration", "12s", "--day-every", "1s", "--json", "--config", resolve("config/default.yaml")], { COSELL_HTTP_PORT: "0" }, dir);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as DemoSummary & { ok: boolean };
    expect(summary.ok).toBe(true);
    expect(summary.day).toBeGreaterThanOrEqual(3);
    for (const crm of ["salesforce", "hubspot", "dynamics"]) expect(summary.crms[crm]).toBeGreaterThanOrEqual(50);
    expect(summary.pushes.pushed).toBeGreaterThan(0);
    expect(Object.values(summary.sellers).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(summary.outbox.dead).toBe(0);
    // The summary is taken before the stop: the store after it has no dead job either (a stop that
    // let paced calls burst drew 429s, and reminder tasks died at their deadlines on the fast clock).
    const db = knex({ client: "sqlite3", connection: { filename: join(dir, "data", "demo.db") }, useNullAsDefault: true });
    try {
      const dead = (await db("outbox_jobs").where({ state: "dead" }).select("id", "kind", "target", "last_error_code")) as unknown[];
      expect(dead).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  it("refuses a --duration that is not a duration, with exit 2", async () => {
    const bad = await runCli(["run", "--demo", "--duration", "soon", "--config", resolve("config/default.yaml")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--duration takes a duration like "30s"');
  });
});
