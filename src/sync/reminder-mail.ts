import type { GraphMail } from "../notify/graph-mail.js";
import { perJob } from "../queue/per-job.js";
import type { JobHandler } from "../queue/types.js";
import type { Repositories } from "../store/index.js";

export const NOTIFY_MAIL = "notify-mail";
export const MAIL_TARGET = "notify:mail";

export interface ReminderMailPayload {
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

/** Queued in the transaction that records the reminder, so a reminder is mailed once or not at all. */
export async function enqueueReminderMail(repos: Repositories, leadId: number, payload: ReminderMailPayload, dueBy: Date, maxAttempts: number, now: Date): Promise<void> {
  await repos.outbox.enqueue({ target: MAIL_TARGET, kind: NOTIFY_MAIL, leadId, payload, dueBy, maxAttempts, coalesceKey: null }, now);
}

/** Sends each reminder mail with the deadline in the recipient's own time zone. */
export function reminderMailHandler(mail: GraphMail): JobHandler {
  return perJob(async (job) => {
    const payload = job.payload as ReminderMailPayload;
    const zone = await mail.timeZoneOf(payload.to);
    await mail.send({ to: payload.to, ...renderReminder(payload, zone) });
    return { ok: true };
  });
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** Subject and HTML of a reminder; the deadline is written in `timeZone`, with the zone named. */
export function renderReminder(payload: ReminderMailPayload, timeZone: string): { subject: string; html: string } {
  const when = new Intl.DateTimeFormat("en-GB", { timeZone, dateStyle: "full", timeStyle: "short" }).format(new Date(payload.at));
  const verb = payload.deadline === "accept" ? "Accept or decline" : "Close (won, lost or converted)";
  const subject = `${payload.deadline === "accept" ? "Accept by" : "Act by"} ${when}: ${payload.name}`;
  const links = [`<li><a href="${escape(payload.partnerCenterUrl)}">Partner Center</a></li>`, ...payload.records.map((r) => `<li><a href="${escape(r.url)}">${escape(r.pair)}</a></li>`)];
  const html = [
    `<p>${escape(verb)} the Joint Planning lead <b>${escape(payload.name)}</b> for <b>${escape(payload.customer)}</b> by <b>${escape(when)}</b> (${escape(timeZone)}).</p>`,
    payload.deadline === "accept" ? "<p>Partner Center expires a lead that is not accepted within 14 days.</p>" : "<p>Partner Center closes a lead as lost 60 days after acceptance.</p>",
    `<ul>${links.join("")}</ul>`,
  ].join("\n");
  return { subject, html };
}
