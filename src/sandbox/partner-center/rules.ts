import type { WireReferral, WireSubstage } from "../../partner-center/wire.js";
import { JOINT_PLANNING } from "../../partner-center/wire.js";
import { invalidRequest, SandboxHttpError } from "./sandbox-error.js";

/**
 * Partner Center's rules as the sandbox enforces them, on the wire shape. Written apart from
 * src/domain on purpose: the contract suite then checks our lifecycle against a second reading of
 * the documentation instead of against itself.
 */
const SUBSTATUS_BY_STATUS: Record<string, readonly string[]> = {
  new: ["pending", "received"],
  active: ["accepted"],
  closed: ["won", "lost", "declined", "expired"],
};
const NEXT_STATUS: Record<string, readonly string[]> = { new: ["new", "active", "closed"], active: ["active", "closed"], closed: [] };

/** Fields only Partner Center sets. */
export const READ_ONLY_PATHS = ["/id", "/eTag", "/createdDateTime", "/updatedDateTime", "/acceptedDateTime", "/closedDateTime", "/expirationDateTime", "/engagementId", "/referralProgram", "/direction", "/type", "/organizationId", "/organizationName", "/links"];

const lower = (value: string | undefined) => (value ?? "").toLowerCase();
const isComplete = (stage: WireSubstage | undefined) => lower(stage?.status) === lower(JOINT_PLANNING.substageComplete);
const stage = (referral: WireReferral, name: string) => referral.details?.substages?.find((s) => lower(s.name) === lower(name));

export function isTerminalReferral(referral: WireReferral): boolean {
  return lower(referral.status) === "closed";
}

/** Checks `after` (the patched record) against `before`; throws the error Partner Center would send. */
export function validateChange(before: WireReferral, after: WireReferral): void {
  if (isTerminalReferral(before)) {
    throw invalidRequest(`The referral is closed (${before.substatus ?? "Closed"}) and cannot be modified.`, "status");
  }
  const from = lower(before.status);
  const to = lower(after.status);
  if (!(to in SUBSTATUS_BY_STATUS)) throw invalidRequest(`"${after.status}" is not a valid status.`, "status");
  if (!NEXT_STATUS[from]?.includes(to)) throw invalidRequest(`A referral cannot move from ${before.status} to ${after.status}.`, "status");
  const substatus = lower(after.substatus);
  if (!SUBSTATUS_BY_STATUS[to]?.includes(substatus)) {
    throw invalidRequest(`Substatus "${after.substatus}" is not valid with status ${after.status}.`, "substatus");
  }

  if (from === "new" && to === "active") {
    const owner = (after.team ?? []).find((member) => member.email && (member.firstName || member.lastName));
    if (!owner) throw invalidRequest("Add the partner seller who will own the lead (name and email) to the team before accepting it.", "team");
  }

  if (to === "closed") {
    const statusReason = (after.statusReason ?? "").trim();
    const inError = statusReason.startsWith(JOINT_PLANNING.errorReasonPrefix);
    // Closing in error is Lost with an "Error:" reason; the prefix alone is no reason.
    const reason = inError ? statusReason.slice(JOINT_PLANNING.errorReasonPrefix.length).trim() : statusReason;
    if (substatus === "expired") throw invalidRequest("Only Partner Center expires a referral.", "substatus");
    if (substatus === "declined" && from !== "new") throw invalidRequest("Only a new referral can be declined.", "substatus");
    if ((substatus === "declined" || substatus === "lost") && reason === "") {
      throw invalidRequest(`A reason is required to close a referral as ${after.substatus}.`, "statusReason");
    }
    if (substatus === "lost" && from === "new" && !inError) throw invalidRequest("A referral that was never accepted is declined, not lost.", "substatus");
    if (substatus === "won" && from === "new") throw invalidRequest("Accept the referral and complete Qualify and Evaluate before closing it as won.", "status");
    if (substatus === "won" && !(isComplete(stage(after, JOINT_PLANNING.qualify)) && isComplete(stage(after, JOINT_PLANNING.evaluate)))) {
      throw invalidRequest("Qualify and Evaluate must both be complete before the lead is won or converted.", "details.substages");
    }
  }

  for (const name of [JOINT_PLANNING.qualify, JOINT_PLANNING.evaluate]) {
    const was = isComplete(stage(before, name));
    const now = isComplete(stage(after, name));
    if (was && !now) throw invalidRequest(`${name} is complete and cannot be reopened.`, "details.substages");
    if (!was && now && to !== "active" && !(to === "closed" && from === "active")) {
      throw invalidRequest(`${name} can be completed only on an accepted referral.`, "details.substages");
    }
  }
  if (isComplete(stage(after, JOINT_PLANNING.evaluate)) && !isComplete(stage(after, JOINT_PLANNING.qualify))) {
    throw invalidRequest("Complete Qualify before Evaluate.", "details.substages");
  }
}

/** What a created referral must carry (the conversion's co-sell referral included). */
export function validateCreate(body: Record<string, unknown>): void {
  const referral = body as Partial<WireReferral>;
  if (typeof referral.name !== "string" || referral.name.trim() === "") throw invalidRequest("name is required.", "name");
  const customer = referral.customerProfile;
  if (!customer?.name) throw invalidRequest("customerProfile.name is required.", "customerProfile.name");
  const country = customer.address?.country;
  if (!country || !/^[A-Z]{2}$/.test(country)) throw invalidRequest("customerProfile.address.country must be an ISO 3166 alpha-2 code.", "customerProfile.address.country");
  if (!customer.team?.some((member) => member.email)) throw invalidRequest("A customer contact with an email is required.", "customerProfile.team");
  if (!referral.consent) throw invalidRequest("consent is required.", "consent");
  if (referral.type && !["independent", "shared"].includes(lower(referral.type))) throw invalidRequest(`"${referral.type}" is not a valid type.`, "type");
}

export function preconditionFailed(): SandboxHttpError {
  return new SandboxHttpError(412, "preconditionFailed", "The referral has been modified since the supplied eTag.", "If-Match");
}
