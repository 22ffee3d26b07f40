import { adaptReferral, parseReferral } from "../partner-center/adapter.js";
import type { ReferralClient } from "../partner-center/client.js";
import { ReferralConflictError } from "../partner-center/errors.js";
import type { WireReferral } from "../partner-center/wire.js";
import type { CountedOutcome } from "../queue/per-job.js";
import { PER_JOB_BATCH, perJob } from "../queue/per-job.js";
import type { JobHandler } from "../queue/types.js";
import type { Clock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import type { NewJob, NewLeadEvent, OutboxJob, Repositories, Store } from "../store/index.js";
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

/** Partner Center's answer to one write-back, stored when the batch settles. */
interface Answer {
  payload: ExternalReferencePayload;
  leadId: number;
  referral: WireReferral;
}

/**
 * Writes the CRM record id to the referral's `externalReferenceId`, once: a referral that already
 * has one (another pair's CRM got there first, or an admin set it) is left as it is. What Partner
 * Center answered is stored for the whole batch at once as it settles (the next pull would bring it
 * too): a few statements per batch instead of four per lead, on the one SQLite writer a backfill
 * keeps busy.
 */
export function externalReferenceHandler(options: { store: Store; clock: Clock; clients: Map<string, ReferralClient> }): JobHandler {
  return {
    maxJobs: PER_JOB_BATCH,
    async handle(jobs, context) {
      const answers: Answer[] = [];
      const result = await perJob((job) => writeOnce(options, job, answers)).handle(jobs, context);
      if (answers.length === 0) return result;
      return { ...result, commit: (repos) => saveAnswers(repos, options.clock.now(), answers) };
    },
  };
}

async function writeOnce(options: { store: Store; clock: Clock; clients: Map<string, ReferralClient> }, job: OutboxJob, answers: Answer[]): Promise<CountedOutcome> {
  const payload = job.payload as ExternalReferencePayload;
  const client = options.clients.get(payload.account);
  if (!client) throw new CosellError("SYNC_UNKNOWN_ACCOUNT", `No Partner Center account "${payload.account}" is open in this daemon; drop the job with \`cosell-sync outbox drop ${job.id}\`.`);
  const lead = await options.store.reads.leads.findByReferralId(payload.account, payload.referralId);
  if (!lead) throw new CosellError("SYNC_LEAD_UNKNOWN", `Lead ${payload.referralId} is not in the store of account ${payload.account}.`);
  const stored: WireReferral = parseReferral(lead.raw);
  let referral = stored;
  const done = (): CountedOutcome => {
    if (referral !== stored) answers.push({ payload, leadId: lead.id, referral });
    return { ok: true };
  };
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
 * Stores Partner Center's answers, except where a pull stored a later version of a referral while
 * the batch ran: that one is kept, not rolled back.
 */
async function saveAnswers(repos: Repositories, now: Date, answers: readonly Answer[]): Promise<void> {
  const saved = await repos.leads.saveMany(
    answers.map(({ payload, referral }) => leadInputFrom(payload.account, adaptReferral(referral))),
    now,
    { keepNewer: true },
  );
  const events: NewLeadEvent[] = [];
  for (const [index, { payload, leadId, referral }] of answers.entries()) {
    const lead = saved[index];
    if (lead?.outcome !== "updated" && !lead?.newerKept) continue;
    events.push({ leadId, pair: payload.pair, at: now, side: "partner-center", kind: "external-reference-written", cause: `Partner Center now names ${payload.pair}'s record ${payload.crmRecordId}`, details: { eTag: referral.eTag } });
  }
  await repos.events.appendMany(events);
}
