import { z } from "zod";

/**
 * Partner Center's referral resource as it travels on the wire (../shared/reference/partner-center.md).
 * Parsing is tolerant: a field of an unexpected type becomes undefined instead of failing the
 * record, unknown fields pass through untouched, and enums are open strings. Only `id` is required.
 */
const str = z.string().optional().catch(undefined);
const bool = z.boolean().optional().catch(undefined);
const strings = z.array(z.string()).optional().catch(undefined);

export const wireMemberSchema = z.looseObject({
  firstName: str,
  lastName: str,
  email: str,
  phoneNumber: str,
  title: str,
  contactPreference: z.looseObject({ locale: str, disableNotifications: bool }).optional().catch(undefined),
});

export const wireSubstageSchema = z.looseObject({
  name: z.string().catch(""),
  status: z.string().catch("NotStarted"),
  completedDateTime: str,
});

const members = z.array(wireMemberSchema.catch({})).optional().catch(undefined);

export const wireReferralSchema = z.looseObject({
  id: z.string().min(1),
  engagementId: str,
  name: str,
  externalReferenceId: str,
  organizationId: str,
  organizationName: str,
  direction: str,
  createdDateTime: str,
  updatedDateTime: str,
  acceptedDateTime: str,
  closedDateTime: str,
  expirationDateTime: str,
  status: str,
  substatus: str,
  statusReason: str,
  type: str,
  qualification: str,
  referralProgram: str,
  salesStage: str,
  tags: strings,
  eTag: str,
  customerProfile: z
    .looseObject({
      name: str,
      address: z
        .looseObject({ addressLine1: str, addressLine2: str, city: str, state: str, postalCode: str, country: str, region: str })
        .optional()
        .catch(undefined),
      size: str,
      team: members,
      ids: z.array(z.looseObject({ profileType: str, id: str })).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
  consent: z
    .looseObject({
      consentToShareInfoWithOthers: bool,
      /** The spelling older payloads use. */
      consentToToShareInfoWithOthers: bool,
      consentToContact: bool,
      consentToShareReferralWithMicrosoftSellers: bool,
    })
    .optional()
    .catch(undefined),
  details: z
    .looseObject({
      notes: str,
      dealValue: z.union([z.number(), z.string()]).optional().catch(undefined),
      currency: str,
      closingDateTime: str,
      requirements: z
        .looseObject({
          industries: strings,
          products: strings,
          services: strings,
          solutions: z.array(z.looseObject({ id: str, name: str, type: str })).optional().catch(undefined),
        })
        .optional()
        .catch(undefined),
      substages: z.array(wireSubstageSchema).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
  inviteContext: z
    .looseObject({
      notes: str,
      invitedBy: z.looseObject({ organizationId: str, organizationName: str }).optional().catch(undefined),
      assistanceRequestCode: str,
      sender: wireMemberSchema.optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
  team: members,
  target: z.array(z.looseObject({ id: str, type: str })).optional().catch(undefined),
});

export type WireMember = z.infer<typeof wireMemberSchema>;
export type WireSubstage = z.infer<typeof wireSubstageSchema>;
export type WireReferral = z.infer<typeof wireReferralSchema>;

/** One page of a list call. */
export interface ReferralPage {
  items: WireReferral[];
  /** The raw `@odata.nextLink`, when there is a next page. */
  nextLink?: string;
}

/** RFC 6902, as far as the referral API accepts it. */
export interface JsonPatchOperation {
  op: "replace" | "add";
  path: string;
  value: unknown;
}

export const STATUS = { new: "New", active: "Active", closed: "Closed" } as const;
export const SUBSTATUS = {
  pending: "Pending",
  received: "Received",
  accepted: "Accepted",
  won: "Won",
  lost: "Lost",
  declined: "Declined",
  expired: "Expired",
} as const;

/**
 * Joint Planning specifics: no public API doc exists yet, so this is our chosen shape, kept here
 * and in the adapter only, to change in one place when Microsoft publishes theirs.
 */
export const JOINT_PLANNING = {
  program: "JointPlanning",
  qualify: "Qualify",
  evaluate: "Evaluate",
  substageComplete: "Complete",
  substageNotStarted: "NotStarted",
  convertedReason: "ConvertedToOpportunity",
  errorReasonPrefix: "Error:",
  conversionAssistance: "GeneralOrOther",
} as const;
