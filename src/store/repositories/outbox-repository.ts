import { randomUUID } from "node:crypto";
import type { Knex } from "knex";
import { insertRows } from "../insert-rows.js";
import { parseJson, toDate, toNumber, toOptional, toOptionalDate } from "../rows.js";

export type JobState = "pending" | "running" | "done" | "dead" | "dropped" | "superseded";

export interface NewJob {
  pair?: string;
  /** partner-center | crm:<name> | notify:<channel> */
  target: string;
  kind: string;
  leadId?: number;
  payload: unknown;
  /**
   * Jobs with the same key replace each other while pending. Defaults to lead + target + kind when
   * the job has a lead; `null` opts out.
   */
  coalesceKey?: string | null;
  idempotencyKey?: string;
  /** Higher runs first among jobs of equal deadline. */
  priority?: number;
  /** The deadline this effect serves (accept-by, act-by); earliest deadline runs first. */
  dueBy?: Date;
  runAt?: Date;
  maxAttempts: number;
}

export interface OutboxJob {
  id: number;
  pair?: string;
  target: string;
  kind: string;
  leadId?: number;
  payload: unknown;
  coalesceKey?: string;
  idempotencyKey: string;
  priority: number;
  dueBy?: Date;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  leaseOwner?: string;
  leaseExpiresAt?: Date;
  lastErrorCode?: string;
  lastErrorMessage?: string;
  firstFailedAt?: Date;
  lastFailedAt?: Date;
  escalatedAt?: Date;
  createdAt: Date;
  updatedAt: Date;
  finishedAt?: Date;
}

/** A place in the lease order: a look at the queue can go on past it. */
export interface QueuePosition {
  id: number;
  dueBy?: Date;
  priority: number;
  runAt: Date;
}

/** A pending job as a look-ahead sees it: which job, for which lead, and which version of its payload. */
export interface UpcomingJob extends QueuePosition {
  kind: string;
  pair?: string;
  leadId?: number;
  /** Changes whenever a newer job replaces the payload (the idempotency key is new each time). */
  version: string;
}

export interface EnqueueResult {
  id: number;
  /** True when an older pending job was replaced instead of a new row queued. */
  coalesced: boolean;
}

export interface LeaseRequest {
  owner: string;
  target: string;
  limit: number;
  leaseMs: number;
  now: Date;
  /**
   * The time leases run on, when it is not `now`: leases are process scheduling, real time even
   * when business time runs fast (the demo jumps a day a second, and every lease would lapse).
   */
  leaseNow?: Date;
  /**
   * At most this many jobs of a kind in one lease (jobs a handler runs one at a time: a long lease
   * of them all would be in flight, an attempt counted on each, whenever the process died).
   */
  kindLimits?: Record<string, number>;
}

export type Settlement =
  | { outcome: "retry"; at: Date; code: string; message: string; escalate?: boolean }
  | { outcome: "dead"; code: string; message: string; escalate?: boolean };

export interface FailureListQuery {
  state?: JobState;
  target?: string;
  code?: string;
  limit?: number;
  afterId?: number;
}

export interface OutboxStats {
  byState: Record<string, Record<string, number>>;
  oldestDueAgeMs: number;
  retrying: number;
  deadByCode: Record<string, number>;
}

const OPEN: JobState[] = ["pending", "running"];
/**
 * A literal, not a bound value: SQLite uses the partial indexes of pending jobs (one per key, the
 * lease order) only when the query says `state = 'pending'` itself.
 */
const PENDING = "state = 'pending'";
/**
 * The lease order as the index holds it, for dated jobs (by deadline first) or undated ones (which
 * come after every dated one); `alias` prefixes the columns of a joined query.
 */
function leaseOrderBy(dated: boolean, alias = ""): Array<{ column: string; order: "asc" | "desc" }> {
  const order: Array<{ column: string; order: "asc" | "desc" }> = [
    { column: `${alias}priority`, order: "desc" },
    { column: `${alias}run_at`, order: "asc" },
    { column: `${alias}id`, order: "asc" },
  ];
  return dated ? [{ column: `${alias}due_by`, order: "asc" }, ...order] : order;
}
/** Jobs per statement: 15 columns a row stays far below SQLite's bound-variable limit. */
const ENQUEUE_CHUNK = 500;

