import type { Lead, LeadAction, LeadState, Person, SubstageProgress } from "../domain/index.js";
import { CosellError } from "../shared/errors.js";
import type { JsonPatchOperation, WireMember, WireReferral, WireSubstage } from "./wire.js";
import { JOINT_PLANNING, STATUS, SUBSTATUS, wireReferralSchema } from "./wire.js";

/**
 * The one place where a wire referral becomes a domain `Lead` and a lifecycle step becomes wire
 * requests. Everything downstream speaks `Lead`; everything upstream speaks JSON.
 */
export interface AdaptedReferral {
  lead: Lead;
  /** Partner Center's own status strings, kept verbatim for the store and the status page. */
  remote: { status: string; substatus: string; statusReason?: string; direction?: string; type?: string; externalReferenceId?: string };
  /** The record as parsed (unknown fields kept) for storing raw and for building patches. */
  referral: WireReferral;
}

export function parseReferral(raw: unknown): WireReferral {
  const parsed = wireReferralSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CosellError(
      "PC_RECORD_INVALID",
      "Partner Center returned a referral without an id; it was skipped. If this repeats, capture the record with --log-level debug and report it.",
      { details: { issues: parsed.error.issues.map((issue) => issue.message) } },
    );
  }
  return parsed.data;
}

export function adaptReferral(raw: unknown): AdaptedReferral {
  return adaptParsedReferral(parseReferral(raw));
}

/**
 * `adaptReferral` for a referral `parseReferral` already checked: the client parses every record it
 * returns, and parsing a page's referrals again was a fifth of a backfill's allocations (3.1 against
 * 2.5 GB per 10,000 leads in a heap profile).
 */
export function adaptParsedReferral(referral: WireReferral): AdaptedReferral {
  const substages = substageProgress(referral.details?.substages);
  const status = referral.status ?? STATUS.new;
  const substatus = referral.substatus ?? "";
  const team = (referral.team ?? []).map(toPerson);
  const receivedAt = date(referral.createdDateTime) ?? date(referral.updatedDateTime) ?? new Date(0);
  const state = stateOf(status, substatus, referral.statusReason, substages);
  const closedAt = date(referral.closedDateTime);
  const consent = referral.consent;
  const lead: Lead = {
    referralId: referral.id,
    ...(referral.engagementId ? { engagementId: referral.engagementId } : {}),
    program: referral.referralProgram ?? "",
    name: referral.name ?? referral.customerProfile?.name ?? referral.id,
    state,
    receivedAt,
    ...optionalDate("expiresAt", referral.expirationDateTime),
    ...optionalDate("acceptedAt", referral.acceptedDateTime),
    ...(closedAt ? { closedAt } : {}),
    ...(referral.statusReason && state !== "won" && state !== "converted" ? { closeReason: closeReasonOf(referral.statusReason) } : {}),
    ...(team[0] ? { owner: team[0] } : {}),
    substages,
    customer: {
      name: referral.customerProfile?.name ?? "",
      ...(referral.customerProfile?.address ? { address: stripUndefined(referral.customerProfile.address) } : {}),
      ...(referral.customerProfile?.size ? { size: referral.customerProfile.size } : {}),
      contacts: (referral.customerProfile?.team ?? []).map(toPerson),
    },
    deal: stripUndefined({
      value: dealValue(referral.details?.dealValue),
      currency: referral.details?.currency,
      closingAt: date(referral.details?.closingDateTime),
      notes: referral.details?.notes,
    }),
    team,
    ...(referral.inviteContext?.sender ? { microsoftSeller: toPerson(referral.inviteContext.sender) } : {}),
    consent: stripUndefined({
      shareWithOthers: consent?.consentToShareInfoWithOthers ?? consent?.consentToToShareInfoWithOthers,
      contact: consent?.consentToContact,
      shareWithMicrosoftSellers: consent?.consentToShareReferralWithMicrosoftSellers,
    }),
    requirements: {
      industries: referral.details?.requirements?.industries ?? [],
      products: referral.details?.requirements?.products ?? [],
      services: referral.details?.requirements?.services ?? [],
      solutions: (referral.details?.requirements?.solutions ?? []).map((s) => s.name ?? s.id ?? "").filter(Boolean),
    },
    updatedAt: date(referral.updatedDateTime) ?? receivedAt,
    eTag: referral.eTag ?? "",
  };
  return {
    lead,
    remote: stripUndefined({
      status,
      substatus,
      statusReason: referral.statusReason,
      direction: referral.direction,
      type: referral.type,
      externalReferenceId: referral.externalReferenceId,
    }),
    referral,
  };
}

