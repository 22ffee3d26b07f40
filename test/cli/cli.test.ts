import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";
import { defaultIo } from "../../src/cli/io.js";
import { runCli, tempConfig } from "../helpers/cli.js";

const EXAMPLE_ENV = {
  COSELL_PG_PASSWORD: "pg-pass",
  PC_CLIENT_SECRET: "pc-secret",
  PC_REFRESH_TOKEN: "pc-refresh",
  PC_TOKEN_CACHE_KEY: "k".repeat(32),
  SF_JWT_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----",
  HUBSPOT_TOKEN: "pat-na1-xyz",
  DYNAMICS_CLIENT_SECRET: "dyn-secret",
  COSELL_GRAPH_CLIENT_SECRET: "graph-secret",
  COSELL_TEAMS_WORKFLOW_URL: "https://prod-42.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s3cr3t-sig",
};

const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;

describe("cli basics", () => {
  it("prints the version three ways", async () => {
    expect(await runCli(["version"])).toMatchObject({ code: 0, stdout: `${version}\n` });
    expect(await runCli(["--version"])).toMatchObject({ code: 0, stdout: `${version}\n` });
    const json = JSON.parse((await runCli(["version", "--json"])).stdout) as Record<string, string>;
    expect(json).toEqual({ name: "cosell-sync", version, node: process.version });
  });

  it("has --help on every command, exiting 0", async () => {
    const program = buildProgram(defaultIo());
    const paths: string[][] = [[]];
    for (const command of program.commands) {
      paths.push([command.name()]);
      for (const sub of command.commands) paths.push([command.name(), sub.name()]);
    }
    expect(paths).toEqual(expect.arrayContaining([["config", "check"], ["db", "migrate"], ["run"], ["version"]]));
    for (const path of paths) {
      const result = await runCli([...path, "--help"]);
      expect(result.code, path.join(" ")).toBe(0);
      expect(result.stdout).toContain(`Usage: cosell-sync${path.length ? ` ${path.join(" ")}` : ""}`);
    }
  });

  it("exits 2 on an unknown command or option", async () => {
    const unknown = await runCli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect((await runCli(["config", "check", "--nope"])).code).toBe(2);
  });
});

describe("config check", () => {
  it("passes config/example.yaml with its env vars set", async () => {
    const result = await runCli(["config", "check", "--config", "config/example.yaml"], EXAMPLE_ENV);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toContain("config/example.yaml: OK");
    expect(result.stdout).toContain("pair contoso-hubspot: Partner Center contoso <-> hubspot contoso-hubspot");
  });

  it("prints a machine-readable summary with --json, without secrets", async () => {
    const result = await runCli(["config", "check", "--config", "config/example.yaml", "--json"], EXAMPLE_ENV);
    const parsed = JSON.parse(result.stdout) as { ok: boolean; pairs: Array<{ name: string }>; store: string };
    expect(parsed.ok).toBe(true);
    expect(parsed.store).toBe("postgres");
    expect(parsed.pairs.map((p) => p.name)).toEqual(["contoso-salesforce", "contoso-hubspot", "contoso-dynamics"]);
    for (const secret of Object.values(EXAMPLE_ENV)) expect(result.stdout).not.toContain(secret);
  });

  it("names key and line of a broken config and exits 78", async () => {
    const { file } = tempConfig("    schedule:\n      pull: never\n");
    const result = await runCli(["config", "check", "--config", file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/config\.yaml:22:\d+ pairs\[0\]\.schedule\.pull: not a valid cron expression/);
  });

  it("reports the problems as JSON with --json", async () => {
    const { file } = tempConfig("    enabled: maybe\n");
    const result = await runCli(["config", "check", "--config", file, "--json"]);
    expect(result.code).toBe(78);
    const parsed = JSON.parse(result.stdout) as { ok: boolean; error: { code: string; issues: Array<{ path: string; line: number }> } };
    expect(parsed).toMatchObject({ ok: false, error: { code: "CONFIG_INVALID" } });
    expect(parsed.error.issues).toEqual([expect.objectContaining({ path: "pairs[0].enabled", line: 21 })]);
  });

  it("checks each pair's mapping, including that it was written for the pair's CRM", async () => {
    const { file } = tempConfig();
    const { readFileSync: read, writeFileSync: write } = await import("node:fs");
    write(file, read(file, "utf8").replace("mapping: mappings/salesforce.yaml", "mapping: mappings/hubspot.yaml"));
    const mismatch = await runCli(["config", "check", "--config", file]);
    expect(mismatch.code).toBe(78);
    expect(mismatch.stderr).toContain('mappings/hubspot.yaml is a hubspot mapping, but CRM "acme-sf" is salesforce');
    expect((await runCli(["config", "check", "--config", file, "--no-mappings"])).code).toBe(0);
  });

  it("reads the config path from COSELL_CONFIG", async () => {
    const { file } = tempConfig();
    expect((await runCli(["config", "check"], { COSELL_CONFIG: file })).code).toBe(0);
  });
});

describe("db migrate", () => {
  it("creates the store, then reports it up to date", async () => {
    const { file, dbFile } = tempConfig();
    const first = await runCli(["db", "migrate", "--config", file]);
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout).toContain("Applied 11 migration(s)");
    expect(existsSync(dbFile)).toBe(true);
    const second = await runCli(["db", "migrate", "--config", file, "--json"]);
    expect(JSON.parse(second.stdout)).toEqual({ ok: true, store: "sqlite", applied: [], current: ["001-initial", "002-outbox", "003-crm-link-sync-state", "004-local-closes", "005-reminders", "006-sync-runs", "007-schedule-leases", "008-outbox-lease-order", "009-crm-links-by-lead", "010-crm-links-pushed-modstamp", "011-lean-indexes"] });
  });

  it("exits 69 when the store cannot be reached", async () => {
    const { file } = tempConfig();
    const broken = `${readFileSync(file, "utf8").replace(/url: sqlite:.*/, "url: postgres://u:${PGPASS}@127.0.0.1:1/x")}`;
    const { writeFileSync } = await import("node:fs");
    writeFileSync(file, broken);
    const result = await runCli(["db", "migrate", "--config", file], { PGPASS: "very-secret" });
    expect(result.code).toBe(69);
    expect(result.stderr).toContain("STORE_UNAVAILABLE");
    expect(result.stderr).not.toContain("very-secret");
  });
});
