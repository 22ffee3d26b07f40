import { describe, expect, it } from "vitest";
import type { SourceIssue } from "../../src/shared/yaml-source.js";
import { parseMappingText } from "../../src/mapping/load.js";
import { CosellError } from "../../src/shared/errors.js";

/** A small valid mapping; tests break one thing at a time. Line numbers below refer to this text. */
const BASE = `version: 1
crm: salesforce
tables:
  status:
    new: Open
objects:
  lead:
    object: Lead
    externalId:
      field: Ref__c
      from: lead.referralId
    fields:
      Company: { from: lead.customer.name, required: true }
      Status__c: { from: lead.state, transform: { lookup: status }, owner: latest }
      Accept__c: { from: sync.acceptBy, transform: { date: iso } }
      Act__c: sync.actBy
      Step__c: sync.substage
      Link__c: sync.partnerCenterUrl
      Seller__c: sync.microsoftSeller
      Sync__c: sync.lastSyncAt
      Error__c: { from: sync.error, default: "" }
inbound:
  object: lead
  status:
    field: Status__c
    values:
      Open: new
`;

function issues(text: string): SourceIssue[] {
  try {
    parseMappingText(text, "m.yaml");
  } catch (error) {
    expect(error).toBeInstanceOf(CosellError);
    expect((error as CosellError).code).toBe("MAPPING_INVALID");
    return (error as CosellError).details.issues as SourceIssue[];
  }
  throw new Error("expected the mapping to be refused");
}

const replace = (from: string, to: string) => {
  expect(BASE).toContain(from);
  return BASE.replace(from, to);
};

