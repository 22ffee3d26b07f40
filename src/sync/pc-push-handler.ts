import type { LeadAction, Person } from "../domain/index.js";
import { isTerminal, planTransition } from "../domain/index.js";
import type { Logger } from "../log/logger.js";
import type { InboundIntent } from "../mapping/index.js";
import { desiredOutcome } from "../mapping/index.js";
import type { ReferralRequest } from "../partner-center/adapter.js";
import { adaptParsedReferral, adaptReferral, parseReferral, requestsForSteps, teamMemberOperation } from "../partner-center/adapter.js";
import type { ReferralClient } from "../partner-center/client.js";
import { PartnerCenterError, ReferralConflictError } from "../partner-center/errors.js";
import type { JsonPatchOperation, WireReferral } from "../partner-center/wire.js";
import { perJob } from "../queue/per-job.js";
import type { JobHandler, JobOutcome } from "../queue/types.js";
import { isShutdown } from "../queue/shutdown.js";
import type { OwnerDirectory } from "../routing/owner-directory.js";
import type { Clock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import type { LeadRecord, OutboxJob, Repositories, Store } from "../store/index.js";
import type { PairTarget } from "./enqueue-crm-upsert.js";
import { enqueueCrmUpsert } from "./enqueue-crm-upsert.js";
import { leadInputFrom } from "./lead-record.js";
import type { PcPushPayload } from "./poll-seller-changes.js";

/** A pair as the push side sees it: its mapping, and who accepts when the lead names no partner seller. */
export interface PushPair extends PairTarget {
  acceptAs?: Person;
  /** The pair CRM's users: the record's owner becomes the partner seller Partner Center is told about. */
  owners?: OwnerDirectory;
}

export interface PushAccount {
  client: ReferralClient;
  /** Every enabled pair on the account (a push's result is mapped to all their CRMs). */
  pairs: () => PushPair[];
}

export interface PcPushOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  accounts: Map<string, PushAccount>;
  /** After a push queued CRM upserts (the daemon wakes its worker). */
  onQueued?: () => void;
}

/** A 412 re-reads and re-plans; after this many in one attempt the job backs off and tries later. */
const MAX_REPLANS = 4;

/**
 * Seller's CRM edit → Partner Center: reads the edit through the pair's mapping, plans it with the
 * lifecycle rules on the lead as last stored, and sends the planned requests, each patch with the
 * eTag it was planned on. A 412 brings the current record: it is stored and the edit re-planned on
 * it. A change the rules (or Partner Center) refuse is not sent again: its reason goes to the CRM
 * record's sync-error field and the lead's timeline. Every accepted patch is stored at once and
 * mapped back to each CRM of the account, so a crash between steps resumes from what Partner
 * Center already has.
 */
export function pcPushHandler(options: PcPushOptions): JobHandler {
  return perJob((job) => pushOne(options, job));
}

