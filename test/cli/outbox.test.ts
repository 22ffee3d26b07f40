import { beforeEach, describe, expect, it } from "vitest";
import { Store } from "../../src/store/index.js";
import { runCli, tempConfig } from "../helpers/cli.js";

let file = "";
let ids: number[] = [];

/** Three dead jobs (two of one code) and one pending, written as the daemon would. */
beforeEach(async () => {
  const config = tempConfig();
  file = config.file;
  const store = await Store.open({ url: `sqlite:${config.dbFile}` });
  await store.migrate();
  const now = new Date();
  ids = [];
  for (const [code, target] of [
    ["CRM_FIELD_MISSING", "crm:acme-sf"],
    ["CRM_FIELD_MISSING", "crm:acme-sf"],
    ["PC_INVALID_REQUEST", "partner-center"],
  ] as const) {
    const { id } = await store.transaction((repos) => repos.outbox.enqueue({ target, kind: "k", payload: { code }, coalesceKey: null, maxAttempts: 3 }, now));
    await store.transaction(async (repos) => {
      await repos.outbox.lease({ owner: "w", target, limit: 10, leaseMs: 1000, now });
      await repos.outbox.settleFailure(id, "w", { outcome: "dead", code, message: `${code} happened` }, now);
    });
    ids.push(id);
  }
  await store.transaction((repos) => repos.outbox.enqueue({ target: "crm:acme-sf", kind: "k", payload: {}, coalesceKey: null, maxAttempts: 3 }, now));
  await store.close();
});

describe("cosell-sync outbox", () => {
  it("lists the failure index, filtered by code or target", async () => {
    const all = await runCli(["outbox", "list", "--config", file, "--json"]);
    expect(JSON.parse(all.stdout).jobs.map((j: { id: number }) => j.id)).toEqual(ids);
    const byCode = await runCli(["outbox", "list", "--config", file, "--code", "PC_INVALID_REQUEST"]);
    expect(byCode.stdout).toMatch(new RegExp(`^\\s*${ids[2]}\\s+dead\\s+partner-center.*PC_INVALID_REQUEST`));
    const pending = await runCli(["outbox", "list", "--config", file, "--state", "pending", "--json"]);
    expect(JSON.parse(pending.stdout).jobs).toHaveLength(1);
  });

  it("shows one job with its error, and says so when the id is unknown", async () => {
    const shown = await runCli(["outbox", "show", String(ids[0]), "--config", file]);
    expect(shown.stdout).toContain("last error: CRM_FIELD_MISSING happened");
    const missing = await runCli(["outbox", "show", "999", "--config", file]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("OUTBOX_JOB_NOT_FOUND");
    expect((await runCli(["outbox", "show", "abc", "--config", file])).code).toBe(2);
  });

  it("redrives one code, retries and drops single jobs, and reports stats", async () => {
    const redriven = await runCli(["outbox", "redrive", "--code", "CRM_FIELD_MISSING", "--config", file, "--json"]);
    expect(JSON.parse(redriven.stdout)).toEqual({ ok: true, code: "CRM_FIELD_MISSING", redriven: 2 });
    expect((await runCli(["outbox", "retry", String(ids[2]), "--config", file])).stdout).toBe(`Job ${ids[2]} is due again.\n`);
    expect((await runCli(["outbox", "retry", String(ids[2]), "--config", file])).code).toBe(1);
    expect((await runCli(["outbox", "drop", String(ids[0]), "--config", file])).code).toBe(0);
    const stats = JSON.parse((await runCli(["outbox", "stats", "--config", file, "--json"])).stdout) as { byState: Record<string, Record<string, number>>; deadByCode: Record<string, number> };
    expect(stats.byState).toEqual({ pending: { "crm:acme-sf": 2, "partner-center": 1 }, dropped: { "crm:acme-sf": 1 } });
    expect(stats.deadByCode).toEqual({});
  });
});
