/**
 * The Co-sell properties the shipped HubSpot mapping needs, with their HubSpot types, so that
 * `crm check --fix` can create exactly what connectors/hubspot/README.md lists.
 */
export interface PropertySpec {
  name: string;
  label: string;
  type: "string" | "number" | "date" | "datetime" | "enumeration" | "bool";
  fieldType: "text" | "textarea" | "number" | "date" | "select" | "booleancheckbox";
  hasUniqueValue?: boolean;
  options?: string[];
}

export const COSELL_GROUP = { name: "cosell", label: "Co-sell" };

const text = (name: string, label: string, extra: Partial<PropertySpec> = {}): PropertySpec => ({ name, label, type: "string", fieldType: "text", ...extra });

export const COSELL_PROPERTIES: Record<string, PropertySpec[]> = {
  companies: [text("cosell_customer_key", "Co-sell customer key", { hasUniqueValue: true })],
  contacts: [],
  leads: [
    text("cosell_referral_id", "Partner Center referral id", { hasUniqueValue: true }),
    text("cosell_engagement_id", "Partner Center engagement id"),
    { name: "cosell_status", label: "Co-sell status", type: "enumeration", fieldType: "select", options: ["new", "accepted", "won", "lost", "declined", "expired", "closed_in_error", "converted"] },
    { name: "cosell_qualify_complete", label: "Qualify complete", type: "bool", fieldType: "booleancheckbox", options: ["true", "false"] },
    { name: "cosell_evaluate_complete", label: "Evaluate complete", type: "bool", fieldType: "booleancheckbox", options: ["true", "false"] },
    text("cosell_close_reason", "Close reason"),
    { name: "cosell_deal_value", label: "Deal value", type: "number", fieldType: "number" },
    text("cosell_deal_currency", "Deal currency"),
    { name: "cosell_close_date", label: "Close date", type: "date", fieldType: "date" },
    text("cosell_solution", "Solution"),
    { ...text("cosell_notes", "Co-sell notes"), fieldType: "textarea" },
    { name: "cosell_accept_by", label: "Accept by", type: "datetime", fieldType: "date" },
    { name: "cosell_act_by", label: "Act by", type: "datetime", fieldType: "date" },
    text("cosell_substage", "Next step"),
    text("cosell_urgency", "Urgency"),
    text("cosell_partner_center_link", "Partner Center link"),
    text("cosell_microsoft_seller", "Microsoft seller"),
    { name: "cosell_last_sync", label: "Last synced", type: "datetime", fieldType: "date" },
    { ...text("cosell_sync_error", "Sync error"), fieldType: "textarea" },
  ],
};

/** Association types used at lead creation. Unconfirmed ids from HubSpot's lead docs, kept here alone. */
/** HubSpot's object type ids, which record URLs (and v4 association answers) carry. */
export const OBJECT_TYPE_IDS: Record<string, string> = { contacts: "0-1", companies: "0-2", deals: "0-3", tasks: "0-27", leads: "0-136" };

export const LEAD_ASSOCIATION_TYPES: Record<string, number> = { contacts: 578, companies: 580 };
