import type { LifecycleSnapshot } from "./lead.js";
import { WORKING_STATES } from "./lead.js";

export const DAY_MS = 24 * 60 * 60 * 1000;
export const HOUR_MS = 60 * 60 * 1000;
/** A Joint Planning lead must be accepted or declined within 14 days of being received. */
export const ACCEPT_WINDOW_MS = 14 * DAY_MS;
/** An accepted lead must reach won / lost / converted within 60 days of acceptance. */
export const ACT_WINDOW_MS = 60 * DAY_MS;

type Dates = Pick<LifecycleSnapshot, "receivedAt" | "expiresAt" | "acceptedAt">;

/** Partner Center's stated expiry wins over our own arithmetic when the record carries one. */
export function acceptBy(lead: Dates): Date {
  return lead.expiresAt ?? new Date(lead.receivedAt.getTime() + ACCEPT_WINDOW_MS);
}

export function actBy(lead: Dates): Date | undefined {
  return lead.acceptedAt ? new Date(lead.acceptedAt.getTime() + ACT_WINDOW_MS) : undefined;
}

export type DeadlineKind = "accept" | "act";

export interface Deadline {
  kind: DeadlineKind;
  at: Date;
}

/** The deadline the lead is running against now, or none once it is closed. */
export function currentDeadline(lead: LifecycleSnapshot): Deadline | undefined {
  if (lead.state === "new") return { kind: "accept", at: acceptBy(lead) };
  if (WORKING_STATES.has(lead.state)) {
    const at = actBy(lead);
    return at ? { kind: "act", at } : undefined;
  }
  return undefined;
}

export type UrgencyLevel = "none" | "normal" | "soon" | "urgent" | "critical" | "overdue";

export interface Urgency {
  level: UrgencyLevel;
  deadline?: Deadline;
  /** Milliseconds left until the deadline; negative once it has passed. */
  remainingMs?: number;
  /** Higher runs first. Overdue work outranks everything; closed leads rank 0. */
  rank: number;
}

/** Thresholds match the default reminder lead times (7 d, 1 d, 4 h). */
export const URGENCY_THRESHOLDS = { soonMs: 7 * DAY_MS, urgentMs: DAY_MS, criticalMs: 4 * HOUR_MS } as const;

const RANKS: Record<UrgencyLevel, number> = { none: 0, normal: 1, soon: 2, urgent: 3, critical: 4, overdue: 5 };

export function urgency(lead: LifecycleSnapshot, now: Date, thresholds = URGENCY_THRESHOLDS): Urgency {
  const deadline = currentDeadline(lead);
  if (!deadline) return { level: "none", rank: RANKS.none };
  const remainingMs = deadline.at.getTime() - now.getTime();
  const level: UrgencyLevel =
    remainingMs <= 0
      ? "overdue"
      : remainingMs <= thresholds.criticalMs
        ? "critical"
        : remainingMs <= thresholds.urgentMs
          ? "urgent"
          : remainingMs <= thresholds.soonMs
            ? "soon"
            : "normal";
  return { level, deadline, remainingMs, rank: RANKS[level] };
}

/** Reminder lead times before each deadline, by default: 7 days, 3 days, 1 day, 4 hours. */
export const DEFAULT_REMINDER_LEAD_TIMES_MS: readonly number[] = [7 * DAY_MS, 3 * DAY_MS, DAY_MS, 4 * HOUR_MS];

export interface ReminderDue {
  leadTimeMs: number;
  /** Only the reminder nearest the deadline is sent; earlier ones crossed at the same time (the daemon was down) are skipped. */
  outcome: "sent" | "skipped";
}

/** The reminders of `deadline` whose time has come at `now` and whose deadline has not passed. */
export function remindersDue(deadline: Deadline, leadTimesMs: readonly number[], now: Date): ReminderDue[] {
  const left = deadline.at.getTime() - now.getTime();
  if (left <= 0) return [];
  const crossed = [...new Set(leadTimesMs)].filter((leadTime) => left <= leadTime).sort((a, b) => a - b);
  return crossed.map((leadTimeMs, index) => ({ leadTimeMs, outcome: index === 0 ? "sent" : "skipped" }));
}
