/**
 * The sandbox partner's people (here, beside the CRM sandboxes that hold them as users), the same in every CRM sandbox and tagged on Partner Center leads,
 * so routing by partner seller (and its fallbacks) can be seen end to end.
 */
export interface SandboxSeller {
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
  title: string;
  /** false: has left; the CRMs keep the user, deactivated. */
  active: boolean;
}

export const PARTNER_SELLERS: readonly SandboxSeller[] = [
  { firstName: "Ada", lastName: "Lovelace", email: "ada.lovelace@partner.example", phone: "+1 425 555 0101", title: "Account Executive", active: true },
  { firstName: "Grace", lastName: "Hopper", email: "grace.hopper@partner.example", phone: "+1 425 555 0102", title: "Account Executive", active: true },
  { firstName: "Alan", lastName: "Turing", email: "alan.turing@partner.example", phone: "+44 20 7946 0103", title: "Solution Seller", active: true },
  { firstName: "Katherine", lastName: "Johnson", email: "katherine.johnson@partner.example", phone: "+1 757 555 0104", title: "Account Executive", active: true },
  { firstName: "Edsger", lastName: "Dijkstra", email: "edsger.dijkstra@partner.example", phone: "+31 20 555 0105", title: "Account Executive", active: false },
];

/** Owns every lead under central routing. */
export const REFERRALS_ADMIN: SandboxSeller = { firstName: "Rita", lastName: "Referrals", email: "referrals@partner.example", phone: "+1 425 555 0100", title: "Referrals Admin", active: true };

/** A partner seller Microsoft tags who has no CRM user (a new hire): routing falls back. */
export const SELLER_WITHOUT_CRM_USER = { firstName: "Nora", lastName: "Newhire", email: "nora.newhire@partner.example" };

/** The Salesforce queue / Dataverse owner team leads can be routed to. */
export const LEAD_QUEUE = "Joint Planning Leads";

/** Everyone the CRM sandboxes know, admin first. */
export const CRM_PEOPLE: readonly SandboxSeller[] = [REFERRALS_ADMIN, ...PARTNER_SELLERS];
