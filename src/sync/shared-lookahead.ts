import type { QueuePosition, Store, UpcomingJob } from "../store/index.js";
import { compareQueuePositions } from "../store/index.js";
import type { CrmUpsertPayload, QueuedRecord } from "./enqueue-crm-upsert.js";
import { CRM_UPSERT } from "./enqueue-crm-upsert.js";
import type { SharedRecordCache } from "./shared-record-cache.js";
import { fieldsHash } from "./shared-record-cache.js";

/**
 * Shared records (companies, contacts) of the leads queued next, to fill a CRM call that would go
 * part-full. A batch of 100 leads that brings six customers not seen before would write their
 * companies in a call of six; filled with the companies of the leads leased after it, each call
 * carries a hundred, and those leads later find their companies written (the shared-record cache).
 * Calls then approach the minimum the CRM's batch size allows: companies ÷ 100, not one per batch.
 *
 * Only what the lead's own job would write anyway is taken: records no seller owns (not the lead's
 * own record, none whose owner routing sets, none associating others) of leads never written to
 * this CRM, from jobs not tried yet. Each is taken once; a write that fails is the job's own to
 * retry. Reads are cheap: the queue order without payloads, and each job's payload parsed once.
 *
 * Each look reads the front of the queue (the jobs leased next) and goes on from where the last
 * look stopped, not from the front again: the records of the front's jobs are mostly taken by then,
 * and re-reading thousands of them per call cost more than the calls saved. What was read past the
 * front earlier may have run or been replaced since, so its jobs are checked, by version, before
 * their records are offered: a replaced payload's older fields are never written.
 */
export interface AheadRecord {
  record: QueuedRecord;
  hash: string;
}

export interface SharedLookaheadOptions {
  store: Store;
  /** The outbox target whose queue is looked at (crm:<name>). */
  target: string;
  cache: SharedRecordCache;
  /** Jobs looked at first; doubled while too few records turn up (default 400). */
  window?: number;
  /** Jobs looked at, at most (default 3,200: a sparse record, a new customer every few batches, still fills). */
  maxWindow?: number;
}

interface Candidate extends AheadRecord {
  taken: boolean;
}

/** A job read from the queue: its place and version then, and the shared records of that version. */
interface Known {
  job: UpcomingJob;
  candidates: Candidate[];
}

export class SharedLookahead {
  readonly #store: Store;
  readonly #target: string;
  readonly #cache: SharedRecordCache;
  readonly #window: number;
  readonly #maxWindow: number;
  /** The jobs read and not yet leased, front and beyond, in the order they were read. */
  readonly #known = new Map<number, Known>();
  /** Where the last read past the front stopped. */
  #cursor: QueuePosition | undefined;

  constructor(options: SharedLookaheadOptions) {
    this.#store = options.store;
    this.#target = options.target;
    this.#cache = options.cache;
    this.#window = options.window ?? 400;
    this.#maxWindow = Math.max(this.#window, options.maxWindow ?? 3_200);
  }