/** The order jobs are leased in: earliest deadline (undated last), higher priority, earlier due time, lower id. */
export function compareQueuePositions(a: QueuePosition, b: QueuePosition): number {
  const due = (at: QueuePosition) => at.dueBy?.getTime() ?? Number.POSITIVE_INFINITY;
  return due(a) - due(b) || b.priority - a.priority || a.runAt.getTime() - b.runAt.getTime() || a.id - b.id;
}

function positionOf(row: Record<string, unknown>): QueuePosition {
  return { id: toNumber(row.id), dueBy: toOptionalDate(row.due_by as string | number | Date | null), priority: toNumber(row.priority), runAt: toDate(row.run_at) };
}

export interface EnqueueOptions {
  /**
   * Leads the caller's transaction created: their jobs' default coalesce keys are not looked up
   * (no pending job can have them yet).
   */
  newLeads?: ReadonlySet<number>;
}

/** Jobs with the same key replace each other while pending: lead + target + kind unless the job says. */
function coalesceKeyOf(job: NewJob): string | null {
  if (job.coalesceKey !== undefined) return job.coalesceKey;
  return job.leadId !== undefined ? `${job.leadId}|${job.target}|${job.kind}` : null;
}

function newRow(job: NewJob, coalesceKey: string | null, now: Date): Record<string, unknown> {
  return {
    pair: job.pair ?? null,
    target: job.target,
    kind: job.kind,
    lead_id: job.leadId ?? null,
    payload: JSON.stringify(job.payload ?? null),
    coalesce_key: coalesceKey,
    idempotency_key: job.idempotencyKey ?? randomUUID(),
    priority: job.priority ?? 0,
    due_by: job.dueBy ?? null,
    state: "pending",
    attempts: 0,
    max_attempts: job.maxAttempts,
    run_at: job.runAt ?? now,
    created_at: now,
    updated_at: now,
  };
}

/**
 * The outbox table. Enqueue takes the caller's transaction (the state change and its effect commit
 * together); leasing runs in its own: SQLite serialises it with BEGIN IMMEDIATE, PostgreSQL with
 * FOR UPDATE SKIP LOCKED, so several processes never lease the same job.
 */
export class OutboxRepository {
  constructor(
    private readonly db: Knex | Knex.Transaction,
    private readonly dialect: "sqlite" | "postgres",
  ) {}

  async enqueue(job: NewJob, now: Date): Promise<EnqueueResult> {
    const coalesceKey = coalesceKeyOf(job);
    for (let attempt = 0; ; attempt += 1) {
      if (coalesceKey) {
        const pending = await this.db("outbox_jobs").where({ coalesce_key: coalesceKey }).whereRaw(PENDING).first();
        if (pending) return this.#coalesce(pending as Record<string, unknown>, job, now);
      }
      try {
        const [row] = await this.db("outbox_jobs").insert(newRow(job, coalesceKey, now)).returning("id");
        return { id: toNumber(typeof row === "object" && row !== null ? (row as { id: unknown }).id : row), coalesced: false };
      } catch (error) {
        // Another transaction queued a pending job with this key between our read and insert.
        if (attempt === 0 && coalesceKey && isUniqueViolation(error)) continue;
        throw error;
      }
    }
  }

