import { acceptBy, actBy, currentDeadline, urgency } from "../domain/deadlines.js";
import type { Lead, LeadState } from "../domain/lead.js";
import { displayName } from "../domain/lead.js";

/**
 * What a mapping rule can read. `referral` is Partner Center's record as received (any field, known
 * or not); `lead` is the canonical lead; `sync` holds what the daemon knows and sellers need to see.
 */
export interface SyncFacts {
  acceptBy?: Date;
  actBy?: Date;
  /** The deadline the lead runs against now (accept-by while new, act-by once accepted). */
  deadline?: Date;
  /** What the seller should do next: "Accept or decline", "Qualify", "Evaluate", "Close", "Closed". */
  substage: string;
  partnerCenterUrl: string;
  /** Name and email of the Microsoft seller who sent the lead. */
  microsoftSeller?: string;
  lastSyncAt: Date;
  /** The last refusal from Partner Center, in words a seller can act on; empty when all is well. */
  error: string;
  /** none | normal | soon | urgent | critical | overdue */
  urgency: string;
  /**
   * A stable key for the customer, to upsert one CRM company per customer across leads: the DUNS
   * number when Partner Center gives one, else the normalised name and country.
   */
  customerKey?: string;
  /**
   * The CRM owner routing chose (pairs[].routing), in the form the owner field takes. Filled in when
   * the record is written, after the CRM was asked who that is; empty at mapping time.
   */
  owner?: string;
}

export interface MappingSource {
  referral: Record<string, unknown>;
  lead: Lead;
  sync: SyncFacts;
}

const NEXT_STEP: Record<LeadState, string> = {
  new: "Accept or decline",
  accepted: "Qualify",
  qualified: "Evaluate",
  evaluated: "Close (won, lost or convert)",
  won: "Closed",
  lost: "Closed",
  declined: "Closed",
  expired: "Closed",
  "closed-in-error": "Closed",
  converted: "Closed",
};

/** Partner Center's page for a lead. Unconfirmed URL shape: kept here, the one place to change. */
export const PARTNER_CENTER_LEAD_URL = "https://partner.microsoft.com/dashboard/referrals/v2/leads/";

export function customerKey(lead: Lead, referral: Record<string, unknown>): string | undefined {
  const ids = (referral.customerProfile as { ids?: Array<{ profileType?: string; id?: string }> } | undefined)?.ids ?? [];
  const duns = ids.find((entry) => entry.profileType?.toLowerCase() === "duns" && entry.id)?.id;
  if (duns) return `duns:${duns}`;
  const name = lead.customer.name.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();
  if (!name) return undefined;
  return `name:${name}|${(lead.customer.address?.country ?? "").toLowerCase()}`;
}

export function syncFacts(lead: Lead, now: Date, options: { error?: string; referral?: Record<string, unknown> } = {}): SyncFacts {
  const seller = lead.microsoftSeller;
  const sellerName = seller ? [displayName(seller), seller.email && displayName(seller) !== seller.email ? `<${seller.email}>` : ""].filter(Boolean).join(" ") : undefined;
  const deadline = currentDeadline(lead);
  const actByDate = actBy(lead);
  const key = customerKey(lead, options.referral ?? {});
  return {
    acceptBy: acceptBy(lead),
    ...(actByDate ? { actBy: actByDate } : {}),
    ...(deadline ? { deadline: deadline.at } : {}),
    substage: NEXT_STEP[lead.state],
    partnerCenterUrl: `${PARTNER_CENTER_LEAD_URL}${encodeURIComponent(lead.referralId)}`,
    ...(sellerName ? { microsoftSeller: sellerName } : {}),
    lastSyncAt: now,
    error: options.error ?? "",
    urgency: urgency(lead, now).level,
    ...(key ? { customerKey: key } : {}),
  };
}

/** Builds what the mapping reads for one lead. */
export function mappingSource(referral: Record<string, unknown>, lead: Lead, now: Date, options: { error?: string } = {}): MappingSource {
  return { referral, lead, sync: syncFacts(lead, now, { ...options, referral }) };
}

/** Fields every shipped mapping writes, because sellers only ever see their CRM. */
export const SELLER_FACTS = ["sync.acceptBy", "sync.actBy", "sync.substage", "sync.partnerCenterUrl", "sync.microsoftSeller", "sync.lastSyncAt", "sync.error"] as const;

const PERSON = ["firstName", "lastName", "email", "phoneNumber", "title"];
const SUBSTAGE = ["complete", "completedAt"];

/** The known shape of `lead.*` and `sync.*` paths; `referral.*` is open (Partner Center adds fields). */
export const KNOWN_PATHS: Record<"lead" | "sync", ShapeNode> = {
  lead: {
    referralId: null,
    engagementId: null,
    program: null,
    name: null,
    state: null,
    receivedAt: null,
    expiresAt: null,
    acceptedAt: null,
    closedAt: null,
    closeReason: null,
    owner: fields(PERSON),
    substages: { qualify: fields(SUBSTAGE), evaluate: fields(SUBSTAGE) },
    customer: {
      name: null,
      size: null,
      address: fields(["addressLine1", "addressLine2", "city", "state", "postalCode", "country", "region"]),
      contacts: { "[]": fields(PERSON) },
    },
    deal: fields(["value", "currency", "closingAt", "notes"]),
    team: { "[]": fields(PERSON) },
    microsoftSeller: fields(PERSON),
    consent: fields(["shareWithOthers", "contact", "shareWithMicrosoftSellers"]),
    requirements: fields(["industries", "products", "services", "solutions"]),
    updatedAt: null,
    eTag: null,
  },
  sync: fields(["acceptBy", "actBy", "deadline", "substage", "partnerCenterUrl", "microsoftSeller", "lastSyncAt", "error", "urgency", "customerKey", "owner"]),
};

/** null: a leaf (which may hold a list of values); "[]": list of this shape. */
export type ShapeNode = { [key: string]: ShapeNode | null } | null;

function fields(names: string[]): ShapeNode {
  return Object.fromEntries(names.map((name) => [name, null]));
}
