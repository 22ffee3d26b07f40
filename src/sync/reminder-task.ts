import type { CrmConnector } from "../../connectors/types.js";
import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import { perJob } from "../queue/per-job.js";
import type { JobHandler } from "../queue/types.js";
import type { Clock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import type { Store } from "../store/index.js";
import type { CrmTaskPayload, ReminderNotice } from "./reminder-notice.js";
import { describeLeadTime, formatDeadline, reminderAction, reminderRule, reminderSubject } from "./reminder-notice.js";

/**
 * Leaves each reminder as a task on the lead's record, for the record's owner. A leased batch is one
 * CRM target, so the batch's target picks the connector; each task lands on the lead's timeline.
 */
export function crmTaskByTarget(options: { connectors: Map<string, CrmConnector>; store: Store; clock: Clock; logger: Logger }): JobHandler {
  const log = componentLogger(options.logger, "reminders");
  return perJob(async (job) => {
    const connector = options.connectors.get(job.target);
    if (!connector?.createTask) throw new CosellError("OUTBOX_UNKNOWN_TARGET", `No CRM connector that takes tasks for outbox target "${job.target}"; check the pair's crm name in the config.`);
    const payload = job.payload as CrmTaskPayload;
    const { subject, body } = renderTask(payload.notice);
    const task = await connector.createTask({ object: payload.object, recordId: payload.recordId, key: payload.key, subject, body, dueAt: new Date(payload.notice.at) });
    if (job.leadId !== undefined) {
      await options.store.repos.events.append({ leadId: job.leadId, at: options.clock.now(), side: "crm", kind: "reminder-task", cause: subject, details: { pair: payload.pair, task: task.id, outcome: task.outcome, ...(task.ownerId ? { owner: task.ownerId } : {}) } });
    }
    log.info({ referralId: payload.notice.referralId, pair: payload.pair, task: task.id, outcome: task.outcome }, "reminder task on the CRM record");
    return { ok: true, requests: task.requests };
  }, { rate: (job) => options.connectors.get(job.target)?.rateInfo() });
}

/** Task title and notes, the deadline in UTC (a CRM shows the due date in each user's own zone). */
export function renderTask(notice: ReminderNotice): { subject: string; body: string } {
  const when = `${formatDeadline(notice.at, "UTC")} UTC`;
  const body = [
    `${reminderAction(notice)} the Joint Planning lead "${notice.name}" for ${notice.customer} by ${when}: ${describeLeadTime(notice.leadTimeMs)} left.`,
    reminderRule(notice),
    `Partner Center: ${notice.partnerCenterUrl}`,
  ].join("\n");
  return { subject: reminderSubject(notice, `${when} (${describeLeadTime(notice.leadTimeMs)} left)`), body };
}