describe("mapping validation", () => {
  it("accepts the base mapping without warnings", () => {
    const { mapping, warnings } = parseMappingText(BASE, "m.yaml");
    expect(warnings).toEqual([]);
    expect(mapping.describeObjects()[0]).toMatchObject({ object: "Lead", externalIdField: "Ref__c" });
  });

  it("YAML syntax: a few located errors, not a cascade", () => {
    const found = issues(replace("      Company: { from: lead.customer.name, required: true }", "      Company: { from: lead.customer.name, required: true"));
    expect(found.length).toBeLessThanOrEqual(4);
    expect(found[0]).toMatchObject({ code: "MAPPING_YAML_INVALID" });
    expect(found[0]?.line).toBeGreaterThanOrEqual(13);
  });

  it("an alias to nothing or an alias bomb is a clean error (found by the fuzzer)", () => {
    expect(issues("*!")[0]).toMatchObject({ code: "MAPPING_YAML_INVALID", message: expect.stringContaining("anchors and aliases") });
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(", ")}]`)].join("\n");
    expect(issues(bomb)[0]).toMatchObject({ code: "MAPPING_YAML_INVALID" });
  });

  it("unknown keys, with did-you-mean", () => {
    expect(issues(replace("      Company: { from: lead.customer.name, required: true }", "      Company: { from: lead.customer.name, requird: true }"))).toEqual([
      expect.objectContaining({ code: "MAPPING_UNKNOWN_KEY", path: "objects.lead.fields.Company.requird", line: 13, message: 'is not a known option here; did you mean "required"?' }),
    ]);
    expect(issues(replace("transform: { date: iso }", "transform: { dat: iso }"))).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: "objects.lead.fields.Accept__c.transform[0].dat", line: 15, message: expect.stringContaining('did you mean "date"?') })]),
    );
  });

  it("wrong values: an owner, a lead state, a date format", () => {
    expect(issues(replace("owner: latest", "owner: seller"))[0]).toMatchObject({ code: "MAPPING_INVALID_VALUE", path: "objects.lead.fields.Status__c.owner", line: 14 });
    expect(issues(replace("      Open: new", "      Open: open"))[0]).toMatchObject({ path: "inbound.status.values.Open", line: 27 });
    expect(issues(replace("{ date: iso }", "{ date: yyyy-MM-dd }"))[0]).toMatchObject({ path: "objects.lead.fields.Accept__c.transform[0].date", line: 15, message: expect.stringContaining('"iso"') });
  });

  it("missing required keys point at the parent", () => {
    expect(issues(replace("    object: Lead\n", ""))).toEqual([expect.objectContaining({ path: "objects.lead.object", line: 8, message: "is required but missing" })]);
  });

  it("a rule with no source, or with two", () => {
    expect(issues(replace("Company: { from: lead.customer.name, required: true }", "Company: { required: true }"))[0]).toMatchObject({ line: 13, message: "needs one of from, template or value" });
    expect(issues(replace("Company: { from: lead.customer.name, required: true }", "Company: { from: lead.name, value: x }"))[0]).toMatchObject({ message: "has from and value; give only one" });
  });

  it("two transforms in one step, and a time zone that does not exist", () => {
    expect(issues(replace("{ date: iso }", "{ date: iso, truncate: 3 }"))[0]).toMatchObject({ message: expect.stringContaining("put each in its own list entry") });
    expect(issues(replace("{ date: iso }", "{ date: date, timeZone: Europe/Pariss }"))[0]).toMatchObject({ path: "objects.lead.fields.Accept__c.transform[0].timeZone", message: expect.stringContaining("not an IANA time zone") });
  });

  it("unknown source paths, with did-you-mean, in from and in templates", () => {
    expect(issues(replace("from: lead.customer.name,", "from: lead.custmer.name,"))).toEqual([
      expect.objectContaining({ code: "MAPPING_UNKNOWN_SOURCE", line: 13, message: '"lead.custmer.name": lead has no "custmer"; did you mean "customer"?' }),
    ]);
    expect(issues(replace("Step__c: sync.substage", 'Step__c: { template: "{sync.substag} now" }'))[0]).toMatchObject({ line: 17, message: expect.stringContaining('did you mean "substage"') });
    expect(issues(replace("from: lead.customer.name,", "from: customer.name,"))[0]).toMatchObject({ code: "MAPPING_INVALID_VALUE", message: expect.stringContaining("start with referral., lead. or sync.") });
    // Partner Center sends fields we do not know: referral.* is open.
    expect(() => parseMappingText(replace("from: lead.customer.name,", "from: referral.trackingInfo.microsoftMsxId,"), "m.yaml")).not.toThrow();
  });

  it("a template without placeholders", () => {
    expect(issues(replace("Step__c: sync.substage", 'Step__c: { template: "always this" }'))[0]).toMatchObject({ code: "MAPPING_TEMPLATE_EMPTY", line: 17 });
  });

  it("a lookup of a table that does not exist", () => {
    expect(issues(replace("{ lookup: status }", "{ lookup: statuses }"))[0]).toMatchObject({ code: "MAPPING_UNKNOWN_TABLE", path: "objects.lead.fields.Status__c.transform[0].lookup", line: 14 });
  });

  it("the external id mapped as a field too, and an association to nothing", () => {
    expect(issues(replace("      Company:", "      Ref__c: lead.referralId\n      Company:"))[0]).toMatchObject({ code: "MAPPING_EXTERNAL_ID_IN_FIELDS", line: 13 });
    expect(issues(replace("    object: Lead\n", "    object: Lead\n    associate: [contact]\n"))[0]).toMatchObject({ code: "MAPPING_UNKNOWN_OBJECT", path: "objects.lead.associate" });
  });

  it("a field that flows back while Partner Center owns it", () => {
    expect(issues(replace("owner: latest", "owner: partnerCenter"))).toEqual([
      expect.objectContaining({ code: "MAPPING_OWNERSHIP_CONFLICT", path: "inbound.status.field", line: 25, message: expect.stringContaining("the next sync would overwrite the seller's edit") }),
    ]);
    expect(issues(replace("  object: lead\n  status:", "  object: deal\n  status:"))[0]).toMatchObject({ code: "MAPPING_UNKNOWN_OBJECT", path: "inbound.object" });
  });

  it("reports every problem at once, sorted by line, in the error message", () => {
    const text = replace("owner: latest", "owner: partnerCenter").replace("from: lead.customer.name,", "from: lead.custmer.name,");
    try {
      parseMappingText(text, "m.yaml");
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(/^Mapping m\.yaml has 2 problems and was not loaded:\n {2}m\.yaml:13:\d+ .*\n {2}m\.yaml:25:\d+ /);
    }
  });

  it("warns when a field sellers need is not shown", () => {
    const { warnings } = parseMappingText(replace("      Act__c: sync.actBy\n", ""), "m.yaml");
    expect(warnings).toEqual([expect.objectContaining({ code: "MAPPING_SELLER_FIELD_MISSING", message: expect.stringContaining("sync.actBy") })]);
  });
});
