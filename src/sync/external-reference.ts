import { adaptReferral, parseReferral } from "../partner-center/adapter.js";
import type { ReferralClient } from "../partner-center/client.js";
import { ReferralConflictError } from "../partner-center/errors.js";
import type { WireReferral } from "../partner-center/wire.js";
import { perJob } from "../queue/per-job.js";
import type { JobHandler, JobOutcome } from "../queue/types.js";
import type { Clock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import type { NewJob, OutboxJob, Store } from "../store/index.js";
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

async function writeOnce(options: { store: Store; clock: Clock; clients: Map<string, ReferralClient> }, job: OutboxJob): Promise<JobOutcome> {
  const payload = job.payload as ExternalReferencePayload;
  const client = options.clients.get(payload.account);
  if (!client) throw new CosellError("SYNC_UNKNOWN_ACCOUNT", `No Partner Center account "${payload.account}" is open in this daemon; drop the job with \`cosell-sync outbox drop ${job.id}\`.`);
  const lead = await options.store.reads.leads.findByReferralId(payload.account, payload.referralId);
  if (!lead) throw new CosellError("SYNC_LEAD_UNKNOWN", `Lead ${payload.referralId} is not in the store of account ${payload.account}.`);
  let referral: WireReferral = parseReferral(lead.raw);
  for (let round = 0; round < 4; round += 1) {
    if (referral.externalReferenceId) return { ok: true };
    // A closed referral cannot be modified; the link lives on in the store.
    if (String(referral.status ?? "").toLowerCase() === "closed") return { ok: true };
    try {
      referral = await client.patch(referral.id, [{ op: "add", path: "/externalReferenceId", value: payload.crmRecordId }], referral.eTag ?? "");
    } catch (error) {
      if (!(error instanceof ReferralConflictError)) throw error;
      referral = error.current;
      continue;
    } finally {
      await save(options, payload, lead.id, referral);
    }
    return { ok: true };
  }
  throw new CosellError("PC_PUSH_CONTENDED", `Lead ${payload.referralId} kept changing while its CRM id was written back; retried later.`, { retryable: true });
}

async function save(options: { store: Store; clock: Clock }, payload: ExternalReferencePayload, leadId: number, referral: WireReferral): Promise<void> {
  const now = options.clock.now();
  await options.store.transaction(async (repos) => {
    const saved = await repos.leads.save(leadInputFrom(payload.account, adaptReferral(referral)), now);
    if (saved.outcome === "updated") await repos.events.append({ leadId, pair: payload.pair, at: now, side: "partner-center", kind: "external-reference-written", cause: `Partner Center now names ${payload.pair}'s record ${payload.crmRecordId}`, details: { eTag: referral.eTag } });
  });
}
