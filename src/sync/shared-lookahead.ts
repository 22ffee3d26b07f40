import { LRUCache } from "lru-cache";
import type { Store, UpcomingJob } from "../store/index.js";
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

export class SharedLookahead {
  readonly #store: Store;
  readonly #target: string;
  readonly #cache: SharedRecordCache;
  readonly #window: number;
  readonly #maxWindow: number;
  /** Each upcoming job's shared records, by job id, for the payload version they were read from. */
  readonly #parsed: LRUCache<number, { version: string; candidates: Candidate[] }>;

  constructor(options: SharedLookaheadOptions) {
    this.#store = options.store;
    this.#target = options.target;
    this.#cache = options.cache;
    this.#window = options.window ?? 400;
    this.#maxWindow = Math.max(this.#window, options.maxWindow ?? 3_200);
    this.#parsed = new LRUCache({ max: this.#maxWindow });
  }

  /**
   * Up to `room` records of the mapping object `name` that upcoming leads will need and this process
   * has neither written with those fields nor has under way; `keys` are the external ids the call
   * already carries.
   */
  async fill(name: string, room: number, keys: ReadonlySet<string>): Promise<AheadRecord[]> {
    const chosen: AheadRecord[] = [];
    const carried = new Set(keys);
    const cache = this.#cache;
    let looked = 0;
    for (let size = this.#window; chosen.length < room; size = Math.min(size * 2, this.#maxWindow)) {
      const jobs = (await this.#store.reads.outbox.upcoming(this.#target, size)).slice(looked);
      await this.#read(jobs);
      for (const job of jobs) {
        for (const candidate of this.#parsed.get(job.id)?.candidates ?? []) {
          const { record, hash } = candidate;
          if (candidate.taken || record.name !== name || carried.has(record.externalId)) continue;
          if (cache.unchanged(record, hash) !== undefined || cache.inFlight(record, hash)) continue;
          candidate.taken = true;
          carried.add(record.externalId);
          chosen.push({ record, hash });
          if (chosen.length >= room) return chosen;
        }
      }
      looked += jobs.length;
      if (looked < size || size >= this.#maxWindow) break;
    }
    return chosen;
  }

  /** Parses the shared records of jobs not seen yet (or replaced by a newer payload since). */
  async #read(jobs: UpcomingJob[]): Promise<void> {
    const fresh = jobs.filter((job) => job.kind === CRM_UPSERT && this.#parsed.get(job.id)?.version !== job.version);
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
      this.#parsed.set(job.id, { version: found.version, candidates });
    }
  }
}

/** A record several leads may share and no seller owns: not the lead's own, not routed, associating nothing. */
function isShared(payload: CrmUpsertPayload, record: QueuedRecord): boolean {
  return payload.readBack?.name !== record.name && !(payload.owner?.fields ?? []).some((field) => field.name === record.name) && record.associate.length === 0;
}