async function pushOne(options: PcPushOptions, job: OutboxJob): Promise<JobOutcome> {
  const payload = job.payload as PcPushPayload;
  const account = options.accounts.get(payload.account);
  if (!account) throw new CosellError("SYNC_UNKNOWN_ACCOUNT", `No Partner Center account "${payload.account}" is open in this daemon; was it removed from the config? Drop the job with \`cosell-sync outbox drop ${job.id}\`.`);
  const pair = account.pairs().find((p) => p.pair === payload.pair);
  if (!pair) throw new CosellError("SYNC_UNKNOWN_PAIR", `The pair "${payload.pair}" is not enabled; enable it or drop the job with \`cosell-sync outbox drop ${job.id}\`.`);
  const lead = await options.store.reads.leads.findByReferralId(payload.account, payload.referralId);
  if (!lead) throw new CosellError("SYNC_LEAD_UNKNOWN", `Lead ${payload.referralId} is not in the store of account ${payload.account}.`);
  const asked = payload.changed ? Object.fromEntries(payload.changed.filter((field) => field in payload.fields).map((field) => [field, payload.fields[field]])) : payload.fields;
  const intent = pair.mapping.inbound(asked);
  const push = new Push(options, account, pair, lead, payload);
  if (intent.problems.length > 0) return push.refuse("MAPPING_UNKNOWN_STATUS", intent.problems.map((p) => p.message).join(" "));

  // The record's owner as the CRM shows it now (not only when it changed): on acceptance it is the
  // partner seller Partner Center needs; after it, a new owner joins the lead's team.
  const ownerField = pair.mapping.inboundOwnerField();
  // Only the owner field goes through the mapping (its text conversion), not the whole record again.
  const ownerRef = ownerField && ownerField in payload.fields ? pair.mapping.inbound({ [ownerField]: payload.fields[ownerField] }).ownerRef : undefined;
  // Only a change against a known owner counts: without one, the field says nothing about a move.
  const ownerMoved = ownerField !== undefined && payload.changed !== undefined && payload.changed.includes(ownerField);
  let crmOwner: Person | undefined;
  let ownerLooked = false;
  // An accept must not wait on the CRM (its rate limit, an outage) while its deadline runs: without
  // the owner it goes with the seller on the lead or the pair's acceptAs, and says so. A reassignment
  // has no such hurry: it is retried.
  const ownerPerson = async (orFallback: boolean) => {
    if (!ownerLooked && ownerRef && pair.owners) {
      try {
        crmOwner = await pair.owners.person(ownerRef);
      } catch (error) {
        // A stopping daemon hands the push back rather than accept with a stand-in.
        if (!orFallback || isShutdown(error)) throw error;
        push.note(`the record's owner could not be read from the CRM (${(error as Error).message}); the seller on the lead or the pair's acceptAs was used`);
      }
    }
    ownerLooked = true;
    return crmOwner;
  };

  let referral = parseReferral(lead.raw);
  for (let round = 0; round < MAX_REPLANS; round += 1) {
    const adapted = adaptParsedReferral(referral);
    const now = options.clock.now();
    let steps: LeadAction[] = [];
    if (intent.lifecycle) {
      const owner = (adapted.lead.state === "new" ? await ownerPerson(true) : undefined) ?? adapted.lead.owner ?? pair.acceptAs;
      const plan = planTransition(adapted.lead, desiredOutcome(intent.lifecycle, owner), now);
      if (!plan.ok) return push.refuse(plan.violation.code, plan.violation.message);
      steps = plan.steps;
    }
    const working = !isTerminal(adapted.lead.state) && adapted.lead.state !== "new";
    const reassigned = working && ownerMoved ? await ownerPerson(false) : undefined;
    const join = reassigned ? teamMemberOperation(referral, reassigned) : undefined;
    if (join) push.note(`${reassigned?.email ?? "the new owner"} added to the team: the record's owner in the CRM changed`);
    const values = [...(isTerminal(adapted.lead.state) && steps.length === 0 ? [] : valueOperations(referral, intent.changes)), ...(join ? [join] : [])];
    const requests = withValues(requestsForSteps(referral, steps), values);
    if (requests.length === 0) return push.settled("Partner Center already shows this");
    try {
      for (const request of requests) {
        if (request.kind === "create") {
          const existing = await sharedReferralOf(account.client, referral);
          if (existing) push.note(`the Shared referral ${existing} already exists (a resumed conversion)`);
          else await account.client.create(request.referral);
          continue;
        }
        referral = await account.client.patch(referral.id, request.operations, referral.eTag ?? "");
        await push.store(referral, "a seller's change accepted by Partner Center", true);
      }
    } catch (error) {
      if (error instanceof ReferralConflictError) {
        referral = error.current;
        await push.store(referral, "re-read after a 412: the lead changed in Partner Center while the push was planned", false);
        continue;
      }
      if (error instanceof PartnerCenterError && error.code === "PC_INVALID_REQUEST") {
        const said = (error.details as { remoteMessage?: string }).remoteMessage;
        return push.refuse("PC_INVALID_REQUEST", said ? `Partner Center refused the change: ${said}` : error.message);
      }
      throw error;
    }
    return push.done(steps);
  }
  throw new CosellError("PC_PUSH_CONTENDED", `Lead ${payload.referralId} kept changing in Partner Center while the seller's change was pushed (${MAX_REPLANS} re-plans); it is retried later.`, { retryable: true });
}

/** The work of one job: where it records, what it tells the seller. */
class Push {
  readonly #notes: string[] = [];

  constructor(
    private readonly options: PcPushOptions,
    private readonly account: PushAccount,
    private readonly pair: PushPair,
    private readonly lead: LeadRecord,
    private readonly payload: PcPushPayload,
  ) {}