  /**
   * Queues a batch as `enqueue` would queue each in turn, in a handful of statements: one read of
   * the pending jobs they would replace, one insert per 500 new jobs. A batch naming one coalesce
   * key twice is queued one job at a time, so the second replaces the first.
   */
  async enqueueMany(jobs: readonly NewJob[], now: Date, options: EnqueueOptions = {}): Promise<{ queued: number; coalesced: number }> {
    const keys = jobs.map(coalesceKeyOf);
    const named = keys.filter((key): key is string => key !== null);
    // A lead created by this very transaction has no job yet, and lead ids are never reused
    // (AUTOINCREMENT, serial): its default key (lead + target + kind) replaces nothing.
    const replacesNothing = (job: NewJob) => job.coalesceKey === undefined && job.leadId !== undefined && options.newLeads?.has(job.leadId) === true;
    const sought = keys.filter((key, index): key is string => key !== null && !replacesNothing(jobs[index] as NewJob));
    if (new Set(named).size !== named.length) {
      let coalesced = 0;
      for (const job of jobs) if ((await this.enqueue(job, now)).coalesced) coalesced += 1;
      return { queued: jobs.length - coalesced, coalesced };
    }
    const pending = new Map<string, Record<string, unknown>>();
    for (let offset = 0; offset < sought.length; offset += ENQUEUE_CHUNK) {
      // Without statistics SQLite rates one look-up per key above a walk of the `state` indexes,
      // which here means every pending job; INDEXED BY keeps it to the keys.
      const pendingByKey = this.dialect === "sqlite" ? this.db.raw("outbox_jobs INDEXED BY outbox_jobs_one_pending_per_key") : "outbox_jobs";
      const rows = (await this.db.select("*").from(pendingByKey).whereRaw(PENDING).whereIn("coalesce_key", sought.slice(offset, offset + ENQUEUE_CHUNK))) as Array<Record<string, unknown>>;
      for (const row of rows) pending.set(String(row.coalesce_key), row);
    }
    const fresh: Array<{ job: NewJob; row: Record<string, unknown> }> = [];
    let coalesced = 0;
    for (const [index, job] of jobs.entries()) {
      const key = keys[index] ?? null;
      const replaced = key ? pending.get(key) : undefined;
      if (replaced) {
        await this.#coalesce(replaced, job, now);
        coalesced += 1;
      } else fresh.push({ job, row: newRow(job, key, now) });
    }
    for (let offset = 0; offset < fresh.length; offset += ENQUEUE_CHUNK) coalesced += await this.#insertRacing(fresh.slice(offset, offset + ENQUEUE_CHUNK), now);
    return { queued: jobs.length - coalesced, coalesced };
  }

