import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempConfig } from "../helpers/cli.js";

const RULES = [
  "    routing:",
  "      mode: rules",
  "      rules:",
  "        - name: North America",
  "          when: { country: [US, CA] }",
  "          owner: { user: grace.hopper@partner.example }",
  "        - name: UK mid-size",
  "          when: { country: GB, customerSize: [251to1000employees, 1001to5000employees] }",
  "          owner: { user: nora.newhire@partner.example }",
  "      default: { team: Joint Planning Leads }",
  "",
].join("\n");

describe("cosell-sync routing explain", () => {
  it("shows every rule tested against the lead, the one that won, and the owners in order", async () => {
    const { file } = tempConfig(RULES);
    const result = await runCli(["routing", "explain", "--config", file, "--lead", "mappings/samples/joint-planning-lead.json"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("✘ North America");
    expect(result.stdout).toContain("✘ country in [US, CA]: the lead has GB");
    expect(result.stdout).toContain("✔ UK mid-size");
    expect(result.stdout).toContain("Decided by: rule 2 (UK mid-size)");
    expect(result.stdout).toMatch(/1\. user nora\.newhire@partner\.example {2}\(rule 2 \(UK mid-size\)\)\n {2}2\. team "Joint Planning Leads" {2}\(the default\)/);
  });

  it("--resolve asks the CRM: the rule's seller has no user, so the lead goes to the queue (JSON for scripts)", async () => {
    const { file } = tempConfig(RULES);
    const result = await runCli(["routing", "explain", "--config", file, "--lead", "mappings/samples/joint-planning-lead.json", "--resolve", "--json"]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { reason: string; resolved: { owner: { kind: string; name: string }; problems: Array<{ code: string }> } };
    expect(report.reason).toBe("rule 2 (UK mid-size)");
    expect(report.resolved.owner).toMatchObject({ kind: "team", name: "Joint Planning Leads" });
    expect(report.resolved.problems.map((p) => p.code)).toEqual(["ROUTING_OWNER_NOT_FOUND"]);
  });

  it("says what to do when the pair has no routing or the lead file is not JSON", async () => {
    const { file, dir } = tempConfig();
    const none = await runCli(["routing", "explain", "--config", file, "--pair", "acme-sf", "--lead", "mappings/samples/joint-planning-lead.json"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/ROUTING_NOT_CONFIGURED.*Add pairs\[\]\.routing/s);
    const bad = join(dir, "lead.json");
    writeFileSync(bad, "{ not json");
    const unreadable = await runCli(["routing", "explain", "--config", tempConfig(RULES).file, "--lead", bad, "--json"]);
    expect(unreadable.code).toBe(1);
    expect(JSON.parse(unreadable.stdout || unreadable.stderr)).toMatchObject({ error: { code: "CLI_LEAD_FILE_INVALID" } });
  });
});
