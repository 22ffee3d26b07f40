import { beforeAll, describe, expect, it } from "vitest";
import { createSandboxPki } from "../../src/auth/sandbox/pki.js";
import { silentLogger } from "../../src/log/logger.js";
import { ManualClock } from "../../src/shared/clock.js";
import { Store } from "../../src/store/index.js";
import { pullChangedLeads } from "../../src/sync/pull-leads.js";
import { runCli, tempConfig } from "../helpers/cli.js";
import { startSandboxWithClient } from "../helpers/pc-sandbox.js";

let file = "";
let referralId = "";
let newLeads = 0;

/** Twelve sandbox leads pulled into the CLI's store, one of them written to a CRM. */
beforeAll(async () => {
  const config = tempConfig();
  file = config.file;
  const clock = new ManualClock("2026-11-24T10:00:00Z");
  const { sandbox, client } = await startSandboxWithClient({ clock, pki: createSandboxPki(), seed: "leads-cli", leads: 12 });
  const store = await Store.open({ url: `sqlite:${config.dbFile}` });
  await store.migrate();
  await pullChangedLeads({ account: "acme", client, store, clock, logger: silentLogger() });
  const [lead] = await store.repos.leads.list({ limit: 1 });
  referralId = lead?.referralId ?? "";
  newLeads = (await store.repos.leads.countByState("acme")).new ?? 0;
  await store.transaction(async (repos) => {
    const link = await repos.crmLinks.reserve(lead?.id ?? 0, "acme-sf", "lead", clock.now());
    await repos.crmLinks.confirmPush(link.id, "00Q000000000001AAA", "hash", clock.now());
    await repos.events.append({ leadId: lead?.id ?? 0, pair: "acme-sf", at: clock.now(), side: "crm", kind: "crm-upserted", cause: "Lead written" });
  });
  await store.close();
  await sandbox.close();
});

describe("cosell-sync leads", () => {
  it("lists leads as JSON and as lines, filtered by state", async () => {
    const all = JSON.parse((await runCli(["leads", "list", "--config", file, "--json"])).stdout) as { leads: Array<{ referralId: string; raw?: unknown }> };
    expect(all.leads).toHaveLength(12);
    expect(all.leads[0]?.referralId).toBe(referralId);
    expect(all.leads[0]).not.toHaveProperty("raw");
    const fresh = JSON.parse((await runCli(["leads", "list", "--state", "new", "--config", file, "--json"])).stdout) as { leads: unknown[] };
    expect(fresh.leads).toHaveLength(newLeads);
    const text = await runCli(["leads", "list", "--limit", "2", "--config", file]);
    expect(text.stdout.trim().split("\n")).toHaveLength(2);
    expect(text.stdout).toContain(referralId);
  });

  it("shows one lead by referral id with its CRM record and timeline", async () => {
    const shown = await runCli(["leads", "show", referralId, "--config", file]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/acme-sf\s+lead\s+00Q000000000001AAA\s+confirmed/);
    expect(shown.stdout).toMatch(/crm-upserted[\s\S]*lead-received/);
    const json = JSON.parse((await runCli(["leads", "show", referralId, "--config", file, "--json"])).stdout) as { lead: { referralId: string }; links: unknown[]; timeline: Array<{ kind: string }> };
    expect(json.lead.referralId).toBe(referralId);
    expect(json.timeline.map((e) => e.kind)).toEqual(["crm-upserted", "lead-received"]);
  });

  it("says what to do with an unknown lead or a bad state", async () => {
    const missing = await runCli(["leads", "show", "no-such-referral", "--config", file]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("LEAD_NOT_FOUND");
    expect(missing.stderr).toContain("cosell-sync leads list");
    const bad = await runCli(["leads", "list", "--state", "open", "--config", file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--state must be one of");
  });
});
