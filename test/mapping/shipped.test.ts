import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { mappingJsonSchema } from "../../src/mapping/json-schema.js";
import { parseMappingText } from "../../src/mapping/load.js";
import { mappingSource, SELLER_FACTS } from "../../src/mapping/source.js";
import { adaptReferral } from "../../src/partner-center/adapter.js";

const FILES = ["salesforce", "hubspot", "dynamics"].map((name) => `mappings/${name}.yaml`);
const sample = JSON.parse(readFileSync("mappings/samples/joint-planning-lead.json", "utf8")) as Record<string, unknown>;

describe("shipped mappings", () => {
  for (const file of FILES) {
    it(`${file} loads without warnings, shows every seller field, and maps the sample lead without problems`, () => {
      const text = readFileSync(file, "utf8");
      expect(text.startsWith("# yaml-language-server: $schema=./schema.json")).toBe(true);
      const { mapping, warnings } = parseMappingText(text, file);
      expect(warnings).toEqual([]);
      for (const fact of SELLER_FACTS) expect(text, fact).toContain(fact);
      const { lead, referral } = adaptReferral({ ...sample, status: "Active", substatus: "Accepted", acceptedDateTime: "2026-11-22T10:00:00Z" });
      const result = mapping.outbound(mappingSource(referral as Record<string, unknown>, lead, new Date("2026-11-24T10:00:00Z")), { create: true });
      expect(result.problems).toEqual([]);
      const writtenSources = result.records.flatMap((r) => Object.keys(r.fields).map((field) => r.produced[field])).join(" ");
      for (const fact of SELLER_FACTS.filter((f) => f !== "sync.error")) expect(writtenSources, fact).toContain(fact);
      expect(mapping.inboundObject).toBe("lead");
    });
  }

  it("the HubSpot mapping writes company, contact and lead, the lead associated with both", () => {
    const { mapping } = parseMappingText(readFileSync("mappings/hubspot.yaml", "utf8"), "hubspot.yaml");
    const { lead, referral } = adaptReferral(sample);
    const records = mapping.outbound(mappingSource(referral as Record<string, unknown>, lead, new Date()), { create: true }).records;
    expect(records.map((r) => [r.object, r.externalIdField, r.externalId])).toEqual([
      ["companies", "cosell_customer_key", "duns:123456789"],
      ["contacts", "email", "luc.martin@fabrikam.example"],
      ["leads", "cosell_referral_id", sample.id],
    ]);
    expect(records[2]?.associate).toEqual(["contact", "company"]);
  });

  it("mappings/schema.json is the schema generated from the loader's definition", () => {
    expect(JSON.parse(readFileSync("mappings/schema.json", "utf8"))).toEqual(mappingJsonSchema());
  });

  it("the JSON Schema accepts the shipped files and refuses what the loader refuses", () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(readFileSync("mappings/schema.json", "utf8")));
    for (const file of FILES) expect(validate(parse(readFileSync(file, "utf8"))), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    const broken = parse(readFileSync(FILES[0] as string, "utf8")) as { objects: { lead: { fields: Record<string, unknown> } } };
    broken.objects.lead.fields.Company = { from: "lead.customer.name", owner: "seller" };
    expect(validate(broken)).toBe(false);
  });
});
