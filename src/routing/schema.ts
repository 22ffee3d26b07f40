import { z } from "zod";
import { DURATION_PATTERN, parseDuration } from "../shared/duration.js";

/**
 * Who owns a pair's leads in the CRM (`pairs[].routing`). Partners organise Joint Planning leads
 * centrally (a referrals admin or a queue receives every lead) or per seller (each partner seller
 * works the leads they are tagged on); rules route by the lead's own fields.
 */

/** Customer sizes as Partner Center writes them. */
export const CUSTOMER_SIZES = [
  "1to9employees",
  "10to50employees",
  "51to250employees",
  "251to1000employees",
  "1001to5000employees",
  "5001to10000employees",
  "10001to20000employees",
  "Morethan20000employees",
] as const;

/**
 * An owner the config names: a CRM user by email, or a group that can own records (a Salesforce
 * queue, a Dataverse owner team; HubSpot records are owned by users only).
 */
export const ownerSpecSchema = z.union([
  z.strictObject({ user: z.email({ error: "is not an email address; name the CRM user by their login email" }) }),
  z.strictObject({ team: z.string().trim().min(1, "names no team or queue") }),
]);
export type OwnerSpec = z.infer<typeof ownerSpecSchema>;

/** One value or a list of them; matching is case-insensitive. */
const oneOrMany = <T extends z.ZodType<string>>(item: T) => z.preprocess((value) => (typeof value === "string" ? [value] : value), z.array(item).min(1, "lists no values"));

const conditionSchema = z
  .strictObject({
    /** The customer's country, ISO 3166 alpha-2 (US, DE…). */
    country: oneOrMany(z.string().regex(/^[A-Za-z]{2}$/, "is not a two-letter country code (US, DE, FR…)")).optional(),
    /** The customer's size band, as Partner Center writes it. */
    customerSize: oneOrMany(z.enum(CUSTOMER_SIZES, { error: `is not a customer size; use one of ${CUSTOMER_SIZES.join(", ")}` })).optional(),
    /** A solution the lead names (by name or id). */
    solution: oneOrMany(z.string().trim().min(1)).optional(),
    /** The Microsoft seller who sent the lead, by email, or a whole domain written "@contoso.com". */
    microsoftSeller: oneOrMany(z.string().regex(/^([^@\s]+@[^@\s]+\.[^@\s]+|@[^@\s]+\.[^@\s]+)$/, 'is not an email address or an "@domain"')).optional(),
  })
  .refine((when) => Object.values(when).some((value) => value !== undefined), "has no condition; a rule that always matches is the default");
export type RoutingCondition = z.infer<typeof conditionSchema>;

export const routingRuleSchema = z.strictObject({
  /** Shown by `routing explain` and on the lead's timeline. */
  name: z.string().trim().min(1).optional(),
  /** Every condition given must hold; within one, any listed value matches. */
  when: conditionSchema,
  owner: ownerSpecSchema,
});
export type RoutingRule = z.infer<typeof routingRuleSchema>;

const cacheTtl = z
  .union([z.number().int().min(0), z.string().regex(DURATION_PATTERN, 'write a duration like "15m" or "1h"')])
  .default("15m")
  .transform((value) => (typeof value === "number" ? value : (parseDuration(value) ?? 0)));

export const routingSchema = z
  .discriminatedUnion("mode", [
    z.strictObject({
      mode: z.literal("central"),
      /** Receives every lead. */
      owner: ownerSpecSchema,
      cacheTtl,
    }),
    z.strictObject({
      mode: z.literal("direct"),
      /** Receives a lead none of whose partner sellers is an active CRM user. */
      owner: ownerSpecSchema,
      cacheTtl,
    }),
    z.strictObject({
      mode: z.literal("rules"),
      rules: z.array(routingRuleSchema).min(1, "lists no rules; use mode: central for one owner"),
      /** Receives a lead no rule matches, and a lead whose rule names no active owner. */
      default: ownerSpecSchema,
      cacheTtl,
    }),
  ], { error: (issue) => (issue.code === "invalid_union" ? "needs mode: central, direct or rules" : undefined) });
export type RoutingConfig = z.infer<typeof routingSchema>;