  /**
   * On PostgreSQL another replica may queue a job with one of these keys between our read and
   * insert; the insert then runs under a savepoint, and on that conflict each job is queued alone.
   * (SQLite's write transactions are serial: nothing can slip in.)
   */
  async #insertRacing(batch: Array<{ job: NewJob; row: Record<string, unknown> }>, now: Date): Promise<number> {
    const rows = batch.map(({ row }) => row);
    if (this.dialect === "sqlite" || !("isTransaction" in this.db && this.db.isTransaction)) {
      await insertRows(this.db, this.dialect, "outbox_jobs", rows);
      return 0;
    }
    try {
      await this.db.transaction((savepoint) => savepoint("outbox_jobs").insert(rows));
      return 0;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      let coalesced = 0;
      for (const { job, row } of batch) if ((await this.enqueue({ ...job, idempotencyKey: String(row.idempotency_key) }, now)).coalesced) coalesced += 1;
      return coalesced;
    }
  }

  /** A newer job for a pending one's key: the pending row takes its payload and the earlier deadline. */
  async #coalesce(pending: Record<string, unknown>, job: NewJob, now: Date): Promise<EnqueueResult> {
    const existingDue = toOptionalDate(pending.due_by);
    const dueBy = existingDue && job.dueBy ? (existingDue < job.dueBy ? existingDue : job.dueBy) : (existingDue ?? job.dueBy ?? null);
    const runAt = job.runAt ?? now;
    const existingRunAt = toDate(pending.run_at);
    await this.db("outbox_jobs")
      .where({ id: pending.id })
      .update({
        payload: JSON.stringify(job.payload ?? null),
        idempotency_key: job.idempotencyKey ?? randomUUID(),
        priority: Math.max(toNumber(pending.priority), job.priority ?? 0),
        due_by: dueBy,
        run_at: existingRunAt < runAt ? existingRunAt : runAt,
        attempts: 0,
        max_attempts: job.maxAttempts,
        last_error_code: null,
        last_error_message: null,
        updated_at: now,
      });
    return { id: toNumber(pending.id), coalesced: true };
  }

  /** Pending jobs of a target due now whose key has no live running sibling, up to the limit. */
  #dueQuery(request: LeaseRequest): Knex.QueryBuilder {
    // `+column` keeps SQLite (which has no statistics here) from picking the run_at index and sorting;
    // PostgreSQL's planner has statistics and no such operator on timestamps.
    const runAt = this.dialect === "sqlite" ? "+j.run_at <= ?" : "j.run_at <= ?";
    const query = this.#siblingFree(this.db("outbox_jobs as j").select("j.*").where({ "j.target": request.target }).whereRaw(`j.${PENDING}`).whereRaw(runAt, [request.now]), request.leaseNow ?? request.now).limit(request.limit);
    if (this.dialect === "postgres") query.forUpdate("j").skipLocked();
    return query;
  }

  /** Jobs of one key run one at a time: none whose key has another job running on a live lease. */
  #siblingFree(query: Knex.QueryBuilder, now: Date): Knex.QueryBuilder {
    const leaseLive = this.dialect === "sqlite" ? "+r.lease_expires_at > ?" : "r.lease_expires_at > ?";
    // SQLite without statistics ties this index with any other on `state` and may scan every running
    // job per candidate; INDEXED BY settles it (and fails loudly should the index ever not apply).
    const running = this.dialect === "sqlite" ? this.db.raw("outbox_jobs AS r INDEXED BY outbox_jobs_running_per_key") : "outbox_jobs as r";
    return query.whereNotExists((sibling) =>
      sibling.select(this.db.raw("1")).from(running).whereRaw("r.coalesce_key = j.coalesce_key").andWhereRaw("r.state = 'running'").andWhereRaw("r.id <> j.id").andWhereRaw(leaseLive, [now]),
    );
  }

  /**
   * Whether a lease of this target would find anything: a pending job due by `now`, or a running
   * one whose lease ran out by `leaseNow` (its worker died). Two bounded reads, no lock: an idle
   * target asks this instead of opening a write transaction to lease nothing.
   */
  async hasDue(target: string, now: Date, leaseNow: Date = now): Promise<boolean> {
    const pending = await this.db("outbox_jobs").select("id").where({ target, state: "pending" }).andWhere("run_at", "<=", now).first();
    if (pending) return true;
    const expired = await this.db("outbox_jobs").select("id").where({ target, state: "running" }).andWhere("lease_expires_at", "<=", leaseNow).first();
    return expired !== undefined;
  }

  /**
   * Pending jobs of a target due by `now`, counted up to `limit` (enough to tell a full batch), and
   * whether one serves a deadline before `urgentBefore` (it goes at once, full batch or not).
   */
  async countDue(target: string, now: Date, limit: number, urgentBefore: Date): Promise<{ due: number; urgent: boolean }> {
    const due = this.db("outbox_jobs").select("id").where({ target, state: "pending" }).andWhere("run_at", "<=", now).limit(limit).as("due");
    const [row] = (await this.db.from(due).count({ n: "*" })) as Array<{ n: unknown }>;
    const urgent = await this.db("outbox_jobs").select("id").where({ target, state: "pending" }).whereNotNull("due_by").andWhere("due_by", "<=", urgentBefore).andWhere("run_at", "<=", now).first();
    return { due: toNumber(row?.n ?? 0), urgent: urgent !== undefined };
  }

  /** Leases due jobs of one target; must run inside a transaction. */
  async lease(request: LeaseRequest): Promise<OutboxJob[]> {
    const { now } = request;
    // Earliest deadline first (urgent ones have the earliest), undated after, then priority, age and
    // id. Each part walks the lease-order index and stops at the limit, so a lease costs the same
    // with ten pending jobs or a hundred thousand; expired leases (crashed workers) are few.
    const dated = await this.#dueQuery(request).whereNotNull("j.due_by").orderBy(leaseOrderBy(true, "j."));
    const undated = dated.length >= request.limit ? [] : await this.#dueQuery(request).whereNull("j.due_by").orderBy(leaseOrderBy(false, "j."));
    const leaseNow = request.leaseNow ?? now;
    const expired = await this.#siblingFree(this.db("outbox_jobs as j").select("j.*").where({ "j.target": request.target, "j.state": "running" }).andWhere("j.lease_expires_at", "<=", leaseNow), leaseNow).limit(request.limit);
    const rows = [...dated, ...undated, ...expired].sort((a, b) => compareQueuePositions(positionOf(a), positionOf(b))).slice(0, request.limit) as Array<Record<string, unknown>>;
    const leased: OutboxJob[] = [];
    const expiresAt = new Date(leaseNow.getTime() + request.leaseMs);
    const ofKind = new Map<string, number>();
    for (const row of rows) {
      const job = fromRow(row);
      const kindLimit = request.kindLimits?.[job.kind];
      if (kindLimit !== undefined) {
        const taken = ofKind.get(job.kind) ?? 0;
        if (taken >= kindLimit) continue;
        ofKind.set(job.kind, taken + 1);
      }
      if (job.state === "running") {
        // A worker died holding this job. A newer pending job for the same key makes it obsolete.
        if (job.coalesceKey && (await this.db("outbox_jobs").where({ coalesce_key: job.coalesceKey }).whereRaw(PENDING).first())) {
          await this.db("outbox_jobs").where({ id: job.id }).update({ state: "superseded", lease_owner: null, lease_expires_at: null, finished_at: now, updated_at: now });
          continue;
        }
        if (job.attempts >= job.maxAttempts) {
          await this.db("outbox_jobs").where({ id: job.id }).update({
            state: "dead",
            lease_owner: null,
            lease_expires_at: null,
            last_error_code: "OUTBOX_LEASE_EXPIRED",
            last_error_message: `The worker stopped while running this job ${job.attempts} times (crash or kill); it may crash the worker. Inspect it before retrying.`,
            first_failed_at: job.firstFailedAt ?? now,
            last_failed_at: now,
            updated_at: now,
          });
          continue;
        }
      }
      leased.push({ ...job, state: "running", leaseOwner: request.owner, leaseExpiresAt: expiresAt, attempts: job.attempts + 1, updatedAt: now });
    }
    // One statement for the whole batch: the rows are ours (IMMEDIATE transaction or row locks).
    if (leased.length > 0) {
      await this.db("outbox_jobs")
        .whereIn(
          "id",
          leased.map((job) => job.id),
        )
        .update({ state: "running", lease_owner: request.owner, lease_expires_at: expiresAt, attempts: this.db.raw("attempts + 1"), updated_at: now });
    }
    return leased;
  }

  /**
   * The pending jobs of a target never tried yet, in the order they will be leased, without their
   * payloads (read those with `payloads`): what a batch may look ahead at. Walks the lease-order
   * index like a lease, and locks nothing. With `after`, the jobs that follow that place in the
   * order, so a look can go on where the last one stopped instead of reading the front again.
   */
  async upcoming(target: string, limit: number, after?: QueuePosition): Promise<UpcomingJob[]> {
    const columns = ["id", "kind", "pair", "lead_id", "idempotency_key", "due_by", "priority", "run_at"];
    const base = () => this.db("outbox_jobs").select(columns).where({ target, attempts: 0 }).whereRaw(PENDING).limit(limit);
    // Within one due date, the jobs at or before `at` in the index order (priority down, due time, id).
    const atOrBefore = (query: Knex.QueryBuilder, at: QueuePosition) =>
      query
        .where("priority", ">", at.priority)
        .orWhere((p) => p.where("priority", at.priority).andWhere("run_at", "<", at.runAt))
        .orWhere((p) => p.where({ priority: at.priority, run_at: at.runAt }).andWhere("id", "<=", at.id));
    const rows: Array<Record<string, unknown>> = [];
    // Undated jobs come after every dated one: a place among them has no dated jobs left to read.
    if (!after || after.dueBy) {
      const dated = base().whereNotNull("due_by");
      const dueBy = after?.dueBy;
      if (after && dueBy) dated.where("due_by", ">=", dueBy).whereNot((same) => same.where("due_by", dueBy).andWhere((q) => atOrBefore(q, after)));
      rows.push(...((await dated.orderBy(leaseOrderBy(true))) as Array<Record<string, unknown>>));
    }
    if (rows.length < limit) {
      const undated = base().whereNull("due_by").limit(limit - rows.length);
      if (after && !after.dueBy) undated.whereNot((q) => atOrBefore(q, after));
      rows.push(...((await undated.orderBy(leaseOrderBy(false))) as Array<Record<string, unknown>>));
    }
    return rows.map((row) => ({
      kind: String(row.kind),
      pair: toOptional(row.pair as string | null),
      leadId: row.lead_id === null || row.lead_id === undefined ? undefined : toNumber(row.lead_id),
      version: String(row.idempotency_key),
      ...positionOf(row),
    }));
  }

  /**
   * Of these jobs, the ones still pending, never tried, at the version given: a look-ahead's
   * reading of their payloads still stands.
   */
  async stillUpcoming(versions: ReadonlyMap<number, string>): Promise<Set<number>> {
    const standing = new Set<number>();
    const ids = [...versions.keys()];
    for (let offset = 0; offset < ids.length; offset += ENQUEUE_CHUNK) {
      const rows = (await this.db("outbox_jobs").select("id", "idempotency_key").whereIn("id", ids.slice(offset, offset + ENQUEUE_CHUNK)).andWhere({ attempts: 0 }).whereRaw(PENDING)) as Array<Record<string, unknown>>;
      for (const row of rows) if (versions.get(toNumber(row.id)) === String(row.idempotency_key)) standing.add(toNumber(row.id));
    }
    return standing;
  }

  /** The payloads of these jobs by id (a job gone since is left out). */
  async payloads(ids: readonly number[]): Promise<Map<number, { version: string; payload: unknown }>> {
    const found = new Map<number, { version: string; payload: unknown }>();
    for (let offset = 0; offset < ids.length; offset += ENQUEUE_CHUNK) {
      const rows = (await this.db("outbox_jobs").select("id", "idempotency_key", "payload").whereIn("id", ids.slice(offset, offset + ENQUEUE_CHUNK))) as Array<Record<string, unknown>>;
      for (const row of rows) found.set(toNumber(row.id), { version: String(row.idempotency_key), payload: parseJson(row.payload) });
    }
    return found;
  }

  /** Extends the leases this owner still holds; returns how many it still holds. `leaseNow`: as in `lease`. */
  async renew(ids: readonly number[], owner: string, leaseMs: number, now: Date, leaseNow: Date = now): Promise<number> {
    if (ids.length === 0) return 0;
    return this.db("outbox_jobs")
      .whereIn("id", ids)
      .andWhere({ lease_owner: owner, state: "running" })
      .update({ lease_expires_at: new Date(leaseNow.getTime() + leaseMs), updated_at: now });
  }

  /** Marks a job done; false when the lease was lost meanwhile (the target's idempotency absorbs a repeat). */
  async complete(id: number, owner: string, now: Date): Promise<boolean> {
    return (await this.completeMany([id], owner, now)) > 0;
  }

  /** Marks the jobs this owner still holds done; returns how many it still held. */
  async completeMany(ids: readonly number[], owner: string, now: Date): Promise<number> {
    if (ids.length === 0) return 0;
    return this.db("outbox_jobs")
      .whereIn("id", ids)
      .andWhere({ lease_owner: owner, state: "running" })
      .update({ state: "done", lease_owner: null, lease_expires_at: null, finished_at: now, updated_at: now });
  }

  /** Settles a failed job this owner still holds; says the state it went to (undefined: the lease was lost). */
  async settleFailure(id: number, owner: string, settlement: Settlement, now: Date): Promise<"pending" | "dead" | "superseded" | undefined> {
    const current = await this.db("outbox_jobs").where({ id, lease_owner: owner, state: "running" }).first();
    if (!current) return undefined;
    // A newer job for the same key was queued while this one ran: it carries the latest, and there
    // is one pending job per key. This one is superseded rather than queued beside it.
    const newer = settlement.outcome === "retry" && current.coalesce_key !== null && (await this.db("outbox_jobs").where({ coalesce_key: current.coalesce_key }).whereRaw(PENDING).first());
    const state = newer ? "superseded" : settlement.outcome === "retry" ? "pending" : "dead";
    await this.db("outbox_jobs")
      .where({ id })
      .update({
        state,
        ...(newer ? { finished_at: now } : {}),
        run_at: settlement.outcome === "retry" ? settlement.at : toDate(current.run_at),
        lease_owner: null,
        lease_expires_at: null,
        last_error_code: settlement.code.slice(0, 64),
        last_error_message: settlement.message,
        first_failed_at: current.first_failed_at ?? now,
        last_failed_at: now,
        ...(settlement.escalate && !current.escalated_at ? { escalated_at: now } : {}),
        updated_at: now,
      });
    return state;
  }

  /**
   * Gives leased jobs back untried (shutdown): due now, the attempt not counted. One whose key got a
   * newer pending job meanwhile is superseded by it instead.
   */
  async release(ids: readonly number[], owner: string, now: Date): Promise<number> {
    if (ids.length === 0) return 0;
    // One statement, so a handler settling the same job as it is handed back finds it either way.
    const newer = "EXISTS (SELECT 1 FROM outbox_jobs AS newer WHERE newer.coalesce_key = outbox_jobs.coalesce_key AND newer.state = 'pending')";
    return this.db("outbox_jobs")
      .whereIn("id", ids)
      .andWhere({ lease_owner: owner, state: "running" })
      .update({
        state: this.db.raw(`CASE WHEN ${newer} THEN 'superseded' ELSE 'pending' END`),
        finished_at: this.db.raw(`CASE WHEN ${newer} THEN ? ELSE finished_at END`, [now]),
        run_at: now,
        lease_owner: null,
        lease_expires_at: null,
        attempts: this.db.raw("CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"),
        updated_at: now,
      });
  }

  async get(id: number): Promise<OutboxJob | undefined> {
    const row = await this.db("outbox_jobs").where({ id }).first();
    return row ? fromRow(row) : undefined;
  }

  async list(query: FailureListQuery = {}): Promise<OutboxJob[]> {
    const builder = this.db("outbox_jobs").orderBy("id", "asc").limit(query.limit ?? 100);
    if (query.state) builder.where("state", query.state);
    if (query.target) builder.where("target", query.target);
    if (query.code) builder.where("last_error_code", query.code);
    if (query.afterId !== undefined) builder.where("id", ">", query.afterId);
    return (await builder).map(fromRow);
  }

  /** Puts a dead or dropped job back in the queue, due now, with a fresh attempt count. */
  async retry(id: number, now: Date): Promise<boolean> {
    const changed = await this.db("outbox_jobs")
      .where({ id })
      .whereIn("state", ["dead", "dropped"])
      .update({ state: "pending", attempts: 0, run_at: now, escalated_at: null, finished_at: null, updated_at: now });
    return changed > 0;
  }

  /** Redrives every dead job with one failure code; returns how many. */
  async redrive(code: string, now: Date): Promise<number> {
    return this.db("outbox_jobs")
      .where({ state: "dead", last_error_code: code })
      .update({ state: "pending", attempts: 0, run_at: now, escalated_at: null, updated_at: now });
  }

  /** Gives up on a pending or dead job; the row stays for the record. */
  async drop(id: number, now: Date): Promise<boolean> {
    const changed = await this.db("outbox_jobs").where({ id }).whereIn("state", ["pending", "dead"]).update({ state: "dropped", finished_at: now, updated_at: now });
    return changed > 0;
  }

  /** Removes finished jobs older than `before` (done, superseded, dropped); dead ones stay. */
  async purgeFinished(before: Date): Promise<number> {
    return this.db("outbox_jobs").whereIn("state", ["done", "superseded", "dropped"]).andWhere("finished_at", "<", before).delete();
  }

  /** Per target: how long its oldest due job has waited (ms). */
  async oldestDueAgeByTarget(now: Date): Promise<Record<string, number>> {
    const rows = (await this.db("outbox_jobs").whereIn("state", OPEN).andWhere("run_at", "<=", now).select("target").min({ at: "run_at" }).groupBy("target")) as Array<{ target: string; at: unknown }>;
    return Object.fromEntries(rows.map((row) => [row.target, Math.max(0, now.getTime() - toDate(row.at).getTime())]));
  }

  /** Per pair: how long the oldest change still waiting to be written has waited (ms): its sync lag. */
  async lagByPair(now: Date): Promise<Record<string, number>> {
    const rows = (await this.db("outbox_jobs").whereIn("state", OPEN).whereNotNull("pair").andWhere("run_at", "<=", now).select("pair").min({ at: "created_at" }).groupBy("pair")) as Array<{ pair: string; at: unknown }>;
    return Object.fromEntries(rows.map((row) => [row.pair, Math.max(0, now.getTime() - toDate(row.at).getTime())]));
  }

  /** The failure index's commonest reasons, most frequent first. */
  async topFailures(limit: number): Promise<FailureReason[]> {
    const rows = (await this.db("outbox_jobs")
      .where("state", "dead")
      .select("last_error_code")
      .count({ count: "*" })
      .max({ at: "updated_at" })
      .groupBy("last_error_code")
      .orderBy("count", "desc")
      .limit(limit)) as Array<{ last_error_code: string | null; count: unknown; at: unknown }>;
    const reasons: FailureReason[] = [];
    for (const row of rows) {
      const sample = await this.db("outbox_jobs").where({ state: "dead", last_error_code: row.last_error_code }).orderBy("updated_at", "desc").first("last_error_message");
      reasons.push({ code: row.last_error_code ?? "UNKNOWN", count: toNumber(row.count), message: String(sample?.last_error_message ?? ""), lastAt: toDate(row.at) });
    }
    return reasons;
  }

  async stats(now: Date): Promise<OutboxStats> {
    const rows = (await this.db("outbox_jobs").select("target", "state").count({ count: "*" }).groupBy("target", "state")) as Array<{ target: string; state: string; count: unknown }>;
    const byState: Record<string, Record<string, number>> = {};
    for (const row of rows) (byState[row.state] ??= {})[row.target] = toNumber(row.count);
    const oldest = await this.db("outbox_jobs").whereIn("state", OPEN).andWhere("run_at", "<=", now).min({ at: "run_at" }).first();
    const retrying = await this.db("outbox_jobs").where("state", "pending").andWhere("attempts", ">", 0).count({ count: "*" }).first();
    const dead = (await this.db("outbox_jobs").where("state", "dead").select("last_error_code").count({ count: "*" }).groupBy("last_error_code")) as Array<{ last_error_code: string | null; count: unknown }>;
    return {
      byState,
      oldestDueAgeMs: oldest?.at ? Math.max(0, now.getTime() - toDate(oldest.at).getTime()) : 0,
      retrying: toNumber(retrying?.count ?? 0),
      deadByCode: Object.fromEntries(dead.map((row) => [row.last_error_code ?? "UNKNOWN", toNumber(row.count)])),
    };
  }
}

