import type { Knex } from "knex";
import type { StoreKind } from "../connect.js";
import { insertRows } from "../insert-rows.js";
import { parseJson, toDate, toNumber, toOptional } from "../rows.js";

/** Which side a timeline event came from or acted on. */
export type EventSide = "partner-center" | "crm" | "daemon" | "admin";

/** One entry of a lead's timeline: what happened, why, and from which side. */
export interface LeadEvent {
  id: number;
  leadId: number;
  pair?: string;
  at: Date;
  side: EventSide;
  /** Short machine-readable kind: pulled, stored, mapped, crm-upserted, echo-dropped, pushed, retried, reminded… */
  kind: string;
  /** Human-readable reason, e.g. "webhook referral-updated" or "seller marked Qualify complete". */
  cause?: string;
  details?: Record<string, unknown>;
}

export type NewLeadEvent = Omit<LeadEvent, "id">;

export class LeadEventsRepository {
  constructor(
    private readonly db: Knex | Knex.Transaction,
    private readonly kind: StoreKind,
  ) {}

  async append(event: NewLeadEvent): Promise<number> {
    const [row] = await this.db("lead_events").insert(toRow(event)).returning("id");
    return toNumber(typeof row === "object" && row !== null ? (row as { id: unknown }).id : row);
  }

  /** Several events in one statement (a batch's worth of writes), in order. */
  async appendMany(events: readonly NewLeadEvent[]): Promise<void> {
    // 7 columns a row: chunks stay far below PostgreSQL's bound-parameter limit (on SQLite the
    // rows travel as one JSON text).
    for (let offset = 0; offset < events.length; offset += 500) {
      await insertRows(this.db, this.kind, "lead_events", events.slice(offset, offset + 500).map(toRow));
    }
  }

  /** When each pair last saw an event of each kind (e.g. its last CRM write and last push). */
  async lastAtByPair(kinds: readonly string[]): Promise<Array<{ pair: string; kind: string; at: Date }>> {
    const rows = (await this.db("lead_events").whereIn("kind", [...kinds]).whereNotNull("pair").select("pair", "kind").max({ at: "at" }).groupBy("pair", "kind")) as Array<{ pair: string; kind: string; at: unknown }>;
    return rows.map((row) => ({ pair: row.pair, kind: row.kind, at: toDate(row.at) }));
  }

  /** How many events of each kind the store holds (the demo's and status page's tallies). */
  async countByKind(kinds: readonly string[]): Promise<Record<string, number>> {
    const rows = (await this.db("lead_events").whereIn("kind", [...kinds]).groupBy("kind").select("kind").count({ n: "*" })) as Array<{ kind: string; n: unknown }>;
    return Object.fromEntries(kinds.map((kind) => [kind, toNumber(rows.find((row) => row.kind === kind)?.n ?? 0)]));
  }

  /** Newest first, paged backwards by id. */
  async timeline(leadId: number, options: { limit?: number; beforeId?: number } = {}): Promise<LeadEvent[]> {
    const query = this.db("lead_events").where({ lead_id: leadId }).orderBy("id", "desc").limit(options.limit ?? 100);
    if (options.beforeId !== undefined) query.andWhere("id", "<", options.beforeId);
    const rows = await query;
    return rows.map((row: Record<string, unknown>) => ({
      id: toNumber(row.id),
      leadId: toNumber(row.lead_id),
      pair: toOptional(row.pair as string | null),
      at: toDate(row.at),
      side: row.side as EventSide,
      kind: String(row.kind),
      cause: toOptional(row.cause as string | null),
      details: parseJson(row.details) as Record<string, unknown> | undefined,
    }));
  }
}

function toRow(event: NewLeadEvent): Record<string, unknown> {
  return {
    lead_id: event.leadId,
    pair: event.pair ?? null,
    at: event.at,
    side: event.side,
    kind: event.kind,
    cause: event.cause ?? null,
    details: event.details === undefined ? null : JSON.stringify(event.details),
  };
}