  /** Said once, however many times a 412 has the push re-planned. */
  note(text: string): void {
    if (!this.#notes.includes(text)) this.#notes.push(text);
  }

  /** Stores the record Partner Center returned and maps it to every CRM of the account. */
  async store(referral: WireReferral, cause: string, clearError: boolean): Promise<void> {
    const now = this.options.clock.now();
    const adapted = adaptParsedReferral(referral);
    let queued = false;
    await this.options.store.transaction(async (repos) => {
      if (clearError) await this.#setError(repos, undefined, now);
      const saved = await repos.leads.save(leadInputFrom(this.payload.account, adapted), now);
      if (saved.outcome !== "unchanged") {
        await repos.events.append({ leadId: saved.lead.id, at: now, side: "partner-center", kind: "lead-changed", cause, details: { state: adapted.lead.state, eTag: adapted.lead.eTag } });
      }
      for (const pair of this.account.pairs()) if (await enqueueCrmUpsert(repos, pair, saved, adapted, now, cause)) queued = true;
    });
    if (queued) this.options.onQueued?.();
  }

  async done(steps: LeadAction[]): Promise<JobOutcome> {
    const now = this.options.clock.now();
    await this.options.store.repos.events.append({
      leadId: this.lead.id,
      pair: this.pair.pair,
      at: now,
      side: "partner-center",
      kind: "pc-pushed",
      cause: steps.length > 0 ? steps.map((s) => s.type).join(" → ") : "values updated",
      details: { steps: steps.map((s) => s.type), crmRecord: this.payload.crmRecordId, ...(this.#notes.length > 0 ? { notes: this.#notes } : {}) },
    });
    return { ok: true };
  }

  /** Nothing to send: Partner Center already shows what the seller asks. A stale refusal is cleared. */
  async settled(cause: string): Promise<JobOutcome> {
    const now = this.options.clock.now();
    let queued = false;
    await this.options.store.transaction(async (repos) => {
      const cleared = await this.#setError(repos, undefined, now);
      await repos.events.append({ leadId: this.lead.id, pair: this.pair.pair, at: now, side: "daemon", kind: "push-not-needed", cause, details: { fields: this.payload.fields } });
      if (cleared) queued = await this.#remap(repos, now, "sync error cleared");
    });
    if (queued) this.options.onQueued?.();
    return { ok: true };
  }

  /** The change is not sent: the seller sees why on the record, and the timeline keeps it. */
  async refuse(code: string, message: string): Promise<JobOutcome> {
    const now = this.options.clock.now();
    let queued = false;
    await this.options.store.transaction(async (repos) => {
      await this.#setError(repos, message, now);
      await repos.events.append({ leadId: this.lead.id, pair: this.pair.pair, at: now, side: "daemon", kind: "push-refused", cause: message, details: { code, fields: this.payload.fields, by: this.payload.modifiedBy } });
      queued = await this.#remap(repos, now, "refusal shown to the seller");
    });
    if (queued) this.options.onQueued?.();
    return { ok: true };
  }

  async #setError(repos: Repositories, error: string | undefined, now: Date): Promise<boolean> {
    const name = this.pair.mapping.inboundTarget()?.name;
    if (!name) return false;
    const link = await repos.crmLinks.reserve(this.lead.id, this.pair.pair, name, now);
    if ((link.syncError ?? undefined) === error) return false;
    await repos.crmLinks.setSyncError(link.id, error, now);
    return true;
  }

  async #remap(repos: Repositories, now: Date, cause: string): Promise<boolean> {
    const fresh = await repos.leads.findById(this.lead.id);
    if (!fresh) return false;
    return enqueueCrmUpsert(repos, this.pair, { lead: fresh }, adaptReferral(fresh.raw), now, cause);
  }
}

/** Deal value, currency, close date and notes the seller changed, as patch operations. */
function valueOperations(referral: WireReferral, changes: InboundIntent["changes"]): JsonPatchOperation[] {
  const details = (referral.details ?? {}) as Record<string, unknown>;
  const wanted: Record<string, unknown> = {};
  if (changes.dealValue !== undefined && Number(details.dealValue) !== changes.dealValue) wanted.dealValue = changes.dealValue;
  if (changes.currency !== undefined && details.currency !== changes.currency) wanted.currency = changes.currency;
  if (changes.closingAt !== undefined && Date.parse(String(details.closingDateTime ?? "")) !== changes.closingAt.getTime()) wanted.closingDateTime = changes.closingAt.toISOString();
  if (changes.notes !== undefined && details.notes !== changes.notes) wanted.notes = changes.notes;
  if (Object.keys(wanted).length === 0) return [];
  if (!referral.details) return [{ op: "add", path: "/details", value: wanted }];
  return Object.entries(wanted).map(([field, value]) => ({ op: "add", path: `/details/${field}`, value }));
}

/** Values ride in the first patch (before a conversion's create, so the Shared referral carries them). */
function withValues(requests: ReferralRequest[], values: JsonPatchOperation[]): ReferralRequest[] {
  if (values.length === 0) return requests;
  const [first, ...rest] = requests;
  if (first?.kind === "patch") return [{ kind: "patch", operations: [...values, ...first.operations] }, ...rest];
  return [{ kind: "patch", operations: values }, ...requests];
}

/**
 * The Shared referral a conversion created earlier (a crash after the create, before the lead
 * closed): found by the engagement id the two share, so a resumed conversion never creates twice.
 */
async function sharedReferralOf(client: ReferralClient, lead: WireReferral): Promise<string | undefined> {
  if (!lead.engagementId) return undefined;
  for await (const page of client.listChanged({ filter: `engagementId eq '${lead.engagementId.replace(/'/g, "''")}'` })) {
    const shared = page.items.find((item) => item.id !== lead.id && String(item.type ?? "").toLowerCase() === "shared");
    if (shared) return shared.id;
  }
  return undefined;
}
