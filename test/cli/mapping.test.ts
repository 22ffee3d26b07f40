import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mappingJsonSchema } from "../../src/mapping/json-schema.js";
import { adaptReferral } from "../../src/partner-center/adapter.js";
import { Store } from "../../src/store/index.js";
import { leadInputFrom } from "../../src/sync/lead-record.js";
import { generateLeads } from "../../src/sandbox/partner-center/generator.js";
import { runCli, tempConfig } from "../helpers/cli.js";

const SAMPLE = "mappings/samples/joint-planning-lead.json";

describe("cosell-sync mapping", () => {
  it("validate: OK lines for good files; exit 78 with file:line for a bad one; --json for scripts", async () => {
    const good = await runCli(["mapping", "validate", "mappings/salesforce.yaml", "mappings/hubspot.yaml"]);
    expect(good).toMatchObject({ code: 0 });
    expect(good.stdout).toContain("mappings/hubspot.yaml: OK (hubspot, companies + contacts + leads)");

    const dir = mkdtempSync(join(tmpdir(), "cosell-map-"));
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, readFileSync("mappings/salesforce.yaml", "utf8").replace("from: lead.customer.name,", "from: lead.customer.nmae,"));
    const refused = await runCli(["mapping", "validate", "mappings/salesforce.yaml", bad]);
    expect(refused.code).toBe(78);
    expect(refused.stderr).toMatch(/bad\.yaml:\d+:\d+ objects\.lead\.fields\.Company\.from: "lead\.customer\.nmae": lead\.customer has no "nmae"; did you mean "name"\?/);
    expect(refused.stderr.match(/MAPPING_INVALID: One or more/)).toBeNull();

    const json = JSON.parse((await runCli(["mapping", "validate", bad, "--json"])).stdout) as { ok: boolean; files: Array<{ ok: boolean; error: { issues: unknown[] } }> };
    expect(json.ok).toBe(false);
    expect(json.files[0]?.error.issues).toHaveLength(1);
  });

  it("preview: the exact payload and the rule behind each field; --update leaves out what the CRM owns", async () => {
    const created = await runCli(["mapping", "preview", "mappings/salesforce.yaml", "--lead", SAMPLE, "--now", "2026-11-24T10:00:00Z"]);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("Lead (lead) upserted on Cosell_Referral_Id__c = 5f1c2e7a-9b3d-4c8e-a1f2-7d6e5c4b3a21");
    expect(created.stdout).toMatch(/Company\s+= "Fabrikam Ltd"\s+← lead\.customer\.name → truncate \(required\)/);
    expect(created.stdout).toMatch(/Cosell_Accept_By__c\s+= "2026-12-04T09:15:00.000Z"/);

    const updated = JSON.parse((await runCli(["mapping", "preview", "mappings/salesforce.yaml", "--lead", SAMPLE, "--update", "--json"])).stdout) as { records: Array<{ fields: Record<string, unknown> }> };
    const fields = Object.keys(updated.records[0]?.fields ?? {});
    expect(fields).toContain("Company");
    expect(fields).not.toContain("LeadSource");
    expect(fields).not.toContain("Description");
  });

  it("preview: a missing lead file is a clear error", async () => {
    const result = await runCli(["mapping", "preview", "mappings/salesforce.yaml", "--lead", "nope.json"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("CLI_LEAD_FILE_UNREADABLE");
  });

  it("diff: what an edit would change on the stored leads, before it is applied", async () => {
    const { file, dbFile } = tempConfig();
    const store = await Store.open({ url: `sqlite:${dbFile}` });
    await store.migrate();
    const now = new Date();
    for (const raw of generateLeads({ count: 20, seed: "diff", now })) await store.repos.leads.save(leadInputFrom("acme", adaptReferral(raw)), now);
    await store.close();

    const dir = mkdtempSync(join(tmpdir(), "cosell-map-"));
    const edited = join(dir, "edited.yaml");
    writeFileSync(edited, readFileSync("mappings/salesforce.yaml", "utf8").replace("Company: { from: lead.customer.name, transform: { truncate: 255 }, required: true }", "Company: { from: lead.customer.name, transform: [{ truncate: 255 }, { case: upper }], required: true }"));
    const result = await runCli(["mapping", "diff", "mappings/salesforce.yaml", edited, "--config", file, "--leads", "15", "--json"]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { compared: number; leadsChanged: number; fields: Array<{ field: string; changed: number; examples: Array<{ before: unknown; after: unknown }> }> };
    expect(report).toMatchObject({ compared: 15, leadsChanged: 15 });
    expect(report.fields.map((f) => f.field)).toEqual(["Lead.Company"]);
    const example = report.fields[0]?.examples[0];
    expect(String(example?.after)).toBe(String(example?.before).toUpperCase());
  });

  it("schema: prints the JSON Schema that mappings/schema.json holds", async () => {
    expect(JSON.parse((await runCli(["mapping", "schema"])).stdout)).toEqual(mappingJsonSchema());
  });
});
