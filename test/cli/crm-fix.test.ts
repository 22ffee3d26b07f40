import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { runCli } from "../helpers/cli.js";

let portal: HubSpotSandbox;
let file = "";

beforeAll(async () => {
  portal = await HubSpotSandbox.start({ withCosellProperties: false });
  const dir = mkdtempSync(join(tmpdir(), "cosell-fix-"));
  file = join(dir, "config.yaml");
  writeFileSync(
    file,
    `store:\n  url: sqlite:${join(dir, "s.db")}\npartnerCenter:\n  accounts:\n    a:\n      auth:\n        mode: sandbox\ncrms:\n  hs:\n    type: hubspot\n    basePath: ${portal.url}\n    appId: "${portal.appId}"\n    auth:\n      mode: private-app\n      accessToken: \${HS_TOKEN}\npairs:\n  - name: p\n    partnerCenter: a\n    crm: hs\n    mapping: mappings/hubspot.yaml\n`,
  );
});

afterAll(async () => {
  await portal.close();
});

describe("cosell-sync crm check --fix (HubSpot)", () => {
  it("lists what is missing, creates it after showing the plan, and a second run finds nothing to do", async () => {
    const env = { HS_TOKEN: portal.appToken };
    const check = await runCli(["crm", "check", "--pair", "p", "--config", file], env);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain("leads.cosell_referral_id: Create the property cosell_referral_id on leads");

    const fixed = await runCli(["crm", "check", "--pair", "p", "--config", file, "--fix"], env);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toMatch(/^p: will create in hs:\n {2}companies\.cosell_customer_key\n/);
    expect(fixed.stdout).toContain("Created 22: companies group Co-sell, companies.cosell_customer_key, leads group Co-sell, leads.cosell_referral_id");
    expect(portal.properties("leads").find((p) => p.name === "cosell_referral_id")).toMatchObject({ hasUniqueValue: true });
    expect(portal.properties("leads").find((p) => p.name === "cosell_status")?.options).toContain("closed_in_error");

    const again = await runCli(["crm", "check", "--pair", "p", "--config", file, "--fix", "--json"], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, problems: [], created: [] });
  });
});
