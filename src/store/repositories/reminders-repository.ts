import type { Knex } from "knex";
import { toDate, toNumber } from "../rows.js";

export interface ReminderRecord {
  id: number;
  leadId: number;
  deadline: "accept" | "act";
  deadlineAt: Date;
  leadTimeMs: number;
  outcome: "sent" | "skipped";
  createdAt: Date;
}

export class RemindersRepository {
  constructor(private readonly db: Knex | Knex.Transaction) {}

  /** Records a reminder; false when it was already recorded (by this process earlier, or another replica). */
  async record(reminder: Omit<ReminderRecord, "id" | "createdAt">, now: Date): Promise<boolean> {
    const inserted = await this.db("reminders")
      .insert({ lead_id: reminder.leadId, deadline: reminder.deadline, deadline_at: reminder.deadlineAt, lead_time_ms: reminder.leadTimeMs, outcome: reminder.outcome, created_at: now })
      .onConflict(["lead_id", "deadline", "deadline_at", "lead_time_ms"])
      .ignore()
      .returning("id");
    return inserted.length > 0;
  }

  /**
   * Records reminders at once; returns the `reminderKey`s of those this call recorded (the others
   * were recorded already, by this process earlier or another replica).
   */
  async recordMany(reminders: ReadonlyArray<Omit<ReminderRecord, "id" | "createdAt">>, now: Date): Promise<Set<string>> {
    const recorded = new Set<string>();
    for (let offset = 0; offset < reminders.length; offset += 100) {
      const rows = reminders.slice(offset, offset + 100).map((r) => ({ lead_id: r.leadId, deadline: r.deadline, deadline_at: r.deadlineAt, lead_time_ms: r.leadTimeMs, outcome: r.outcome, created_at: now }));
      const inserted = (await this.db("reminders").insert(rows).onConflict(["lead_id", "deadline", "deadline_at", "lead_time_ms"]).ignore().returning(["lead_id", "deadline", "deadline_at", "lead_time_ms"])) as Array<Record<string, unknown>>;
      for (const row of inserted) recorded.add(reminderKey({ leadId: toNumber(row.lead_id), deadline: row.deadline as ReminderRecord["deadline"], deadlineAt: toDate(row.deadline_at), leadTimeMs: toNumber(row.lead_time_ms) }));
    }
    return recorded;
  }

  /** The reminders recorded for these leads, as `reminderKey`s: what a pass need not try again. */
  async recordedFor(leadIds: readonly number[]): Promise<Set<string>> {
    const keys = new Set<string>();
    for (let offset = 0; offset < leadIds.length; offset += 900) {
      const rows = (await this.db("reminders").select("lead_id", "deadline", "deadline_at", "lead_time_ms").whereIn("lead_id", leadIds.slice(offset, offset + 900))) as Array<Record<string, unknown>>;
      for (const row of rows) keys.add(reminderKey({ leadId: toNumber(row.lead_id), deadline: row.deadline as ReminderRecord["deadline"], deadlineAt: toDate(row.deadline_at), leadTimeMs: toNumber(row.lead_time_ms) }));
    }
    return keys;
  }

  async forLead(leadId: number): Promise<ReminderRecord[]> {
    const rows = (await this.db("reminders").where({ lead_id: leadId }).orderBy("id")) as Array<Record<string, unknown>>;
    return rows.map((row) => ({
      id: toNumber(row.id),
      leadId: toNumber(row.lead_id),
      deadline: row.deadline as ReminderRecord["deadline"],
      deadlineAt: toDate(row.deadline_at),
      leadTimeMs: toNumber(row.lead_time_ms),
      outcome: row.outcome as ReminderRecord["outcome"],
      createdAt: toDate(row.created_at),
    }));
  }

  /** Reminders sent since a time (the status page's "sent today"). */
  async countSentSince(since: Date): Promise<number> {
    const [row] = await this.db("reminders").where("outcome", "sent").andWhere("created_at", ">=", since).count({ n: "*" });
    return toNumber(row?.n ?? 0);
  }
}

/** One reminder's identity: the lead, the deadline and its time, and how long before it. */
export function reminderKey(reminder: Pick<ReminderRecord, "leadId" | "deadline" | "deadlineAt" | "leadTimeMs">): string {
  return `${reminder.leadId}|${reminder.deadline}|${reminder.deadlineAt.getTime()}|${reminder.leadTimeMs}`;
}
