import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { planTransition } from "../../src/domain/index.js";
import { desiredOutcome } from "../../src/mapping/compile.js";
import { parseMappingText } from "../../src/mapping/load.js";
import { mappingSource } from "../../src/mapping/source.js";
import { adaptReferral } from "../../src/partner-center/adapter.js";

const sample = JSON.parse(readFileSync("mappings/samples/joint-planning-lead.json", "utf8")) as Record<string, unknown>;
const NOW = new Date("2026-11-24T10:00:00Z");

function source(overrides: Record<string, unknown> = {}) {
  const { lead, referral } = adaptReferral({ ...sample, ...overrides });
  return mappingSource(referral as Record<string, unknown>, lead, NOW);
}

const OWNERSHIP = `version: 1
crm: salesforce
objects:
  lead:
    object: Lead
    externalId: { field: Ref__c }
    fields:
      Company: { from: lead.customer.name, required: true }
      Status__c: { from: lead.state, owner: latest }
      Value__c: { from: lead.deal.value, owner: crm }
      Source__c: { value: Joint Planning, owner: none }
      Phone: lead.customer.contacts.0.phoneNumber
      Country: { from: referral.customerProfile.address.country, default: ZZ }
  contact:
    object: Contact
    optional: true
    externalId: { field: Email, from: lead.customer.contacts.0.email }
    fields:
      LastName: { from: lead.customer.contacts.0.lastName, required: true }
inbound:
  object: lead
  status:
    field: Status__c
    values: { Open: new, Working: accepted, Won: won, Lost: lost, Declined: declined }
  qualifyComplete: Q__c
  evaluateComplete: E__c
  reason: Reason__c
  owner: OwnerId
  fields:
    Value__c: { to: deal.value, transform: { parseNumber: true } }
    Close__c: { to: deal.closingAt, transform: { parseDate: true } }
`;

const { mapping } = parseMappingText(OWNERSHIP, "ownership.yaml");

describe("outbound: lead → CRM records", () => {
  it("writes every field on create, and records which rule produced it", () => {
    const result = mapping.outbound(source(), { create: true });
    expect(result.problems).toEqual([]);
    expect(result.records.map((r) => r.object)).toEqual(["Lead", "Contact"]);
    expect(result.records[0]).toMatchObject({
      externalIdField: "Ref__c",
      externalId: "5f1c2e7a-9b3d-4c8e-a1f2-7d6e5c4b3a21",
      fields: { Company: "Fabrikam Ltd", Status__c: "new", Value__c: 125000, Source__c: "Joint Planning", Phone: "+44 161 555 0100", Country: "GB" },
      produced: { Company: "lead.customer.name (required)", Source__c: 'value "Joint Planning"' },
    });
  });

  it("on update: partnerCenter and latest fields go, crm and none fields stay as the seller left them", () => {
    const update = mapping.outbound(source(), { create: false });
    expect(Object.keys(update.records[0]?.fields ?? {})).toEqual(["Company", "Status__c", "Phone", "Country"]);
    const sellerNewer = mapping.outbound(source(), { create: false, crmNewer: new Set(["Status__c"]) });
    expect(Object.keys(sellerNewer.records[0]?.fields ?? {})).toEqual(["Company", "Phone", "Country"]);
  });

  it("uses the default when the source is empty", () => {
    const noCountry = source({ customerProfile: { ...(sample.customerProfile as object), address: {} } });
    expect(mapping.outbound(noCountry, { create: true }).records[0]?.fields.Country).toBe("ZZ");
  });

  it("reports a missing required value as a problem and still maps the rest", () => {
    const result = mapping.outbound(source({ customerProfile: { name: "", team: [{ email: "x@y.example" }] } }), { create: true });
    expect(result.problems).toEqual([
      { code: "MAPPING_REQUIRED_FIELD", object: "lead", field: "Company", message: "Company is required but lead.customer.name gave no value." },
      { code: "MAPPING_REQUIRED_FIELD", object: "contact", field: "LastName", message: "LastName is required but lead.customer.contacts.0.lastName gave no value." },
    ]);
    expect(result.records[0]?.fields.Company).toBeUndefined();
  });

  it("skips an optional object without an external id, and refuses a required one", () => {
    const noContact = source({ customerProfile: { name: "Fabrikam", team: [] } });
    expect(mapping.outbound(noContact, { create: true })).toMatchObject({ skipped: ["contact"], problems: [] });
    const byEngagement = parseMappingText(OWNERSHIP.replace("externalId: { field: Ref__c }", "externalId: { field: Ref__c, from: lead.engagementId }"), "e.yaml").mapping;
    const noId = byEngagement.outbound(source({ engagementId: undefined }), { create: true });
    expect(noId.problems).toEqual([
      { code: "MAPPING_EXTERNAL_ID_MISSING", object: "lead", field: "Ref__c", message: "lead.engagementId has no value, so the Lead record has no Ref__c to upsert on." },
    ]);
    expect(noId.records.map((r) => r.object)).toEqual(["Contact"]);
  });
});

