import { crmTarget } from "./enqueue-crm-upsert.js";
import type { NewJob, Repositories } from "../store/index.js";

export const NOTIFY_MAIL = "notify-mail";
export const MAIL_TARGET = "notify:mail";
export const NOTIFY_TEAMS = "notify-teams";
export const TEAMS_TARGET = "notify:teams";
export const CRM_TASK = "crm-task";

/** Everything a reminder says, whichever channel carries it. */
export interface ReminderNotice {
  /** The lead's owner, the referrals admin, or "unassigned". */
  to: string;
  referralId: string;
  name: string;
  customer: string;
  deadline: "accept" | "act";
  at: string;
  leadTimeMs: number;
  partnerCenterUrl: string;
  /** Where the lead lives in each CRM, when the connector can say. */
  records: Array<{ pair: string; url: string }>;
}

/** The lead's record in one pair's CRM, and whether a task can be left on it. */
export interface ReminderRecord {
  pair: string;
  crm: string;
  object: string;
  id: string;
  url?: string;
  tasks: boolean;
}

export interface ReminderChannels {
  maxAttempts: number;
  mail: boolean;
  teams: boolean;
  /** The CRM records of each lead, by lead id (read inside the reminders' transaction). */
  records: (repos: Repositories, leadIds: readonly number[]) => Promise<Map<number, ReminderRecord[]>>;
}

export interface CrmTaskPayload {
  notice: ReminderNotice;
  pair: string;
  object: string;
  recordId: string;
  /** One task per reminder and record, whatever the retries. */
  key: string;
}

/**
 * The jobs that carry a reminder on every channel, queued in the transaction that records it, so
 * each reminder goes out once or not at all; each channel is an outbox target and retries and
 * paces on its own. A reminder past its deadline is moot: the deadline is each job's due-by.
 */
export function reminderNoticeJobs(leadId: number, notice: Omit<ReminderNotice, "records">, records: readonly ReminderRecord[], channels: ReminderChannels): { jobs: NewJob[]; sent: string[] } {
  const full: ReminderNotice = { ...notice, records: records.flatMap((r) => (r.url ? [{ pair: r.pair, url: r.url }] : [])) };
  const dueBy = new Date(notice.at);
  const base = { leadId, dueBy, maxAttempts: channels.maxAttempts, coalesceKey: null };
  const jobs: NewJob[] = [];
  const sent: string[] = [];
  if (channels.mail && notice.to !== "unassigned") {
    jobs.push({ ...base, target: MAIL_TARGET, kind: NOTIFY_MAIL, payload: full });
    sent.push("mail");
  }
  if (channels.teams) {
    jobs.push({ ...base, target: TEAMS_TARGET, kind: NOTIFY_TEAMS, payload: full });
    sent.push("teams");
  }
  for (const record of records.filter((r) => r.tasks)) {
    const payload: CrmTaskPayload = { notice: full, pair: record.pair, object: record.object, recordId: record.id, key: `${notice.referralId}:${notice.deadline}:${notice.at}:${notice.leadTimeMs}:${record.pair}` };
    jobs.push({ ...base, target: crmTarget(record.crm), kind: CRM_TASK, payload });
    sent.push(`task:${record.pair}`);
  }
  return { jobs, sent };
}

export function describeLeadTime(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} day${ms === 86_400_000 ? "" : "s"}`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} hour${ms === 3_600_000 ? "" : "s"}`;
  return `${Math.round(ms / 60_000)} minutes`;
}

/** The deadline written for a reader in `timeZone`. */
export function formatDeadline(at: string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone, dateStyle: "full", timeStyle: "short" }).format(new Date(at));
}

export function reminderSubject(notice: Pick<ReminderNotice, "deadline" | "name">, when: string): string {
  return `${notice.deadline === "accept" ? "Accept by" : "Act by"} ${when}: ${notice.name}`;
}

export function reminderAction(notice: Pick<ReminderNotice, "deadline">): string {
  return notice.deadline === "accept" ? "Accept or decline" : "Close (won, lost or converted)";
}

export function reminderRule(notice: Pick<ReminderNotice, "deadline">): string {
  return notice.deadline === "accept" ? "Partner Center expires a lead that is not accepted within 14 days." : "Partner Center closes a lead as lost 60 days after acceptance.";
}