export interface FailureReason {
  code: string;
  count: number;
  /** One message of that code (the most recent). */
  message: string;
  lastAt: Date;
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "23505" || code === "SQLITE_CONSTRAINT" || /UNIQUE constraint failed/i.test((error as Error).message);
}

function fromRow(row: Record<string, unknown>): OutboxJob {
  return {
    id: toNumber(row.id),
    pair: toOptional(row.pair as string | null),
    target: String(row.target),
    kind: String(row.kind),
    leadId: row.lead_id === null || row.lead_id === undefined ? undefined : toNumber(row.lead_id),
    payload: parseJson(row.payload),
    coalesceKey: toOptional(row.coalesce_key as string | null),
    idempotencyKey: String(row.idempotency_key),
    priority: toNumber(row.priority),
    dueBy: toOptionalDate(row.due_by),
    state: row.state as JobState,
    attempts: toNumber(row.attempts),
    maxAttempts: toNumber(row.max_attempts),
    runAt: toDate(row.run_at),
    leaseOwner: toOptional(row.lease_owner as string | null),
    leaseExpiresAt: toOptionalDate(row.lease_expires_at),
    lastErrorCode: toOptional(row.last_error_code as string | null),
    lastErrorMessage: toOptional(row.last_error_message as string | null),
    firstFailedAt: toOptionalDate(row.first_failed_at),
    lastFailedAt: toOptionalDate(row.last_failed_at),
    escalatedAt: toOptionalDate(row.escalated_at),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    finishedAt: toOptionalDate(row.finished_at),
  };
}
