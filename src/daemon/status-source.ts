import { crmTarget } from "../sync/enqueue-crm-upsert.js";
import { createTask } from "node-cron";
import type { Config } from "../config/index.js";
import type { LeadView, StatusSnapshot, TargetStatus } from "../http/status-model.js";
import { Metrics } from "../http/metrics.js";
import { PARTNER_CENTER_LEAD_URL } from "../mapping/index.js";
import type { JobSettlement, OutboxObserver } from "../queue/worker.js";
import type { Clock } from "../shared/clock.js";
import type { Store, OutboxJob } from "../store/index.js";
import { LAPSED_REASON } from "../sync/deadline-sweep.js";
import type { CrmConnector } from "../../connectors/types.js";
import type { ReferralClient } from "../partner-center/client.js";

const DAY_MS = 86_400_000;
const THROTTLED = /_(THROTTLED|REQUEST_LIMIT)$/;

export interface StatusSourceOptions {
  config: Config;
  clock: Clock;
  /** Real time, which pull and poll health is stamped with (the business clock may run fast in the demo). */
  opsClock?: Clock;
  version: string;
  store: () => Store;
  state: () => string;
  startedAt: () => Date | undefined;
  partnerCenters: () => Map<string, ReferralClient>;
  crms: () => Map<string, CrmConnector>;
  /** How to link a CRM record (the connector knows), by pair. */
  recordUrl: (pair: string, crmObject: string, id: string) => string | undefined;
}

/**
 * Reads what the status page, /metrics and /readyz show, from the store (so every replica tells the
 * same story) and from this process's counters (calls made, throttles, webhooks).
 */
export class StatusSource implements OutboxObserver {
  readonly metrics = new Metrics();
  readonly #options: StatusSourceOptions;
  readonly #requests = new Map<string, number>();
  readonly #throttled = new Map<string, number>();
  readonly #webhooks = { accepted: 0, refused: 0 };
  readonly #pullIntervals = new Map<string, number | undefined>();

  constructor(options: StatusSourceOptions) {
    this.#options = options;
  }

  settled(job: OutboxJob, outcome: JobSettlement, code?: string): void {
    this.metrics.jobSettled(job.target, job.kind, outcome);
    if (code && THROTTLED.test(code)) this.#throttled.set(job.target, (this.#throttled.get(job.target) ?? 0) + 1);
  }

  requests(target: string, count: number): void {
    this.#requests.set(target, (this.#requests.get(target) ?? 0) + count);
  }

  webhook(account: string, accepted: boolean): void {
    this.#webhooks[accepted ? "accepted" : "refused"] += 1;
    this.metrics.webhook(account, accepted);
  }

  runRecorded(kind: string, name: string, ok: boolean): void {
    this.metrics.runRecorded(kind, name, ok);
  }