/** Status + substatus + substages → lifecycle state. Unknown values fall back without failing. */
export function stateOf(status: string, substatus: string, statusReason: string | undefined, substages: Lead["substages"]): LeadState {
  const s = status.toLowerCase();
  const sub = substatus.toLowerCase();
  if (s === STATUS.closed.toLowerCase()) {
    if (statusReason?.startsWith(JOINT_PLANNING.errorReasonPrefix)) return "closed-in-error";
    if (sub === SUBSTATUS.won.toLowerCase()) return statusReason === JOINT_PLANNING.convertedReason ? "converted" : "won";
    if (sub === SUBSTATUS.declined.toLowerCase()) return "declined";
    if (sub === SUBSTATUS.expired.toLowerCase()) return "expired";
    return "lost";
  }
  if (s === STATUS.active.toLowerCase()) {
    if (substages.evaluate.complete && substages.qualify.complete) return "evaluated";
    if (substages.qualify.complete) return "qualified";
    return "accepted";
  }
  return "new";
}

function substageProgress(substages: WireSubstage[] | undefined): Lead["substages"] {
  const find = (name: string): SubstageProgress => {
    const entry = substages?.find((s) => s.name.toLowerCase() === name.toLowerCase());
    if (!entry || entry.status.toLowerCase() !== JOINT_PLANNING.substageComplete.toLowerCase()) return { complete: false };
    const at = date(entry.completedDateTime);
    return at ? { complete: true, completedAt: at } : { complete: true };
  };
  return { qualify: find(JOINT_PLANNING.qualify), evaluate: find(JOINT_PLANNING.evaluate) };
}

function closeReasonOf(statusReason: string): string {
  return statusReason.startsWith(JOINT_PLANNING.errorReasonPrefix) ? statusReason.slice(JOINT_PLANNING.errorReasonPrefix.length).trim() : statusReason;
}

