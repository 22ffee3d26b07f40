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