  async snapshot(): Promise<StatusSnapshot> {
    const { config, clock } = this.#options;
    const store = this.#options.store();
    const repos = store.reads;
    const now = clock.now();
    const runs = await repos.syncRuns.all();
    const run = (kind: string, name: string) => runs.find((r) => r.kind === kind && r.name === name);
    const lastEvents = await repos.events.lastAtByPair(["crm-upserted", "pc-pushed"]);
    const lastEvent = (pair: string, kind: string) => lastEvents.find((e) => e.pair === pair && e.kind === kind)?.at;
    const lag = await repos.outbox.lagByPair(now);
    const byAccount = new Map<string, Record<string, number>>();
    const pairs = [];
    for (const pair of config.pairs.filter((p) => p.enabled)) {
      if (!byAccount.has(pair.partnerCenter)) byAccount.set(pair.partnerCenter, await repos.leads.countByState(pair.partnerCenter));
      const pull = run("pull", pair.partnerCenter);
      const poll = run("crm-poll", pair.name);
      const failure = (r: typeof pull) => (r?.lastFailureAt && (!r.lastSuccessAt || r.lastFailureAt > r.lastSuccessAt) ? { at: r.lastFailureAt, code: r.lastErrorCode ?? "UNKNOWN", message: r.lastErrorMessage ?? "" } : undefined);
      const pullFailure = failure(pull);
      const pollFailure = failure(poll);
      const lastCrmWriteAt = lastEvent(pair.name, "crm-upserted");
      const lastPushAt = lastEvent(pair.name, "pc-pushed");
      const pullIntervalMs = this.pullIntervalOf(pair.schedule.pull);
      pairs.push({
        name: pair.name,
        account: pair.partnerCenter,
        crm: pair.crm,
        leadsByState: byAccount.get(pair.partnerCenter) ?? {},
        ...(pull?.lastSuccessAt ? { lastPullAt: pull.lastSuccessAt } : {}),
        ...(pullFailure ? { lastPullFailure: pullFailure } : {}),
        ...(poll?.lastSuccessAt ? { lastPollAt: poll.lastSuccessAt } : {}),
        ...(pollFailure ? { lastPollFailure: pollFailure } : {}),
        ...(lastCrmWriteAt ? { lastCrmWriteAt } : {}),
        ...(lastPushAt ? { lastPushAt } : {}),
        lagMs: lag[pair.name] ?? 0,
        ...(pullIntervalMs ? { pullIntervalMs } : {}),
      });
    }
    const stats = await repos.outbox.stats(now);
    const byTarget: Record<string, Record<string, number>> = {};
    for (const [state, targets] of Object.entries(stats.byState)) for (const [target, count] of Object.entries(targets)) (byTarget[target] ??= {})[state] = count;
    const due = await repos.leads.listDueBy(new Date(now.getTime() + 7 * DAY_MS), 25);
    const closed = await repos.leads.countClosedLocally();
    const states = await repos.leads.countByState();
    const midnight = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const startedAt = this.#options.startedAt();
    return {
      at: now,
      opsAt: (this.#options.opsClock ?? clock).now(),
      version: this.#options.version,
      state: this.#options.state(),
      ...(startedAt ? { startedAt } : {}),
      pairs,
      outbox: { byTarget, oldestDueAgeMs: await repos.outbox.oldestDueAgeByTarget(now), retrying: stats.retrying, deadByCode: stats.deadByCode, topFailures: await repos.outbox.topFailures(5) },
      deadlines: {
        dueWithin24h: await repos.leads.countDueWithin(now, new Date(now.getTime() + DAY_MS)),
        dueWithin7d: await repos.leads.countDueWithin(now, new Date(now.getTime() + 7 * DAY_MS)),
        expired: states.expired ?? 0,
        closedBy60DayRule: closed[LAPSED_REASON] ?? 0,
        dueSoon: due.map(({ lead, deadline, at }) => ({ leadId: lead.id, referralId: lead.referralId, name: lead.name, account: lead.account, deadline, at, state: lead.state, ...(lead.ownerEmail ? { owner: lead.ownerEmail } : {}) })),
      },
      reminders: { sentToday: await repos.reminders.countSentSince(midnight) },
      targets: this.#targets(),
      webhooks: { ...this.#webhooks },
    };
  }

  async lead(id: number): Promise<LeadView | undefined> {
    const repos = this.#options.store().reads;
    const lead = await repos.leads.findById(id);
    if (!lead) return undefined;
    const links = await repos.crmLinks.forLead(id);
    const events = await repos.events.timeline(id, { limit: 500 });
    return {
      at: this.#options.clock.now(),
      id: lead.id,
      referralId: lead.referralId,
      account: lead.account,
      name: lead.name,
      state: lead.state,
      ...(lead.ownerEmail ? { owner: lead.ownerEmail } : {}),
      ...(lead.acceptBy ? { acceptBy: lead.acceptBy } : {}),
      ...(lead.actBy ? { actBy: lead.actBy } : {}),
      partnerCenterUrl: `${PARTNER_CENTER_LEAD_URL}${lead.referralId}`,
      records: links
        .filter((link) => link.crmRecordId)
        .map((link) => {
          const url = this.#options.recordUrl(link.pair, link.crmObject, link.crmRecordId as string);
          return { pair: link.pair, object: link.crmObject, id: link.crmRecordId as string, ...(url ? { url } : {}), ...(link.syncError ? { syncError: link.syncError } : {}) };
        }),
      timeline: events.map((e) => ({ at: e.at, side: e.side, kind: e.kind, ...(e.cause ? { cause: e.cause } : {}), ...(e.pair ? { pair: e.pair } : {}) })),
    };
  }

  #targets(): TargetStatus[] {
    const targets: TargetStatus[] = [];
    for (const [account, client] of this.#options.partnerCenters()) {
      const calls = client.callStats;
      targets.push({ target: `partner-center:${account}`, requests: calls.requests, throttled: calls.throttled });
    }
    for (const [name, connector] of this.#options.crms()) {
      const target = crmTarget(name);
      const rate = connector.rateInfo();
      targets.push({
        target,
        requests: this.#requests.get(target) ?? 0,
        throttled: this.#throttled.get(target) ?? 0,
        ...(rate.dailyUsed !== undefined ? { dailyUsed: rate.dailyUsed } : {}),
        ...(rate.dailyLimit !== undefined ? { dailyLimit: rate.dailyLimit } : {}),
        ...(rate.remaining !== undefined ? { remaining: rate.remaining } : {}),
      });
    }
    for (const [target, count] of this.#requests) if (target.startsWith("notify:")) targets.push({ target, requests: count, throttled: this.#throttled.get(target) ?? 0 });
    return targets;
  }

  /** The longest gap between the next few runs of a cron schedule. */
  pullIntervalOf(expression: string): number | undefined {
    if (!this.#pullIntervals.has(expression)) {
      const task = createTask(expression, () => undefined);
      const runs = task.getNextRuns(4).map((d) => d.getTime());
      void task.destroy();
      const gaps = runs.slice(1).map((t, i) => t - (runs[i] as number));
      this.#pullIntervals.set(expression, gaps.length > 0 ? Math.max(...gaps) : undefined);
    }
    return this.#pullIntervals.get(expression);
  }
}
