import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempConfig } from "../helpers/cli.js";

interface DoctorJson {
  ok: boolean;
  checks: Array<{ name: string; ok: boolean; detail: string; fix?: string }>;
}

describe("cosell-sync doctor", () => {
  it("checks every system of a sandbox deployment and reports it ready, changing nothing it should not", async () => {
    const { file } = tempConfig("notify:\n  mail:\n    sender: reminders@partner.example\n    auth:\n      mode: sandbox\n");
    const result = await runCli(["doctor", "--config", file]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^✓ config: .*config\.yaml is valid$/);
    expect(lines).toContain("✓ store: sqlite at sqlite:" + file.replace(/config\.yaml$/, "state/cosell.db") + " answers and is empty; the daemon creates the schema when it first starts");
    expect(lines).toContain("✓ pair acme-sf: mapping: mappings/salesforce.yaml loads (Lead)");
    expect(lines).toContain("✓ partner center acme: token and read: sandbox; referrals readable");
    expect(lines.some((line) => line.startsWith("✓ partner center acme: clock: "))).toBe(true);
    expect(lines).toContain("✓ crm acme-sf: token and schema: sandbox; every field the mappings need is there");
    expect(lines.some((line) => line.startsWith("✓ mail: Microsoft Graph token: token issued"))).toBe(true);
    expect(lines.at(-1)).toBe("Ready: every check passed.");
  });

  it("names what the CRM lacks with what to do, and exits 1; --json for scripts", async () => {
    const { dir, file } = tempConfig();
    const mapping = readFileSync("mappings/salesforce.yaml", "utf8").replace("      Cosell_Solution__c:", "      Cosell_Region__c: { from: lead.customer.address.country, owner: none }\n      Cosell_Solution__c:");
    expect(mapping).toContain("Cosell_Region__c");
    writeFileSync(join(dir, "salesforce.yaml"), mapping);
    writeFileSync(file, readFileSync(file, "utf8").replace("mapping: mappings/salesforce.yaml", `mapping: ${resolve(dir, "salesforce.yaml")}`));
    const text = await runCli(["doctor", "--config", file]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/✗ crm acme-sf: token and schema: acme-sf: Lead\.Cosell_Region__c: Create Cosell_Region__c on Lead/);
    expect(text.stdout).toContain("    → create what is listed (`cosell-sync crm check --pair <name> [--fix]`; connectors/salesforce/README.md)");
    expect(text.stdout.trim().split("\n").at(-1)).toBe("Not ready: 1 check(s) failed.");

    const json = await runCli(["doctor", "--config", file, "--json"]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as DoctorJson;
    expect(report.ok).toBe(false);
    expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["crm acme-sf: token and schema"]);
  });

  it("checks that routing's owners exist in the CRM and that the mapping writes the owner", async () => {
    const { dir, file } = tempConfig("    routing:\n      mode: rules\n      rules:\n        - name: US\n          when: { country: US }\n          owner: { user: grace.hopper@partner.example }\n      default: { team: Joint Planning Leads }\n");
    const ready = await runCli(["doctor", "--config", file]);
    expect(ready.stdout).toContain('✓ pair acme-sf: routing owners: rules: user grace.hopper@partner.example → Grace Hopper; team "Joint Planning Leads" → Joint Planning Leads');
    expect(ready.code).toBe(0);

    writeFileSync(file, readFileSync(file, "utf8").replace("grace.hopper@partner.example", "edsger.dijkstra@partner.example").replace("Joint Planning Leads", "Nobody's Queue"));
    const broken = await runCli(["doctor", "--config", file, "--json"]);
    expect(broken.code).toBe(1);
    const routing = (JSON.parse(broken.stdout) as DoctorJson).checks.find((c) => c.name === "pair acme-sf: routing owners");
    expect(routing?.ok).toBe(false);
    expect(routing?.detail).toMatch(/edsger\.dijkstra@partner\.example \(rule 1 \(US\)\) is deactivated/);
    expect(routing?.detail).toMatch(/no queue is named "Nobody's Queue"/);

    const mapping = readFileSync("mappings/salesforce.yaml", "utf8").replace("      OwnerId: sync.owner\n", "");
    writeFileSync(join(dir, "salesforce.yaml"), mapping);
    writeFileSync(file, readFileSync(file, "utf8").replace("mapping: mappings/salesforce.yaml", `mapping: ${resolve(dir, "salesforce.yaml")}`));
    const unmapped = (JSON.parse((await runCli(["doctor", "--config", file, "--json"])).stdout) as DoctorJson).checks.find((c) => c.name === "pair acme-sf: routing owners");
    expect(unmapped?.detail).toMatch(/writes no field from sync\.owner/);
    expect(unmapped?.fix).toMatch(/OwnerId: sync\.owner/);
  });

  it("a config error is reported as one, with exit 78", async () => {
    const { file } = tempConfig("bogus: true\n");
    const result = await runCli(["doctor", "--config", file]);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain("bogus");
  });
});