/** Documented as a number; the examples send a string. Anything else is "unknown". */
export function dealValue(value: number | string | undefined): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && value.trim() !== "") {
    const parsed = Number(value.replace(/[, ]/g, ""));
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

function toPerson(member: WireMember): Person {
  return stripUndefined({
    firstName: member.firstName,
    lastName: member.lastName,
    email: member.email,
    phoneNumber: member.phoneNumber,
    title: member.title,
  });
}

/**
 * Adds a partner seller to the lead's team, unless someone with that email is on it already (a
 * seller Microsoft tagged, or one an earlier push added). A person without an email is added as
 * given: Partner Center's own rules then say what is missing.
 */
export function teamMemberOperation(referral: WireReferral, person: Person): JsonPatchOperation | undefined {
  const email = person.email?.trim().toLowerCase();
  const team = referral.team ?? [];
  if (email && team.some((member) => member.email?.trim().toLowerCase() === email)) return undefined;
  return team.length > 0 || referral.team ? { op: "add", path: "/team/-", value: toMember(person) } : { op: "add", path: "/team", value: [toMember(person)] };
}

export function toMember(person: Person): WireMember {
  return stripUndefined({
    firstName: person.firstName,
    lastName: person.lastName,
    email: person.email,
    phoneNumber: person.phoneNumber,
    title: person.title,
  });
}

function date(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

function optionalDate<K extends string>(key: K, value: string | undefined): Partial<Record<K, Date>> {
  const parsed = date(value);
  return parsed ? ({ [key]: parsed } as Record<K, Date>) : {};
}

function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

/** What to send to Partner Center for a planned walk: patches on the lead, a create for a conversion. */
export type ReferralRequest =
  | { kind: "patch"; operations: JsonPatchOperation[] }
  | { kind: "create"; referral: Record<string, unknown> };

/**
 * Turns the domain's ordered steps into requests. Consecutive steps are merged into one PATCH
 * (Partner Center applies a patch document atomically); a conversion creates the Shared referral
 * first, then closes the lead, so a failed create leaves the lead open to retry.
 */
export function requestsForSteps(referral: WireReferral, steps: readonly LeadAction[]): ReferralRequest[] {
  const requests: ReferralRequest[] = [];
  let pending: JsonPatchOperation[] = [];
  let substages = [...(referral.details?.substages ?? [])];
  const flush = () => {
    if (pending.length > 0) requests.push({ kind: "patch", operations: pending });
    pending = [];
  };
  const close = (substatus: string, reason?: string) => {
    pending.push({ op: "replace", path: "/status", value: STATUS.closed }, { op: "replace", path: "/substatus", value: substatus });
    // `add`, not `replace`: RFC 6902 refuses to replace a member the record does not have yet, and
    // `add` on an object member sets it either way.
    if (reason !== undefined) pending.push({ op: "add", path: "/statusReason", value: reason });
  };
  const complete = (name: string) => {
    const index = substages.findIndex((s) => s.name.toLowerCase() === name.toLowerCase());
    if (index >= 0) {
      pending.push({ op: "replace", path: `/details/substages/${index}/status`, value: JOINT_PLANNING.substageComplete });
      substages = substages.map((entry, i) => (i === index ? { ...entry, status: JOINT_PLANNING.substageComplete } : entry));
    } else {
      // A record without the substage list gets the whole list, so later indexes are known.
      substages = [JOINT_PLANNING.qualify, JOINT_PLANNING.evaluate].map((n) => {
        const existing = substages.find((s) => s.name.toLowerCase() === n.toLowerCase());
        return n === name ? { name: n, status: JOINT_PLANNING.substageComplete } : (existing ?? { name: n, status: JOINT_PLANNING.substageNotStarted });
      });
      // Emit a copy: later steps update `substages`, and an operation must not change after it is queued.
      const list = substages.map((entry) => ({ ...entry }));
      pending.push(referral.details ? { op: "add", path: "/details/substages", value: list } : { op: "add", path: "/details", value: { substages: list } });
    }
  };
  for (const step of steps) {
    switch (step.type) {
      case "accept": {
        pending.push({ op: "replace", path: "/status", value: STATUS.active }, { op: "replace", path: "/substatus", value: SUBSTATUS.accepted });
        const join = teamMemberOperation(referral, step.owner);
        if (join) pending.push(join);
        break;
      }
      case "decline":
        close(SUBSTATUS.declined, step.reason);
        break;
      case "completeQualify":
        complete(JOINT_PLANNING.qualify);
        break;
      case "completeEvaluate":
        complete(JOINT_PLANNING.evaluate);
        break;
      case "win":
        close(SUBSTATUS.won);
        break;
      case "lose":
        close(SUBSTATUS.lost, step.reason);
        break;
      case "closeInError":
        close(SUBSTATUS.lost, `${JOINT_PLANNING.errorReasonPrefix} ${step.reason}`);
        break;
      case "convert":
        flush();
        requests.push({ kind: "create", referral: conversionReferral(referral) });
        close(SUBSTATUS.won, JOINT_PLANNING.convertedReason);
        break;
      case "expire":
      case "lapse":
        throw new CosellError(
          "PC_NOT_A_REMOTE_ACTION",
          `"${step.type}" is decided by Partner Center's own clock and is never sent; the daemon only records it locally.`,
        );
    }
  }
  flush();
  return requests;
}

/** The co-sell (Shared) referral a conversion creates, pre-filled from the lead. */
function conversionReferral(lead: WireReferral): Record<string, unknown> {
  return stripUndefined({
    name: lead.name,
    engagementId: lead.engagementId,
    type: "Shared",
    direction: "Outgoing",
    qualification: lead.qualification ?? "SalesQualified",
    customerProfile: lead.customerProfile,
    consent: lead.consent,
    details: lead.details
      ? stripUndefined({ notes: lead.details.notes, dealValue: lead.details.dealValue, currency: lead.details.currency, closingDateTime: lead.details.closingDateTime, requirements: lead.details.requirements })
      : undefined,
    team: lead.team,
    inviteContext: { notes: lead.inviteContext?.notes, assistanceRequestCode: JOINT_PLANNING.conversionAssistance },
  });
}
