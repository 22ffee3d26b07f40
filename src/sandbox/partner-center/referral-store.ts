import jsonPatch from "fast-json-patch";
import { ACT_WINDOW_MS } from "../../domain/deadlines.js";
import type { JsonPatchOperation, WireReferral } from "../../partner-center/wire.js";
import { JOINT_PLANNING } from "../../partner-center/wire.js";
import type { Clock } from "../../shared/clock.js";
import type { SeededRandom } from "../../shared/seeded-random.js";
import type { OrderBy } from "./odata.js";
import { parseFilter, parseOrderBy } from "./odata.js";
import { preconditionFailed, READ_ONLY_PATHS, validateChange, validateCreate } from "./rules.js";
import { invalidRequest, SandboxHttpError } from "./sandbox-error.js";

export type ReferralEventName = "referral-created" | "referral-updated";
export type ReferralListener = (event: ReferralEventName, referral: WireReferral) => void;

export interface ListRequest {
  filter: string | null;
  orderby: string | null;
  top: string | null;
  skiptoken: string | null;
}

export interface ListResult {
  value: WireReferral[];
  skiptoken?: string;
}

export const MAX_TOP = 100;
const MAX_VIEWS = 8;

/**
 * The sandbox's referrals, in memory. Partner Center's own clock work (14-day expiry, 60-day
 * auto-lost) runs lazily on the injected clock before every read or write, so a test that moves the
 * clock sees exactly what a partner would.
 */
export class ReferralStore {
  readonly #records = new Map<string, WireReferral>();
  readonly #listeners: ReferralListener[] = [];
  #nextDeadline = Number.POSITIVE_INFINITY;
  /** Sorted listings by filter and order, kept up to date from the change log instead of re-sorted per write. */
  readonly #views = new Map<string, FeedView>();
  /** Writes since the oldest view caught up: what each view still has to apply. */
  #log: Array<{ before?: WireReferral; after: WireReferral }> = [];
  #logBase = 0;

  constructor(
    private readonly clock: Clock,
    private readonly random: SeededRandom,
  ) {}

  get size(): number {
    return this.#records.size;
  }

  onChange(listener: ReferralListener): void {
    this.#listeners.push(listener);
  }

  /** Seeds records as Microsoft sending them: each is new to the partner. */
  insert(referrals: readonly WireReferral[], options: { announce?: boolean } = {}): void {
    for (const referral of referrals) {
      const copy = structuredClone(referral);
      copy.eTag = copy.eTag ?? this.#newETag();
      this.#logChange(this.#records.get(copy.id), copy);
      this.#records.set(copy.id, copy);
      this.#track(copy);
      if (options.announce !== false) this.#emit("referral-created", copy);
    }
  }

  get(id: string): WireReferral {
    this.sweep();
    const found = this.#records.get(id);
    if (!found) throw new SandboxHttpError(404, "itemNotFound", `Referral ${id} was not found.`, "id");
    return structuredClone(found);
  }

  all(): WireReferral[] {
    this.sweep();
    return [...this.#records.values()].map((r) => structuredClone(r));
  }

  list(request: ListRequest): ListResult {
    this.sweep();
    const predicate = parseFilter(request.filter);
    const order = parseOrderBy(request.orderby);
    const top = request.top === null ? MAX_TOP : Number(request.top);
    if (!Number.isInteger(top) || top < 1) throw invalidRequest("$top must be a positive whole number.", "$top");
    const pageSize = Math.min(top, MAX_TOP);
    const view = this.#view(request.filter, predicate, order);
    let start = 0;
    if (request.skiptoken) {
      const after = decodeSkipToken(request.skiptoken);
      const compare = comparator(order);
      const probe = { id: after.id, [order.field]: after.value } as unknown as WireReferral;
      // Keyset paging: the first item strictly after the last one served.
      let low = 0;
      let high = view.size;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (compare(view.record(mid), probe) <= 0) low = mid + 1;
        else high = mid;
      }
      start = low;
    }
    const page = view.slice(start, start + pageSize).map((r) => structuredClone(r));
    const last = page[page.length - 1];
    const more = start + pageSize < view.size;
    return more && last ? { value: page, skiptoken: encodeSkipToken(String(last[order.field] ?? ""), last.id) } : { value: page };
  }

  create(body: Record<string, unknown>): WireReferral {
    this.sweep();
    validateCreate(body);
    const now = this.clock.now().toISOString();
    const referral = {
      ...structuredClone(body),
      id: this.random.uuid(),
      engagementId: typeof body.engagementId === "string" ? body.engagementId : this.random.uuid(),
      direction: (body.direction as string | undefined) ?? "Outgoing",
      type: (body.type as string | undefined) ?? "Independent",
      status: "New",
      substatus: "Pending",
      createdDateTime: now,
      updatedDateTime: now,
      eTag: this.#newETag(),
    } as WireReferral;
    this.#logChange(undefined, referral);
    this.#records.set(referral.id, referral);
    this.#emit("referral-created", referral);
    return structuredClone(referral);
  }

