import { acceptBy, actBy } from "../domain/deadlines.js";
import type { AdaptedReferral } from "../partner-center/adapter.js";
import { contentHash } from "../shared/content-hash.js";
import type { LeadInput } from "../store/index.js";

/** The store's row for a referral: canonical columns, deadlines, hash and the raw record. */
export function leadInputFrom(account: string, adapted: AdaptedReferral): LeadInput {
  const { lead, remote, referral } = adapted;
  const completedAt = (stage: { complete: boolean; completedAt?: Date }) => (stage.complete ? (stage.completedAt ?? lead.updatedAt) : undefined);
  const input: LeadInput = {
    account,
    referralId: lead.referralId,
    program: lead.program,
    name: lead.name,
    state: lead.state,
    status: remote.status,
    substatus: remote.substatus,
    eTag: lead.eTag,
    remoteCreatedAt: lead.receivedAt,
    remoteUpdatedAt: lead.updatedAt,
    acceptBy: acceptBy(lead),
    contentHash: contentHash(referral),
    raw: referral,
  };
  const optional: Partial<LeadInput> = {
    engagementId: lead.engagementId,
    statusReason: remote.statusReason,
    qualifyCompletedAt: completedAt(lead.substages.qualify),
    evaluateCompletedAt: completedAt(lead.substages.evaluate),
    ownerEmail: lead.owner?.email,
    remoteAcceptedAt: lead.acceptedAt,
    remoteClosedAt: lead.closedAt,
    expiresAt: lead.expiresAt,
    actBy: actBy(lead),
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) (input as unknown as Record<string, unknown>)[key] = value;
  return input;
}
