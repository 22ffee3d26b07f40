/**
 * The canonical Joint Planning lead: what every other layer speaks. It holds no Partner Center wire
 * strings (status/substatus live in the referral adapter) and no CRM field names (those live in the
 * mapping files).
 */
export const LEAD_STATES = [
  "new",
  "accepted",
  "qualified",
  "evaluated",
  "won",
  "lost",
  "declined",
  "expired",
  "closed-in-error",
  "converted",
] as const;

export type LeadState = (typeof LEAD_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<LeadState> = new Set<LeadState>([
  "won",
  "lost",
  "declined",
  "expired",
  "closed-in-error",
  "converted",
]);

/** States in which the partner has accepted the lead and the 60-day act window runs. */
export const WORKING_STATES: ReadonlySet<LeadState> = new Set<LeadState>(["accepted", "qualified", "evaluated"]);

export function isTerminal(state: LeadState): boolean {
  return TERMINAL_STATES.has(state);
}

export function isLeadState(value: string): value is LeadState {
  return (LEAD_STATES as readonly string[]).includes(value);
}

/** A partner seller, a Microsoft seller or a customer contact. */
export interface Person {
  firstName?: string;
  lastName?: string;
  email?: string;
  phoneNumber?: string;
  title?: string;
}

export interface SubstageProgress {
  complete: boolean;
  completedAt?: Date;
}

/**
 * The part of a lead that the lifecycle rules read and change. Kept separate from the descriptive
 * fields so the state machine and its property tests work on a small value.
 */
export interface LifecycleSnapshot {
  state: LeadState;
  receivedAt: Date;
  /** Partner Center's own expiry for the accept window, when the record states one. */
  expiresAt?: Date;
  acceptedAt?: Date;
  closedAt?: Date;
  closeReason?: string;
  owner?: Person;
  substages: { qualify: SubstageProgress; evaluate: SubstageProgress };
}

export interface CustomerProfile {
  name: string;
  address?: {
    addressLine1?: string;
    addressLine2?: string;
    city?: string;
    state?: string;
    postalCode?: string;
    /** ISO 3166 alpha-2. */
    country?: string;
    region?: string;
  };
  size?: string;
  contacts: Person[];
}

export interface DealDetails {
  value?: number;
  /** ISO 4217. */
  currency?: string;
  closingAt?: Date;
  notes?: string;
}

export interface Lead extends LifecycleSnapshot {
  referralId: string;
  engagementId?: string;
  program: string;
  name: string;
  customer: CustomerProfile;
  deal: DealDetails;
  /** The partner's sellers on the lead in Partner Center. */
  team: Person[];
  /** The Microsoft seller who sent the lead, when known. */
  microsoftSeller?: Person;
  /** The customer's consent as Partner Center records it; converting needs it. */
  consent: { shareWithOthers?: boolean; contact?: boolean; shareWithMicrosoftSellers?: boolean };
  /** Solutions, products and industries the lead names (free strings: enums are open). */
  requirements: { industries: string[]; products: string[]; services: string[]; solutions: string[] };
  updatedAt: Date;
  /** Partner Center's concurrency token; every write back carries the one it was decided on. */
  eTag: string;
}

export function emptySubstages(): LifecycleSnapshot["substages"] {
  return { qualify: { complete: false }, evaluate: { complete: false } };
}

export function displayName(person: Person | undefined): string {
  if (!person) return "";
  return [person.firstName, person.lastName].filter(Boolean).join(" ") || person.email || "";
}
