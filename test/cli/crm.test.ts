import { describe, expect, it } from "vitest";
import { parseMappingText } from "../../src/mapping/load.js";
import { readFileSync } from "node:fs";
import { runCli, tempConfig } from "../helpers/cli.js";

describe("cosell-sync crm check", () => {
  it("finds every field of the shipped Salesforce mapping in the Salesforce sandbox org", async () => {
    const { file } = tempConfig();
    const result = await runCli(["crm", "check", "--pair", "acme-sf", "--config", file, "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ pair: "acme-sf", crm: "acme-sf", ok: true, problems: [] });
  });

  it("names an unknown pair", async () => {
    const { file } = tempConfig();
    const result = await runCli(["crm", "check", "--pair", "nope", "--config", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No pair "nope"');
  });
});

describe("mapping requirements for schema checks", () => {
  it("carry lengths, the values a field can receive, and what is read back", () => {
    const { mapping } = parseMappingText(readFileSync("mappings/salesforce.yaml", "utf8"), "sf.yaml");
    const [lead] = mapping.requirements();
    const field = (name: string) => lead?.fields.find((f) => f.name === name);
    expect(lead).toMatchObject({ object: "Lead", externalIdField: "Cosell_Referral_Id__c" });
    expect(field("Company")).toEqual({ name: "Company", maxLength: 255 });
    expect(field("LeadSource")).toEqual({ name: "LeadSource", values: ["Microsoft Joint Planning"] });
    expect(field("Cosell_Status__c")?.values?.sort()).toEqual(["Accepted", "Closed in error", "Converted to opportunity", "Declined", "Expired", "Lost", "New", "Won"]);
    expect(field("Cosell_Status__c")?.readBack).toBe(true);
    expect(field("OwnerId")).toEqual({ name: "OwnerId", readBack: true });
  });
});