describe("inbound: CRM record → lifecycle intent", () => {
  it("reads status, substage checkboxes, reason and owner", () => {
    const intent = mapping.inbound({ Status__c: "Working", Q__c: "true", E__c: false, Reason__c: "  ", OwnerId: "005xx0000012345" });
    expect(intent).toEqual({ lifecycle: { state: "accepted", qualifyComplete: true, evaluateComplete: false }, ownerRef: "005xx0000012345", changes: {}, problems: [] });
    // The owner alone (a reassignment) is read without a lifecycle intent.
    expect(mapping.inbound({ OwnerId: "005xx0000099999" })).toEqual({ ownerRef: "005xx0000099999", changes: {}, problems: [] });
  });

  it("reads the values that flow back, typed", () => {
    expect(mapping.inbound({ Value__c: "12,500", Close__c: "2027-03-31" }).changes).toEqual({ dealValue: 12500, closingAt: new Date("2027-03-31T00:00:00Z") });
    expect(mapping.inbound({ Value__c: "", Close__c: null }).changes).toEqual({});
  });

  it("explains a status value the mapping does not know", () => {
    const intent = mapping.inbound({ Status__c: "Nurturing" });
    expect(intent.lifecycle).toBeUndefined();
    expect(intent.problems).toEqual([expect.objectContaining({ code: "MAPPING_UNKNOWN_STATUS", message: expect.stringContaining('"Nurturing"') })]);
  });

  it("feeds the domain planner: ticking both substages and setting Won plans the whole walk", () => {
    const { lead } = adaptReferral({ ...sample, status: "Active", substatus: "Accepted", acceptedDateTime: "2026-11-21T14:02:00Z", team: [{ firstName: "Ada", lastName: "Lovelace", email: "ada@partner.example" }] });
    const intent = mapping.inbound({ Status__c: "Won", Q__c: 1, E__c: "yes" });
    const plan = planTransition(lead, desiredOutcome(intent.lifecycle ?? { state: "new" }), NOW);
    expect(plan.ok && plan.steps.map((s) => s.type)).toEqual(["completeQualify", "completeEvaluate", "win"]);
  });

  it("a lost lead without a reason comes back as the seller-facing violation", () => {
    const { lead } = adaptReferral({ ...sample, status: "Active", substatus: "Accepted", acceptedDateTime: "2026-11-21T14:02:00Z", team: [{ firstName: "Ada", lastName: "L", email: "a@p.example" }] });
    const plan = planTransition(lead, desiredOutcome(mapping.inbound({ Status__c: "Lost" }).lifecycle ?? { state: "new" }), NOW);
    expect(plan.ok ? "" : plan.violation.message).toBe("Give a reason before marking the lead lost.");
  });
});

describe("the routed owner (sync.owner)", () => {
  const text = (rule: string) => `version: 1\ncrm: dynamics\nobjects:\n  lead:\n    object: lead\n    externalId: { field: cosell_referralid }\n    fields:\n      subject: lead.name\n      ${rule}\ninbound:\n  object: lead\n  owner: _ownerid_value\n`;

  it("is written on create only unless its rule names another owner, and never at mapping time", () => {
    const createOnly = parseMappingText(text("ownerid@odata.bind: sync.owner"), "a.yaml").mapping;
    expect(createOnly.routedOwnerFields()).toEqual([{ name: "lead", field: "ownerid@odata.bind", onUpdate: false, owner: "crm" }]);
    expect(createOnly.inboundOwnerField()).toBe("_ownerid_value");
    const everyWrite = parseMappingText(text("ownerid@odata.bind: { from: sync.owner, owner: partnerCenter }"), "b.yaml").mapping;
    expect(everyWrite.routedOwnerFields()).toEqual([{ name: "lead", field: "ownerid@odata.bind", onUpdate: true, owner: "partnerCenter" }]);
    // The mapping itself leaves the field out: the owner is looked up when the record is written.
    const source = mappingSource({ id: "r1", name: "A lead" }, adaptReferral({ id: "r1", name: "A lead" }).lead, new Date("2026-11-24T10:00:00Z"));
    expect(createOnly.outbound(source, { create: true }).records[0]?.fields).toEqual({ subject: "A lead" });
  });
});
