import type { AdaptiveCard, TeamsWorkflow } from "../notify/teams-workflow.js";
import { perJob } from "../queue/per-job.js";
import type { JobHandler } from "../queue/types.js";
import type { ReminderNotice } from "./reminder-notice.js";
import { describeLeadTime, formatDeadline, reminderAction, reminderRule, reminderSubject } from "./reminder-notice.js";

/** Posts each reminder to the Teams channel behind the workflow. */
export function reminderTeamsHandler(teams: TeamsWorkflow, timeZone: string): JobHandler {
  return perJob(async (job) => {
    await teams.post(renderTeamsCard(job.payload as ReminderNotice, timeZone));
    return { ok: true };
  });
}

/** An Adaptive Card (1.4) for the channel: what is due, by when, who owns it, and where to act. */
export function renderTeamsCard(notice: ReminderNotice, timeZone: string): AdaptiveCard {
  const when = formatDeadline(notice.at, timeZone);
  return {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: "1.4",
    body: [
      { type: "TextBlock", size: "Medium", weight: "Bolder", text: reminderSubject(notice, when), wrap: true, color: notice.leadTimeMs <= 86_400_000 ? "Attention" : "Default" },
      { type: "TextBlock", text: `${reminderAction(notice)} this Joint Planning lead: ${describeLeadTime(notice.leadTimeMs)} left. ${reminderRule(notice)}`, wrap: true },
      {
        type: "FactSet",
        facts: [
          { title: "Customer", value: notice.customer },
          { title: "Deadline", value: `${when} (${timeZone})` },
          { title: "Owner", value: notice.to },
          { title: "Referral", value: notice.referralId },
        ],
      },
    ],
    actions: [{ type: "Action.OpenUrl", title: "Open in Partner Center", url: notice.partnerCenterUrl }, ...notice.records.map((r) => ({ type: "Action.OpenUrl", title: `Open in ${r.pair}`, url: r.url }))],
  };
}