  /** JSON Patch with `replace`/`add` only, checked against the If-Match eTag and the lifecycle rules. */
  patch(id: string, operations: unknown, ifMatch: string | undefined): WireReferral {
    const before = this.get(id);
    if (ifMatch !== undefined && ifMatch !== "*" && ifMatch !== before.eTag) throw preconditionFailed();
    if (!Array.isArray(operations) || operations.length === 0) throw invalidRequest("The body must be a non-empty JSON Patch array.", "body");
    for (const operation of operations as JsonPatchOperation[]) {
      if (operation?.op !== "replace" && operation?.op !== "add") {
        throw invalidRequest(`Patch operation "${String(operation?.op)}" is not supported; use replace or add.`, "op");
      }
      if (typeof operation.path !== "string" || READ_ONLY_PATHS.some((p) => operation.path === p || operation.path.startsWith(`${p}/`))) {
        throw invalidRequest(`${String(operation.path)} cannot be changed.`, String(operation.path));
      }
    }
    let after: WireReferral;
    try {
      after = jsonPatch.applyPatch(structuredClone(before), operations as jsonPatch.Operation[], true, false).newDocument;
    } catch (error) {
      throw invalidRequest(`The patch cannot be applied: ${(error as Error).message.split("\n")[0]}`, (error as { operation?: { path?: string } }).operation?.path);
    }
    validateChange(before, after);
    return this.#commit(before, after);
  }

  /** Full replace, If-Match required. */
  replace(id: string, body: Record<string, unknown>, ifMatch: string | undefined): WireReferral {
    const before = this.get(id);
    if (!ifMatch) throw new SandboxHttpError(428, "preconditionRequired", "PUT requires an If-Match header with the referral's eTag.", "If-Match");
    if (ifMatch !== "*" && ifMatch !== before.eTag) throw preconditionFailed();
    const after = { ...structuredClone(body), id: before.id, engagementId: before.engagementId, createdDateTime: before.createdDateTime } as WireReferral;
    validateChange(before, after);
    return this.#commit(before, after);
  }

  /** A change made on Microsoft's side (a seller editing notes, say), for tests and the simulator. */
  touch(id: string, mutate: (referral: WireReferral) => void): WireReferral {
    const before = this.get(id);
    const after = structuredClone(before);
    mutate(after);
    return this.#commit(before, after);
  }

  /** Partner Center's own deadline work: expire unaccepted leads, close unworked ones as lost. */
  sweep(): void {
    const now = this.clock.now();
    if (now.getTime() < this.#nextDeadline) return;
    let next = Number.POSITIVE_INFINITY;
    for (const referral of this.#records.values()) {
      const due = deadlineOf(referral);
      if (due === undefined) continue;
      if (due > now.getTime()) {
        next = Math.min(next, due);
        continue;
      }
      const after = structuredClone(referral);
      const isNew = (referral.status ?? "").toLowerCase() === "new";
      after.status = "Closed";
      after.substatus = isNew ? "Expired" : "Lost";
      after.statusReason = isNew ? "Not accepted within 14 days" : "Not closed within 60 days of acceptance";
      this.#commit(referral, after, false);
    }
    this.#nextDeadline = next;
  }

  #commit(before: WireReferral, after: WireReferral, sweepFirst = true): WireReferral {
    if (sweepFirst) this.sweep();
    const now = this.clock.now().toISOString();
    const fromStatus = (before.status ?? "").toLowerCase();
    const toStatus = (after.status ?? "").toLowerCase();
    if (fromStatus === "new" && toStatus === "active") after.acceptedDateTime = now;
    if (toStatus === "closed" && fromStatus !== "closed") after.closedDateTime = now;
    for (const stage of after.details?.substages ?? []) {
      const previous = before.details?.substages?.find((s) => s.name === stage.name);
      if (stage.status === JOINT_PLANNING.substageComplete && previous?.status !== JOINT_PLANNING.substageComplete) stage.completedDateTime = now;
    }
    after.updatedDateTime = now;
    after.eTag = this.#newETag();
    this.#logChange(this.#records.get(after.id), after);
    this.#records.set(after.id, after);
    this.#track(after);
    this.#emit("referral-updated", after);
    return structuredClone(after);
  }

