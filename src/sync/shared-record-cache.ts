import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";

/**
 * What this process last wrote to a CRM record that several leads share (a HubSpot company upserted
 * by customer key, a contact by email): its id and a hash of the fields. A lead whose shared record
 * would be written with the same fields again reuses the id instead (a backfill of 100,000 leads
 * from 2,000 customers writes each company once, not once per batch of leads). A seller's own
 * record (the lead) is never skipped: its writes follow the lead's own change hash.
 *
 * Bounded (least recently used go first) and short-lived, so a record someone changed or deleted in
 * the CRM is written again within the hour; a job that fails forgets what it used, so its retry
 * writes the shared records afresh.
 */
export interface SharedRecordCacheOptions {
  /** Records remembered (default 100,000, one per lead of a large backfill: about 20 MB when full). */
  max?: number;
  /** How long a write is trusted, in ms (default one hour). */
  ttlMs?: number;
  /** Milliseconds now (for tests). */
  now?: () => number;
}

interface Written {
  hash: string;
  id: string;
}

/** A write of a shared record under way: the id it gets, or the reason it failed. */
export type WriteOutcome = { id: string } | { error: unknown };

interface Flying {
  hash: string;
  outcome: Promise<WriteOutcome>;
}

export class SharedRecordCache {
  readonly #cache: LRUCache<string, Written>;
  /**
   * Writes in calls still under way. Batches run side by side; a batch finding its shared record
   * in another's call waits for that call instead of writing the record alongside it (two calls
   * creating one company at once race on its unique key in the CRM).
   */
  readonly #flying = new Map<string, Flying>();
  hits = 0;

  constructor(options: SharedRecordCacheOptions = {}) {
    const now = options.now;
    this.#cache = new LRUCache<string, Written>({
      max: options.max ?? 100_000,
      ttl: options.ttlMs ?? 60 * 60_000,
      // An injected clock is read on every check (the default caches "now" for a millisecond).
      ...(now ? { perf: { now }, ttlResolution: 0 } : {}),
    });
  }

  /** The id of the record, when this process wrote exactly these fields to it within the TTL. */
  unchanged(record: SharedRecordRef, hash: string): string | undefined {
    const written = this.#cache.get(keyOf(record));
    if (written?.hash !== hash) return undefined;
    this.hits += 1;
    return written.id;
  }

  remember(record: SharedRecordRef, hash: string, id: string): void {
    this.#cache.set(keyOf(record), { hash, id });
  }

  forget(record: SharedRecordRef): void {
    this.#cache.delete(keyOf(record));
  }

  /** The outcome of a call under way that writes exactly these fields to the record. */
  inFlight(record: SharedRecordRef, hash: string): Promise<WriteOutcome> | undefined {
    const flying = this.#flying.get(keyOf(record));
    return flying?.hash === hash ? flying.outcome : undefined;
  }

  /**
   * Marks the record as being written with these fields; `settle` must follow once the call
   * answers (a success is remembered). A later write of the same record takes the mark over.
   */
  begin(record: SharedRecordRef, hash: string): (outcome: WriteOutcome) => void {
    const key = keyOf(record);
    let resolve: (outcome: WriteOutcome) => void = () => undefined;
    const flying: Flying = { hash, outcome: new Promise<WriteOutcome>((done) => (resolve = done)) };
    this.#flying.set(key, flying);
    return (outcome) => {
      // A write taken over by a newer one leaves the cache to it: its fields are the newer.
      if (this.#flying.get(key) === flying) {
        this.#flying.delete(key);
        if ("id" in outcome) this.remember(record, hash, outcome.id);
      }
      resolve(outcome);
    };
  }

  /** Calls under way (for tests and metrics). */
  get flying(): number {
    return this.#flying.size;
  }

  get size(): number {
    return this.#cache.size;
  }
}

export interface SharedRecordRef {
  object: string;
  externalIdField: string;
  externalId: string;
}

const keyOf = (record: SharedRecordRef) => `${record.object}\u0000${record.externalIdField}\u0000${record.externalId}`;

/** A hash of the fields as written (the mapping emits them in a fixed order). */
export function fieldsHash(fields: Record<string, unknown>): string {
  return createHash("sha1").update(JSON.stringify(fields)).digest("base64");
}