  /**
   * Up to `room` records of the mapping object `name` that upcoming leads will need and this process
   * has neither written with those fields nor has under way; `keys` are the external ids the call
   * already carries.
   */
  async fill(name: string, room: number, keys: ReadonlySet<string>): Promise<AheadRecord[]> {
    const carried = new Set(keys);
    const outbox = this.#store.reads.outbox;
    const front = await outbox.upcoming(this.#target, this.#window);
    await this.#read(front);
    this.#forgetPassed(front);
    const chosen = this.#choose(front, name, room, carried);
    if (chosen.length >= room || front.length < this.#window) return chosen.map(withoutJob);

    const inFront = new Set(front.map((job) => job.id));
    const earlier = [...this.#known.values()].filter(({ job }) => !inFront.has(job.id)).map(({ job }) => job);
    chosen.push(...(await this.#stillStanding(this.#choose(earlier, name, room - chosen.length, carried), carried)));
    let seen = front.length + earlier.length;
    let position = later(this.#cursor, front.at(-1));
    for (let size = this.#window; chosen.length < room && seen < this.#maxWindow; size *= 2) {
      const asked = Math.min(size, this.#maxWindow - seen);
      const jobs = await outbox.upcoming(this.#target, asked, position);
      await this.#read(jobs);
      chosen.push(...this.#choose(jobs, name, room - chosen.length, carried));
      seen += jobs.length;
      position = jobs.at(-1) ?? position;
      if (jobs.length < asked) break;
    }
    this.#cursor = position;
    return chosen.map(withoutJob);
  }

  /** Up to `room` records of `name` not taken, carried, written or under way, from these jobs; each is marked taken. */
  #choose(jobs: readonly UpcomingJob[], name: string, room: number, carried: Set<string>): Array<AheadRecord & { jobId: number }> {
    const chosen: Array<AheadRecord & { jobId: number }> = [];
    const cache = this.#cache;
    for (const job of jobs) {
      for (const candidate of this.#known.get(job.id)?.candidates ?? []) {
        if (chosen.length >= room) return chosen;
        const { record, hash } = candidate;
        if (candidate.taken || record.name !== name || carried.has(record.externalId)) continue;
        if (cache.unchanged(record, hash) !== undefined || cache.inFlight(record, hash)) continue;
        candidate.taken = true;
        carried.add(record.externalId);
        chosen.push({ record, hash, jobId: job.id });
      }
    }
    return chosen;
  }

  /**
   * Of records read from jobs past the front earlier, those whose job is still queued, untried, at
   * that version; the others' jobs are forgotten (a newer payload is read when it comes to the front).
   */
  async #stillStanding(unchecked: Array<AheadRecord & { jobId: number }>, carried: Set<string>): Promise<Array<AheadRecord & { jobId: number }>> {
    if (unchecked.length === 0) return [];
    const versions = new Map(unchecked.map(({ jobId }) => [jobId, this.#known.get(jobId)?.job.version ?? ""]));
    const standing = await this.#store.reads.outbox.stillUpcoming(versions);
    for (const id of versions.keys()) if (!standing.has(id)) this.#known.delete(id);
    for (const { record, jobId } of unchecked) if (!standing.has(jobId)) carried.delete(record.externalId);
    return unchecked.filter(({ jobId }) => standing.has(jobId));
  }

  /**
   * Forgets jobs the front has passed (leased, or moved by a newer payload): those not in it that
   * were at or before its last place. When the front holds the whole queue, nothing lies beyond it.
   */
  #forgetPassed(front: readonly UpcomingJob[]): void {
    const inFront = new Set(front.map((job) => job.id));
    const last = front.at(-1);
    const whole = front.length < this.#window;
    if (whole) this.#cursor = undefined;
    for (const [id, { job }] of this.#known) {
      if (inFront.has(id)) continue;
      if (whole || !last || compareQueuePositions(job, last) <= 0) this.#known.delete(id);
    }
  }

  /** Parses the shared records of jobs not seen yet (or replaced by a newer payload since). */
  async #read(jobs: UpcomingJob[]): Promise<void> {
    const fresh = jobs.filter((job) => job.kind === CRM_UPSERT && this.#known.get(job.id)?.job.version !== job.version);
    for (const job of jobs) {
      const known = this.#known.get(job.id);
      if (known && known.job.version === job.version) known.job = job;
    }
    if (fresh.length === 0) return;
    const store = this.#store;
    const payloads = await store.reads.outbox.payloads(fresh.map((job) => job.id));
    const leadIds = fresh.flatMap((job) => (job.leadId === undefined ? [] : [job.leadId]));
    const linked = new Set((await store.reads.crmLinks.forLeads(leadIds)).map((link) => `${link.leadId}|${link.pair}|${link.crmObject}`));
    for (const job of fresh) {
      const found = payloads.get(job.id);
      if (!found) continue;
      const payload = found.payload as CrmUpsertPayload;
      const candidates = payload.records
        .filter((record) => isShared(payload, record) && !linked.has(`${job.leadId}|${payload.pair}|${record.name}`))
        .map((record) => ({ record, hash: fieldsHash(record.fields), taken: false }));
      this.#known.set(job.id, { job: { ...job, version: found.version }, candidates });
    }
  }
}

const withoutJob = ({ record, hash }: AheadRecord): AheadRecord => ({ record, hash });

function later(a: QueuePosition | undefined, b: QueuePosition | undefined): QueuePosition | undefined {
  if (!a || !b) return a ?? b;
  return compareQueuePositions(a, b) >= 0 ? a : b;
}

/** A record several leads may share and no seller owns: not the lead's own, not routed, associating nothing. */
function isShared(payload: CrmUpsertPayload, record: QueuedRecord): boolean {
  return payload.readBack?.name !== record.name && !(payload.owner?.fields ?? []).some((field) => field.name === record.name) && record.associate.length === 0;
}
