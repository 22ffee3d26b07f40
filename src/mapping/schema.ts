import { z } from "zod";
import { LEAD_STATES } from "../domain/lead.js";

/**
 * The mapping file format (documented with examples in mappings/README.md). The same definition
 * validates files on load and generates mappings/schema.json for editors.
 */
export const OWNERS = ["partnerCenter", "crm", "latest", "none"] as const;
export type FieldOwner = (typeof OWNERS)[number];

export const DATE_FORMATS = ["iso", "date", "datetime", "epoch-ms", "epoch-ms-date"] as const;
export const INBOUND_TARGETS = ["deal.value", "deal.currency", "deal.closingAt", "deal.notes"] as const;
export type InboundTarget = (typeof INBOUND_TARGETS)[number];

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const sourcePath = z
  .string()
  .regex(/^(referral|lead|sync)(\.[A-Za-z_$][\w$]*|\.\d+|\[\d+\])+$/, "is not a source path; start with referral., lead. or sync. (e.g. lead.customer.name, lead.customer.contacts.0.email, referral.customerProfile.address.city)");
// Dataverse sets a lookup (the owner) through its navigation property: `ownerid@odata.bind`.
const crmField = z.string().regex(/^[A-Za-z_][\w.]*(@odata\.bind)?$/, "is not a CRM field API name");

/** The routed owner (pairs[].routing): resolved when the record is written, never at mapping time. */
export const ROUTED_OWNER = "sync.owner";

/** One step of a transform pipeline: exactly one transform key per list entry. */
export const transformSchema = z
  .strictObject({
    /** Value map: input value (as text) → output value. */
    map: z.record(z.string(), scalar).optional(),
    /** Date output format; pair with timeZone for date and datetime. */
    date: z.enum(DATE_FORMATS).optional(),
    timeZone: z.string().optional(),
    /** Cut text to the target field's length. */
    truncate: z.number().int().min(1).optional(),
    case: z.enum(["upper", "lower", "title"]).optional(),
    /** Take the first or last part of a full name. */
    splitName: z.enum(["first", "last"]).optional(),
    /** Round a number to this many decimals (text like "1,250.5" is parsed first). */
    round: z.number().int().min(0).max(10).optional(),
    /** An ISO 4217 code in upper case; anything else becomes empty. */
    currencyCode: z.literal(true).optional(),
    /** Look the value up in a table under `tables:`. */
    lookup: z.string().optional(),
    /** Join a list into text with this separator. */
    join: z.string().optional(),
    /** From a list of objects, take this property of each. */
    pluck: z.string().optional(),
    first: z.literal(true).optional(),
    trim: z.literal(true).optional(),
    /** true when the value equals this, false otherwise (for checkboxes). */
    equals: scalar.optional(),
    /** Read text or epoch milliseconds as a date (inbound). */
    parseDate: z.literal(true).optional(),
    /** Read text as a number (inbound). */
    parseNumber: z.literal(true).optional(),
  })
  .superRefine((step, ctx) => {
    const keys = Object.keys(step).filter((key) => key !== "timeZone");
    if (keys.length !== 1) {
      ctx.addIssue({ code: "custom", message: keys.length === 0 ? "names no transform" : `names ${keys.length} transforms (${keys.join(", ")}); put each in its own list entry` });
    }
    if (step.timeZone !== undefined && step.date === undefined) ctx.addIssue({ code: "custom", path: ["timeZone"], message: "goes with a date transform" });
    if (step.timeZone !== undefined && !isTimeZone(step.timeZone)) ctx.addIssue({ code: "custom", path: ["timeZone"], message: `"${step.timeZone}" is not an IANA time zone (e.g. Europe/Paris, America/New_York)` });
  });

export type TransformStep = z.infer<typeof transformSchema>;

// One step may be written without the list; normalising first lets zod point into the step.
const pipeline = z.preprocess((value) => (value === undefined ? [] : Array.isArray(value) ? value : [value]), z.array(transformSchema));

export const fieldRuleSchema = z.preprocess(
  // Shorthand: `Company: lead.customer.name` means `Company: { from: lead.customer.name }`. The
  // routed owner is written on create only unless the rule names another owner: a seller's
  // reassignment in the CRM must stand.
  (value) => {
    const rule = typeof value === "string" ? { from: value } : value;
    return rule && typeof rule === "object" && (rule as { from?: unknown }).from === ROUTED_OWNER && (rule as { owner?: unknown }).owner === undefined ? { ...rule, owner: "crm" } : rule;
  },
  z
    .strictObject({
      from: sourcePath.optional(),
      /** Text with {source.path} placeholders, e.g. "{lead.customer.name} – {referral.name}". */
      template: z.string().optional(),
      /** A constant. */
      value: scalar.optional(),
      transform: pipeline,
      default: scalar.optional(),
      required: z.boolean().default(false),
      /** Who wins when both sides change the field. */
      owner: z.enum(OWNERS).default("partnerCenter"),
    })
    .superRefine((rule, ctx) => {
      const sources = ["from", "template", "value"].filter((key) => rule[key as "from"] !== undefined);
      if (sources.length !== 1) ctx.addIssue({ code: "custom", message: sources.length === 0 ? "needs one of from, template or value" : `has ${sources.join(" and ")}; give only one` });
    }),
);

export type FieldRule = z.infer<typeof fieldRuleSchema>;

export const objectSchema = z.strictObject({
  /** The CRM object's API name: Lead (Salesforce), companies / contacts / leads / deals (HubSpot), lead (Dataverse). */
  object: z.string().min(1),
  externalId: z.strictObject({
    /** The unique external-id field (or HubSpot unique property / Dataverse alternate key) the upsert keys on. */
    field: crmField,
    from: sourcePath.default("lead.referralId"),
  }),
  /** Skip this object (instead of failing) when its external id has no value, e.g. a contact without email. */
  optional: z.boolean().default(false),
  /** Other objects of this mapping to associate the record with at creation (HubSpot). */
  associate: z.array(z.string()).default([]),
  fields: z.record(crmField, fieldRuleSchema),
});

export const inboundFieldSchema = z.strictObject({ to: z.enum(INBOUND_TARGETS), transform: pipeline });

export const inboundSchema = z.strictObject({
  /** The mapped object sellers work in (its record carries the lifecycle fields below). */
  object: z.string(),
  /** A picklist carrying the lifecycle: CRM value → lead state. */
  status: z.strictObject({ field: crmField, values: z.record(z.string(), z.enum(LEAD_STATES)) }).optional(),
  /** Checkbox fields that mark a substage complete. */
  qualifyComplete: crmField.optional(),
  evaluateComplete: crmField.optional(),
  /** Text field with the reason for declining, losing or closing in error. */
  reason: crmField.optional(),
  /** The owner field; its user becomes the partner seller on acceptance. */
  owner: crmField.optional(),
  /** Other values that flow back to Partner Center. */
  fields: z.record(crmField, inboundFieldSchema).default({}),
});

export const mappingSchema = z.strictObject({
  $schema: z.string().optional(),
  version: z.literal(1),
  crm: z.enum(["salesforce", "hubspot", "dynamics"]),
  /** Static lookup tables for the `lookup` transform. */
  tables: z.record(z.string(), z.record(z.string(), scalar)).default({}),
  objects: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, "use a lower-case name like lead, company, contact"), objectSchema).refine((objects) => Object.keys(objects).length > 0, "define at least one object"),
  inbound: inboundSchema.optional(),
});

export type MappingFile = z.infer<typeof mappingSchema>;

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
