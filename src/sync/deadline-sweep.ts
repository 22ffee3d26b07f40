import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import { DEFAULT_REMINDER_LEAD_TIMES_MS, remindersDue } from "../domain/index.js";
import { PARTNER_CENTER_LEAD_URL } from "../mapping/index.js";
import { adaptReferral } from "../partner-center/adapter.js";
import type { Clock } from "../shared/clock.js";
import type { Repositories, Store } from "../store/index.js";
import type { PairTarget } from "./enqueue-crm-upsert.js";
import { enqueueCrmUpsert } from "./enqueue-crm-upsert.js";
import { enqueueReminderMail } from "./reminder-mail.js";

export const EXPIRED_REASON = "expired: not accepted within the 14-day window";
export const LAPSED_REASON = "closed by the 60-day rule";

export interface SweepReport {
  expired: number;
  lapsed: number;
  /** Reminders sent in this sweep (recorded, on the timeline, logged). */
  reminded: number;
}

export interface SweepOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  pairs: (account: string) => PairTarget[];
  /** Reminder lead times before each deadline (milliseconds). */
  reminderLeadTimesMs?: readonly number[];
  /** Who hears about a lead without an owner. */
  admin?: string;
  /** Mail each reminder (queued with the reminder's record), when a mail channel is configured. */
  mail?: { maxAttempts: number; records: (repos: Repositories, leadId: number) => Promise<Array<{ pair: string; url: string }>> };
  batch?: number;
}

/**
 * Closes what a deadline has passed on, locally and at once: a new lead past accept-by is expired, a
 * working lead past act-by is lost ("closed by the 60-day rule"). Each close, its timeline entry and
 * the CRM writes that show it commit together; Partner Center's own answer later confirms or
 * corrects it (see the pull). No push is planned for a closed lead: the rules refuse it.
 */
export async function sweepDeadlines(options: SweepOptions): Promise<SweepReport> {
  const log = componentLogger(options.logger, "deadlines");
  const report: SweepReport = { expired: 0, lapsed: 0, reminded: 0 };
  for (;;) {
    const now = options.clock.now();
    const due = await options.store.repos.leads.listDueBy(now, options.batch ?? 200);
    if (due.length === 0) break;
    const before = report.expired + report.lapsed;
    await options.store.transaction(async (repos) => {
      for (const { lead, deadline, at } of due) {
        const state = deadline === "accept" ? "expired" : "lost";
        const reason = deadline === "accept" ? EXPIRED_REASON : LAPSED_REASON;
        if (!(await repos.leads.closeLocally(lead.id, state, reason, now))) continue;
        report[deadline === "accept" ? "expired" : "lapsed"] += 1;
        await repos.events.append({ leadId: lead.id, at: now, side: "daemon", kind: "closed-locally", cause: reason, details: { state, deadline: at.toISOString() } });
        const closed = await repos.leads.findById(lead.id);
        if (!closed) continue;
        for (const pair of options.pairs(lead.account)) await enqueueCrmUpsert(repos, pair, { lead: closed }, adaptReferral(closed.raw), now, reason);
      }
    });
    // Another replica closed them first: nothing left for this pass.
    if (report.expired + report.lapsed === before) break;
  }
  if (report.expired + report.lapsed > 0) log.info({ ...report }, "deadlines passed; leads closed locally");
  report.reminded = await remind(options, log);
  return report;
}

/** How many leads one reminder pass looks at; the rest wait for the next sweep (a minute). */
const REMINDER_PAGE = 5_000;

/**
 * Each reminder once: the nearest lead time crossed is sent, earlier ones crossed at the same moment
 * (the daemon was down) are recorded as skipped. A lead accepted before its accept reminder came
 * has an act deadline now, so the accept reminders never fire.
 */
async function remind(options: SweepOptions, log: Logger): Promise<number> {
  const leadTimes = options.reminderLeadTimesMs ?? DEFAULT_REMINDER_LEAD_TIMES_MS;
  const now = options.clock.now();
  const horizon = new Date(now.getTime() + Math.max(...leadTimes));
  const due = await options.store.repos.leads.listDueBy(horizon, REMINDER_PAGE);
  let sent = 0;
  for (const { lead, deadline, at } of due) {
    const reminders = remindersDue({ kind: deadline, at }, leadTimes, now);
    if (reminders.length === 0) continue;
    await options.store.transaction(async (repos) => {
      for (const reminder of reminders) {
        const recorded = await repos.reminders.record({ leadId: lead.id, deadline, deadlineAt: at, leadTimeMs: reminder.leadTimeMs, outcome: reminder.outcome }, now);
        if (!recorded || reminder.outcome !== "sent") continue;
        sent += 1;
        const to = lead.ownerEmail ?? options.admin ?? "unassigned";
        const cause = `${deadline === "accept" ? "accept" : "act"} by ${at.toISOString()}: ${describeLeadTime(reminder.leadTimeMs)} left`;
        await repos.events.append({ leadId: lead.id, at: now, side: "daemon", kind: "reminder", cause, details: { deadline, at: at.toISOString(), leadTimeMs: reminder.leadTimeMs, to } });
        if (options.mail && to !== "unassigned") {
          const customer = adaptReferral(lead.raw).lead.customer.name;
          const payload = { to, referralId: lead.referralId, name: lead.name, customer, deadline, at: at.toISOString(), leadTimeMs: reminder.leadTimeMs, partnerCenterUrl: `${PARTNER_CENTER_LEAD_URL}${lead.referralId}`, records: await options.mail.records(repos, lead.id) };
          await enqueueReminderMail(repos, lead.id, payload, at, options.mail.maxAttempts, now);
        }
        log.info({ referralId: lead.referralId, deadline, at: at.toISOString(), leadTime: describeLeadTime(reminder.leadTimeMs), to }, "deadline reminder");
      }
    });
  }
  return sent;
}

function describeLeadTime(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} day${ms === 86_400_000 ? "" : "s"}`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} hour${ms === 3_600_000 ? "" : "s"}`;
  return `${Math.round(ms / 60_000)} minutes`;
}
