import { describe, expect, it } from "vitest";
import { runCli, tempConfig } from "../helpers/cli.js";

interface Summary {
  ok: boolean;
  pulled: Record<string, { received: number; created: number; updated: number }>;
  written: Record<string, number>;
  waiting: Record<string, number>;
  sellerChanges: Record<string, { queued: number }>;
}

describe("cosell-sync sync --once", () => {
  it("pulls the sandbox account, writes every lead to the CRM, prints a JSON summary and exits 0", async () => {
    const { file } = tempConfig();
    const first = await runCli(["sync", "--once", "--config", file, "--json"]);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout) as Summary;
    expect(summary.ok).toBe(true);
    const created = summary.pulled.acme?.created ?? 0;
    expect(created).toBeGreaterThan(0);
    // Every lead written once, and each new record's id written back to Partner Center once.
    expect(summary.written).toEqual({ "crm:acme-sf": created, "partner-center": created });
    expect(summary.waiting).toEqual({ "crm:acme-sf": 0, "partner-center": 0 });
    // Logs went to stderr; stdout is the summary alone.
    expect(first.stderr).toContain('"msg":"pull finished"');
    expect(summary.sellerChanges).toEqual({ "acme-sf": expect.objectContaining({ queued: 0 }) });

    const leads = JSON.parse((await runCli(["leads", "list", "--config", file, "--json", "--limit", "500"])).stdout) as { leads: unknown[] };
    expect(leads.leads).toHaveLength(created);
  });

  it("prints a line summary, and refuses an unknown pair with exit 2", async () => {
    const { file } = tempConfig();
    const text = await runCli(["sync", "--once", "--pair", "acme-sf", "--config", file]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^pulled acme: \d+ read, \d+ new, 0 changed/m);
    expect(text.stdout).toMatch(/^crm:acme-sf: \d+ jobs run, 0 waiting to retry, 0 dead$/m);
    expect(text.stdout).toMatch(/^seller changes acme-sf: 0 pushed/m);
    const unknown = await runCli(["sync", "--once", "--pair", "nope", "--config", file]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No enabled pair "nope"');
  });
});
