import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import { adaptReferral } from "../partner-center/adapter.js";
import type { Clock } from "../shared/clock.js";
import type { Store } from "../store/index.js";
import type { PairTarget } from "./enqueue-crm-upsert.js";
import { enqueueCrmUpsert } from "./enqueue-crm-upsert.js";

export const EXPIRED_REASON = "expired: not accepted within the 14-day window";
export const LAPSED_REASON = "closed by the 60-day rule";

export interface SweepReport {
  expired: number;
  lapsed: number;
}

/**
 * Closes what a deadline has passed on, locally and at once: a new lead past accept-by is expired, a
 * working lead past act-by is lost ("closed by the 60-day rule"). Each close, its timeline entry and
 * the CRM writes that show it commit together; Partner Center's own answer later confirms or
 * corrects it (see the pull). No push is planned for a closed lead: the rules refuse it.
 */
export async function sweepDeadlines(options: { store: Store; clock: Clock; logger: Logger; pairs: (account: string) => PairTarget[]; batch?: number }): Promise<SweepReport> {
  const log = componentLogger(options.logger, "deadlines");
  const report: SweepReport = { expired: 0, lapsed: 0 };
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
  return report;
}
