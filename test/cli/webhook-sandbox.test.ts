import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SpawnedCli } from "../helpers/cli.js";
import { runCli, spawnCli, tempConfig } from "../helpers/cli.js";

interface SandboxSettings {
  baseUrl: string;
  webhookApiUrl: string;
  authority: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  caFile: string;
  leads: number;
}

let child: SpawnedCli;
let settings: SandboxSettings;
let configFile = "";

beforeAll(async () => {
  child = spawnCli(["sandbox", "partner-center", "--leads", "7", "--seed", "cli", "--json"]);
  await child.waitFor("\n");
  settings = JSON.parse((await child.firstLine()).trim()) as SandboxSettings;
  const { file } = tempConfig();
  configFile = file;
  writeFileSync(
    file,
    [
      "partnerCenter:",
      "  accounts:",
      "    sandbox:",
      `      baseUrl: ${settings.baseUrl}`,
      `      webhookApiUrl: ${settings.webhookApiUrl}`,
      "      auth:",
      "        mode: client-credentials",
      `        tenantId: ${settings.tenantId}`,
      `        clientId: ${settings.clientId}`,
      "        clientSecret: ${PC_SANDBOX_SECRET}",
      `        authority: ${settings.authority}`,
      `        caFile: ${settings.caFile}`,
      "      webhook:",
      "        publicUrl: https://cosell.partner.example/webhooks/partner-center",
      "crms:",
      "  c:",
      "    type: hubspot",
      "    auth:",
      "      mode: sandbox",
      "pairs:",
      "  - name: p",
      "    partnerCenter: sandbox",
      "    crm: c",
      "    mapping: m.yaml",
      "",
    ].join("\n"),
  );
});

afterAll(async () => {
  child.signal("SIGINT");
  const result = await child.exited;
  expect(result.code).toBe(0);
});

const env = () => ({ PC_SANDBOX_SECRET: settings.clientSecret });

describe("cosell-sync sandbox partner-center + webhook status|register", () => {
  it("starts a sandbox with the asked-for leads and prints its settings", () => {
    expect(settings.leads).toBe(7);
    expect(settings.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\.0\/engagements$/);
    expect(settings.authority).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("shows no registration, registers, and then reports it", async () => {
    const before = await runCli(["webhook", "status", "--config", configFile, "--json"], env());
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ ok: true, account: "sandbox", registration: null, ours: false });

    const register = await runCli(["webhook", "register", "--config", configFile], env());
    expect(register).toMatchObject({ code: 0 });
    expect(register.stdout).toContain("sandbox: registered https://cosell.partner.example/webhooks/partner-center");

    const after = await runCli(["webhook", "status", "--config", configFile, "--json"], env());
    expect(JSON.parse(after.stdout)).toMatchObject({ registration: { webhookUrl: "https://cosell.partner.example/webhooks/partner-center" }, ours: true });
  });

  it("shows another tool's registration and leaves it alone without --force", async () => {
    await runCli(["webhook", "register", "--config", configFile, "--url", "https://other-tool.example/hook", "--force"], env());
    const refused = await runCli(["webhook", "register", "--config", configFile], env());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("WEBHOOK_REGISTERED_ELSEWHERE");
    expect(refused.stderr).toContain("https://other-tool.example/hook");
    const forced = await runCli(["webhook", "register", "--config", configFile, "--force", "--json"], env());
    expect(JSON.parse(forced.stdout)).toMatchObject({ action: "replaced", previous: { webhookUrl: "https://other-tool.example/hook" } });
  });

  it("explains why an in-process sandbox account cannot be reached from the CLI", async () => {
    const { file } = tempConfig();
    const result = await runCli(["webhook", "status", "--config", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("PC_SANDBOX_IN_PROCESS");
  });
});