  /**
   * A sorted listing, caught up with the writes since it was last read: each write moves one record
   * (binary search out, binary search in) rather than re-sorting 100,000 records per page while
   * the daemon writes back as it pages.
   */
  #view(filter: string | null, predicate: (referral: WireReferral) => boolean, order: OrderBy): FeedView {
    const key = `${filter ?? ""}\u0000${order.field}\u0000${order.descending}`;
    let view = this.#views.get(key);
    const end = this.#logBase + this.#log.length;
    const behind = view ? end - view.seen : 0;
    if (!view || behind > this.#records.size / 4) {
      view = new FeedView(predicate, order, [...this.#records.values()], end);
      // Each pull asks with its own `updatedDateTime gt` filter: keep the few most recent listings.
      if (this.#views.size >= MAX_VIEWS) this.#views.delete(this.#views.keys().next().value as string);
    } else {
      for (let index = view.seen - this.#logBase; index < this.#log.length; index += 1) view.apply(this.#log[index] as { before?: WireReferral; after: WireReferral });
      view.seen = end;
      this.#views.delete(key);
    }
    this.#views.set(key, view);
    this.#trimLog();
    return view;
  }

  #logChange(before: WireReferral | undefined, after: WireReferral): void {
    if (this.#views.size === 0) return;
    this.#log.push(before ? { before, after } : { after });
    // A view nobody reads any more is dropped rather than let the log grow for it.
    if (this.#log.length > Math.max(1_000, this.#records.size / 4)) {
      const end = this.#logBase + this.#log.length;
      for (const [key, view] of this.#views) if (end - view.seen > this.#records.size / 4) this.#views.delete(key);
      this.#trimLog();
    }
  }

  #trimLog(): void {
    const oldest = Math.min(...[...this.#views.values()].map((view) => view.seen), this.#logBase + this.#log.length);
    this.#log = this.#log.slice(oldest - this.#logBase);
    this.#logBase = oldest;
  }

  #track(referral: WireReferral): void {
    const due = deadlineOf(referral);
    if (due !== undefined) this.#nextDeadline = Math.min(this.#nextDeadline, due);
  }

  #emit(event: ReferralEventName, referral: WireReferral): void {
    for (const listener of this.#listeners) listener(event, structuredClone(referral));
  }

  #newETag(): string {
    return `"${this.random.uuid()}"`;
  }
}

function deadlineOf(referral: WireReferral): number | undefined {
  const status = (referral.status ?? "").toLowerCase();
  if (status === "new") {
    const at = Date.parse(referral.expirationDateTime ?? "");
    if (!Number.isNaN(at)) return at;
    const created = Date.parse(referral.createdDateTime ?? "");
    return Number.isNaN(created) ? undefined : created + 14 * 86_400_000;
  }
  if (status === "active") {
    const accepted = Date.parse(referral.acceptedDateTime ?? "");
    return Number.isNaN(accepted) ? undefined : accepted + ACT_WINDOW_MS;
  }
  return undefined;
}

interface FeedEntry {
  at: number;
  record: WireReferral;
}

/** One filter and order's records, sorted by (timestamp, id). */
class FeedView {
  readonly #entries: FeedEntry[];
  readonly #sign: number;

  constructor(
    private readonly predicate: (referral: WireReferral) => boolean,
    private readonly order: OrderBy,
    records: WireReferral[],
    /** The change-log position this view has applied up to. */
    public seen: number,
  ) {
    this.#sign = order.descending ? -1 : 1;
    // Timestamps parsed once per record, not once per comparison.
    this.#entries = records.filter(predicate).map((record) => this.#entry(record)).sort((a, b) => this.#compare(a, b));
  }

  get size(): number {
    return this.#entries.length;
  }

  record(index: number): WireReferral {
    return (this.#entries[index] as FeedEntry).record;
  }

  slice(start: number, end: number): WireReferral[] {
    return this.#entries.slice(start, end).map((entry) => entry.record);
  }

  apply(change: { before?: WireReferral; after: WireReferral }): void {
    if (change.before && this.predicate(change.before)) {
      const entry = this.#entry(change.before);
      const index = this.#search(entry, false);
      const found = this.#entries[index];
      if (found && found.record.id === entry.record.id) this.#entries.splice(index, 1);
    }
    if (this.predicate(change.after)) {
      const entry = this.#entry(change.after);
      this.#entries.splice(this.#search(entry, true), 0, entry);
    }
  }

  #entry(record: WireReferral): FeedEntry {
    return { at: Date.parse(String(record[this.order.field as keyof WireReferral] ?? "")) || 0, record };
  }

  #compare(a: FeedEntry, b: FeedEntry): number {
    return (a.at - b.at || (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0)) * this.#sign;
  }

  /** The first index after (`after`) or at the entry's place. */
  #search(entry: FeedEntry, after: boolean): number {
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      const difference = this.#compare(this.#entries[mid] as FeedEntry, entry);
      if (difference < 0 || (after && difference === 0)) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

function comparator(order: OrderBy): (a: WireReferral, b: WireReferral) => number {
  const sign = order.descending ? -1 : 1;
  return (a, b) => {
    const left = Date.parse(String(a[order.field] ?? "")) || 0;
    const right = Date.parse(String(b[order.field] ?? "")) || 0;
    if (left !== right) return (left - right) * sign;
    return (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * sign;
  };
}

function encodeSkipToken(value: string, id: string): string {
  return Buffer.from(JSON.stringify({ v: value, id })).toString("base64url");
}

function decodeSkipToken(token: string): { value: string; id: string } {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { v?: unknown; id?: unknown };
    if (typeof parsed.v === "string" && typeof parsed.id === "string") return { value: parsed.v, id: parsed.id };
  } catch {
    // fall through
  }
  throw invalidRequest("The $skiptoken is not valid; start the listing again.", "$skiptoken");
}
