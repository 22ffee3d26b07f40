import type { GraphMail } from "../notify/graph-mail.js";
import { perJob } from "../queue/per-job.js";
import type { JobHandler } from "../queue/types.js";
import type { ReminderNotice } from "./reminder-notice.js";
import { formatDeadline, reminderAction, reminderRule, reminderSubject } from "./reminder-notice.js";

/** Sends each reminder mail with the deadline in the recipient's own time zone. */
export function reminderMailHandler(mail: GraphMail): JobHandler {
  return perJob(async (job) => {
    const notice = job.payload as ReminderNotice;
    const zone = await mail.timeZoneOf(notice.to);
    await mail.send({ to: notice.to, ...renderReminder(notice, zone) });
    return { ok: true };
  });
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** Subject and HTML of a reminder; the deadline is written in `timeZone`, with the zone named. */
export function renderReminder(notice: ReminderNotice, timeZone: string): { subject: string; html: string } {
  const when = formatDeadline(notice.at, timeZone);
  const links = [`<li><a href="${escape(notice.partnerCenterUrl)}">Partner Center</a></li>`, ...notice.records.map((r) => `<li><a href="${escape(r.url)}">${escape(r.pair)}</a></li>`)];
  const html = [
    `<p>${escape(reminderAction(notice))} the Joint Planning lead <b>${escape(notice.name)}</b> for <b>${escape(notice.customer)}</b> by <b>${escape(when)}</b> (${escape(timeZone)}).</p>`,
    `<p>${escape(reminderRule(notice))}</p>`,
    `<ul>${links.join("")}</ul>`,
  ].join("\n");
  return { subject: reminderSubject(notice, when), html };
}
