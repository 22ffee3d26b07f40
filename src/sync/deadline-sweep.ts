import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import { DEFAULT_REMINDER_LEAD_TIMES_MS, remindersDue } from "../domain/index.js";
import { PARTNER_CENTER_LEAD_URL } from "../mapping/index.js";
import { adaptReferral } from "../partner-center/adapter.js";
import type { Clock } from "../shared/clock.js";
import type { LeadRecord, NewJob, NewLeadEvent, Store } from "../store/index.js";
import { reminderKey } from "../store/index.js";
import type { PairTarget } from "./enqueue-crm-upsert.js";
import { enqueueCrmUpsert } from "./enqueue-crm-upsert.js";
import type { ReminderChannels } from "./reminder-notice.js";
import type { ReminderRecord } from "./reminder-notice.js";
import { describeLeadTime, reminderNoticeJobs } from "./reminder-notice.js";

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
  /** Where each reminder goes besides the timeline and the log (mail, Teams, CRM tasks). */
  channels?: ReminderChannels;
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
    const due = await options.store.reads.leads.listDueBy(now, options.batch ?? 200);
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
/** Leads whose reminders are recorded in one transaction. */
const REMINDER_CHUNK = 100;

/**
 * Each reminder once: the nearest lead time crossed is sent, earlier ones crossed at the same moment
 * (the daemon was down) are recorded as skipped. A lead accepted before its accept reminder came
 * has an act deadline now, so the accept reminders never fire. A backfill can bring thousands due
 * at once: they are recorded a hundred leads to a transaction, in a few statements each.
 */
async function remind(options: SweepOptions, log: Logger): Promise<number> {
  const leadTimes = options.reminderLeadTimesMs ?? DEFAULT_REMINDER_LEAD_TIMES_MS;
  const now = options.clock.now();
  const horizon = new Date(now.getTime() + Math.max(...leadTimes));
  // Most deadlines a pass sees were reminded of in an earlier pass: those are told apart in one
  // read, and only a lead with a reminder to write is read whole.
  const due = await options.store.reads.leads.listDeadlinesBy(horizon, REMINDER_PAGE);
  const recorded = await options.store.reads.reminders.recordedFor([...new Set(due.map((d) => d.leadId))]);
  const work = due
    .map(({ leadId, deadline, at }) => ({ leadId, deadline, at, reminders: remindersDue({ kind: deadline, at }, leadTimes, now) }))
    .filter(({ leadId, deadline, at, reminders }) => !reminders.every((reminder) => recorded.has(reminderKey({ leadId, deadline, deadlineAt: at, leadTimeMs: reminder.leadTimeMs }))));
  let sent = 0;
  for (let offset = 0; offset < work.length; offset += REMINDER_CHUNK) {
    const chunk = work.slice(offset, offset + REMINDER_CHUNK);
    const leads = await options.store.reads.leads.findByIds(chunk.map((w) => w.leadId));
    const said: Array<Record<string, unknown>> = [];
    await options.store.transaction(async (repos) => {
      const fresh = await repos.reminders.recordMany(
        chunk.flatMap(({ leadId, deadline, at, reminders }) => (leads.has(leadId) ? reminders.map((reminder) => ({ leadId, deadline, deadlineAt: at, leadTimeMs: reminder.leadTimeMs, outcome: reminder.outcome })) : [])),
        now,
      );
      // The reminders this pass recorded and sends (a skipped one is only recorded).
      const sending = chunk.flatMap(({ leadId, deadline, at, reminders }) => reminders.filter((reminder) => reminder.outcome === "sent" && fresh.has(reminderKey({ leadId, deadline, deadlineAt: at, leadTimeMs: reminder.leadTimeMs }))).map(({ leadTimeMs }) => ({ lead: leads.get(leadId) as LeadRecord, deadline, at, leadTimeMs })));
      const records = options.channels && sending.length > 0 ? await options.channels.records(repos, [...new Set(sending.map((s) => s.lead.id))]) : new Map<number, ReminderRecord[]>();
      const jobs: NewJob[] = [];
      const events: NewLeadEvent[] = [];
      for (const { lead, deadline, at, leadTimeMs } of sending) {
        const to = lead.ownerEmail ?? options.admin ?? "unassigned";
        const cause = `${deadline === "accept" ? "accept" : "act"} by ${at.toISOString()}: ${describeLeadTime(leadTimeMs)} left`;
        const notice = { to, referralId: lead.referralId, name: lead.name, customer: adaptReferral(lead.raw).lead.customer.name, deadline, at: at.toISOString(), leadTimeMs, partnerCenterUrl: `${PARTNER_CENTER_LEAD_URL}${lead.referralId}` };
        const channels = options.channels ? reminderNoticeJobs(lead.id, notice, records.get(lead.id) ?? [], options.channels) : { jobs: [], sent: [] };
        jobs.push(...channels.jobs);
        events.push({ leadId: lead.id, at: now, side: "daemon", kind: "reminder", cause, details: { deadline, at: at.toISOString(), leadTimeMs, to, channels: channels.sent } });
        said.push({ referralId: lead.referralId, deadline, at: at.toISOString(), leadTime: describeLeadTime(leadTimeMs), to, channels: channels.sent });
      }
      if (jobs.length > 0) await repos.outbox.enqueueMany(jobs, now);
      if (events.length > 0) await repos.events.appendMany(events);
    });
    // Said once committed: a rolled-back chunk sent nothing.
    for (const fields of said) log.info(fields, "deadline reminder");
    sent += said.length;
  }
  return sent;
}
