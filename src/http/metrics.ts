import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { StatusSnapshot } from "./status-model.js";

/**
 * Prometheus metrics. Counters count what happens in this process (jobs settled, requests, pulls,
 * webhooks); gauges are set from one status snapshot per scrape, read from the store, so every
 * replica reports the same fleet-wide figures for leads, outbox and deadlines.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #jobs = new Counter({ name: "cosell_outbox_jobs_total", help: "Outbox jobs settled, by target, kind and outcome (done, retried, dead, superseded).", labelNames: ["target", "kind", "outcome"] as const, registers: [this.registry] });
  readonly #runs = new Counter({ name: "cosell_sync_runs_total", help: "Partner Center pulls and CRM polls, by kind, name and outcome.", labelNames: ["kind", "name", "outcome"] as const, registers: [this.registry] });
  // Counted by the clients themselves; copied over at each scrape.
  readonly #requests = new Counter({ name: "cosell_api_requests_total", help: "API calls made since start, by target.", labelNames: ["target"] as const, registers: [this.registry] });
  readonly #throttled = new Counter({ name: "cosell_api_throttled_total", help: "API calls the target throttled (429 or a limit error) since start, by target.", labelNames: ["target"] as const, registers: [this.registry] });
  readonly #quotaUsed = new Gauge({ name: "cosell_api_daily_used", help: "Daily API calls used, where the API reports it.", labelNames: ["target"] as const, registers: [this.registry] });
  readonly #quotaLimit = new Gauge({ name: "cosell_api_daily_limit", help: "Daily API call allowance, where the API reports it.", labelNames: ["target"] as const, registers: [this.registry] });
  readonly #remaining = new Gauge({ name: "cosell_api_window_remaining", help: "Calls left in the current rate window, where the API reports it.", labelNames: ["target"] as const, registers: [this.registry] });
  readonly #webhooks = new Counter({ name: "cosell_webhooks_total", help: "Partner Center webhooks received, by account and outcome (accepted, refused).", labelNames: ["account", "outcome"] as const, registers: [this.registry] });
  readonly #leads = new Gauge({ name: "cosell_leads", help: "Leads by pair and state.", labelNames: ["pair", "state"] as const, registers: [this.registry] });
  readonly #outbox = new Gauge({ name: "cosell_outbox_jobs", help: "Outbox jobs by target and state.", labelNames: ["target", "state"] as const, registers: [this.registry] });
  readonly #oldestDue = new Gauge({ name: "cosell_outbox_oldest_due_age_seconds", help: "How long the oldest due job of each target has waited.", labelNames: ["target"] as const, registers: [this.registry] });
  readonly #dead = new Gauge({ name: "cosell_dead_jobs", help: "Jobs in the failure index, by error code.", labelNames: ["code"] as const, registers: [this.registry] });
  readonly #deadlines = new Gauge({ name: "cosell_deadlines", help: "Open deadlines due within a window (24h, 7d), and leads expired or closed by the 60-day rule.", labelNames: ["window"] as const, registers: [this.registry] });
  readonly #lag = new Gauge({ name: "cosell_sync_lag_seconds", help: "How long the oldest change waiting to be written for each pair has waited.", labelNames: ["pair"] as const, registers: [this.registry] });
  readonly #lastPull = new Gauge({ name: "cosell_last_pull_success_timestamp_seconds", help: "When each pair's Partner Center pull last succeeded.", labelNames: ["pair"] as const, registers: [this.registry] });
  readonly #lastPush = new Gauge({ name: "cosell_last_push_timestamp_seconds", help: "When each pair last pushed a seller's change to Partner Center.", labelNames: ["pair"] as const, registers: [this.registry] });
  readonly #reminders = new Gauge({ name: "cosell_reminders_sent_today", help: "Deadline reminders sent since midnight UTC.", registers: [this.registry] });

  #processMetrics = false;

  jobSettled(target: string, kind: string, outcome: string): void {
    this.#jobs.inc({ target, kind, outcome });
  }

  runRecorded(kind: string, name: string, ok: boolean): void {
    this.#runs.inc({ kind, name, outcome: ok ? "ok" : "failed" });
  }

  webhook(account: string, accepted: boolean): void {
    this.#webhooks.inc({ account, outcome: accepted ? "accepted" : "refused" });
  }

  /** The text exposition, with the gauges set from `snapshot`. */
  async render(snapshot: StatusSnapshot): Promise<string> {
    // Process metrics start with the first scrape: a daemon nobody scrapes (sync --once, tests) sets up no GC observers.
    if (!this.#processMetrics) {
      collectDefaultMetrics({ register: this.registry, prefix: "cosell_" });
      this.#processMetrics = true;
    }
    for (const metric of [this.#leads, this.#outbox, this.#oldestDue, this.#dead, this.#deadlines, this.#lag, this.#lastPull, this.#lastPush, this.#requests, this.#throttled, this.#quotaUsed, this.#quotaLimit, this.#remaining]) metric.reset();
    for (const pair of snapshot.pairs) {
      for (const [state, count] of Object.entries(pair.leadsByState)) this.#leads.set({ pair: pair.name, state }, count);
      this.#lag.set({ pair: pair.name }, pair.lagMs / 1000);
      if (pair.lastPullAt) this.#lastPull.set({ pair: pair.name }, pair.lastPullAt.getTime() / 1000);
      if (pair.lastPushAt) this.#lastPush.set({ pair: pair.name }, pair.lastPushAt.getTime() / 1000);
    }
    for (const [target, states] of Object.entries(snapshot.outbox.byTarget)) for (const [state, count] of Object.entries(states)) this.#outbox.set({ target, state }, count);
    for (const [target, ms] of Object.entries(snapshot.outbox.oldestDueAgeMs)) this.#oldestDue.set({ target }, ms / 1000);
    for (const [code, count] of Object.entries(snapshot.outbox.deadByCode)) this.#dead.set({ code }, count);
    const d = snapshot.deadlines;
    this.#deadlines.set({ window: "24h" }, d.dueWithin24h);
    this.#deadlines.set({ window: "7d" }, d.dueWithin7d);
    this.#deadlines.set({ window: "expired" }, d.expired);
    this.#deadlines.set({ window: "closed-by-60-day-rule" }, d.closedBy60DayRule);
    this.#reminders.set(snapshot.reminders.sentToday);
    for (const t of snapshot.targets) {
      this.#requests.inc({ target: t.target }, t.requests);
      this.#throttled.inc({ target: t.target }, t.throttled);
      if (t.dailyUsed !== undefined) this.#quotaUsed.set({ target: t.target }, t.dailyUsed);
      if (t.dailyLimit !== undefined) this.#quotaLimit.set({ target: t.target }, t.dailyLimit);
      if (t.remaining !== undefined) this.#remaining.set({ target: t.target }, t.remaining);
    }
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
