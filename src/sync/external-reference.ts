import { adaptReferral, parseReferral } from "../partner-center/adapter.js";
import type { ReferralClient } from "../partner-center/client.js";
import { ReferralConflictError } from "../partner-center/errors.js";
import type { WireReferral } from "../partner-center/wire.js";
import type { CountedOutcome } from "../queue/per-job.js";
import { perJob } from "../queue/per-job.js";
import type { JobHandler } from "../queue/types.js";
import type { Clock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import type { NewJob, OutboxJob, Repositories, Store } from "../store/index.js";
import { leadInputFrom } from "./lead-record.js";
import { PARTNER_CENTER_TARGET } from "./poll-seller-changes.js";

export const PC_EXTERNAL_REFERENCE = "pc-external-reference";

export interface ExternalReferencePayload {
  account: string;
  referralId: string;
  pair: string;
  crmRecordId: string;
}

/** Queued in the transaction that confirms a lead's first CRM record. */
export function externalReferenceJob(leadId: number, payload: ExternalReferencePayload, maxAttempts: number): NewJob {
  return { pair: payload.pair, target: PARTNER_CENTER_TARGET, kind: PC_EXTERNAL_REFERENCE, leadId, payload, maxAttempts };
}

/**
 * Writes the CRM record id to the referral's `externalReferenceId`, once: a referral that already
 * has one (another pair's CRM got there first, or an admin set it) is left as it is.
 */
export function externalReferenceHandler(options: { store: Store; clock: Clock; clients: Map<string, ReferralClient> }): JobHandler {
  return perJob((job) => writeOnce(options, job));
}

async function writeOnce(options: { store: Store; clock: Clock; clients: Map<string, ReferralClient> }, job: OutboxJob): Promise<CountedOutcome> {
  const payload = job.payload as ExternalReferencePayload;
  const client = options.clients.get(payload.account);
  if (!client) throw new CosellError("SYNC_UNKNOWN_ACCOUNT", `No Partner Center account "${payload.account}" is open in this daemon; drop the job with \`cosell-sync outbox drop ${job.id}\`.`);
  const lead = await options.store.reads.leads.findByReferralId(payload.account, payload.referralId);
  if (!lead) throw new CosellError("SYNC_LEAD_UNKNOWN", `Lead ${payload.referralId} is not in the store of account ${payload.account}.`);
  const stored: WireReferral = parseReferral(lead.raw);
  let referral = stored;
  // What Partner Center answered is stored as the batch settles (the next pull would bring it too).
  const done = (): CountedOutcome => ({ ok: true, ...(referral === stored ? {} : { commit: (repos: Repositories) => save(repos, options.clock, payload, lead.id, referral) }) });
  for (let round = 0; round < 4; round += 1) {
    if (referral.externalReferenceId) return done();
    // A closed referral cannot be modified; the link lives on in the store.
    if (String(referral.status ?? "").toLowerCase() === "closed") return done();
    try {
      referral = await client.patch(referral.id, [{ op: "add", path: "/externalReferenceId", value: payload.crmRecordId }], referral.eTag ?? "");
    } catch (error) {
      if (!(error instanceof ReferralConflictError)) throw error;
      referral = error.current;
      continue;
    }
    return done();
  }
  throw new CosellError("PC_PUSH_CONTENDED", `Lead ${payload.referralId} kept changing while its CRM id was written back; retried later.`, { retryable: true });
}

/**
 * Stores Partner Center's answer, unless a pull stored a later version of the referral while the
 * batch ran: that one is kept, not rolled back.
 */
async function save(repos: Repositories, clock: Clock, payload: ExternalReferencePayload, leadId: number, referral: WireReferral): Promise<void> {
  const now = clock.now();
  const input = leadInputFrom(payload.account, adaptReferral(referral));
  const current = await repos.leads.findByReferralId(payload.account, payload.referralId);
  const later = current !== undefined && current.remoteUpdatedAt.getTime() > input.remoteUpdatedAt.getTime();
  const saved = later ? { outcome: "updated" } : await repos.leads.save(input, now);
  if (saved.outcome === "updated") await repos.events.append({ leadId, pair: payload.pair, at: now, side: "partner-center", kind: "external-reference-written", cause: `Partner Center now names ${payload.pair}'s record ${payload.crmRecordId}`, details: { eTag: referral.eTag } });
}
