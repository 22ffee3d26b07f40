import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import type { ReferralClient } from "../partner-center/client.js";
import type { Clock } from "../shared/clock.js";
import type { Store } from "../store/index.js";
import type { PairTarget } from "./enqueue-crm-upsert.js";
import { crmTarget, enqueueCrmUpserts, UpsertDrafts } from "./enqueue-crm-upsert.js";
import type { PullLeadsOptions, PullReport } from "./pull-leads.js";
import { pullChangedLeads, pullReferral } from "./pull-leads.js";
import type { RunObserver } from "./record-run.js";
import { recordRun } from "./record-run.js";
import { SerialRuns } from "./serial-runs.js";

export interface InboundAccount {
  client: ReferralClient;
  /**
   * Every enabled pair fed by this account (one pull serves them all), asked for at each pull so a
   * mapping the admin just edited is the one used.
   */
  pairs: () => PairTarget[];
}

export interface InboundSyncOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  accounts: Map<string, InboundAccount>;
  /** The clock pull and poll health is stamped with (real time, even when business time runs fast). */
  runClock?: Clock;
  /** Told how each pull went (metrics). */
  onRun?: RunObserver;
  /**
   * Jobs were queued for `targets` (the daemon wakes those of its outbox worker); `more` says
   * whether the pull has pages left (see OutboxWorker#wake).
   */
  onQueued?: (options: { more?: boolean; targets: string[] }) => void;
}

/**
 * Partner Center → CRM: pulls an account's changed leads and, in each page's transaction, queues an
 * upsert for every pair whose mapped payload changed. Pulls of one account never overlap; a pull
 * asked for while one runs is served by one more pull right after it, so no hint is lost.
 */
export class InboundSync {
  readonly #options: InboundSyncOptions;
  readonly #log: Logger;
  readonly #runs: SerialRuns<PullReport>;
  readonly #reconciles: SerialRuns<PullReport>;

  constructor(options: InboundSyncOptions) {
    this.#options = options;
    this.#log = componentLogger(options.logger, "inbound");
    const recorded = (account: string, full: boolean) => recordRun(options.store, options.runClock ?? options.clock, "pull", account, () => this.#pullOnce(account, full), options.onRun);
    this.#runs = new SerialRuns((account) => recorded(account, false));
    this.#reconciles = new SerialRuns((account) => recorded(account, true));
  }

  get accounts(): string[] {
    return [...this.#options.accounts.keys()];
  }

  pull(account: string): Promise<PullReport> {
    return this.#runs.request(account);
  }

  /** A full pass from the beginning (the nightly reconciliation). */
  reconcile(account: string): Promise<PullReport> {
    return this.#reconciles.request(account);
  }

  /** A webhook named a referral: fetch and store that one at once, then map it like any pulled lead. */
  async hint(account: string, referralId: string): Promise<PullReport> {
    const source = this.#source(account);
    let queued = 0;
    const targets = source.pairs();
    const report = await pullReferral({
      account,
      referralId,
      client: source.client,
      store: this.#options.store,
      clock: this.#options.clock,
      logger: this.#options.logger,
      onStored: async (repos, stored, now, timeline) => {
        for (const pair of targets) queued += await enqueueCrmUpserts(repos, pair, stored, now, { cause: "webhook", timeline });
      },
    });
    if (queued > 0) this.#options.onQueued?.({ targets: this.#crmTargets(account) });
    return report;
  }

  /** Waits for every pull in flight (a stop lets them reach a page boundary and commit). */
  async settle(): Promise<void> {
    await Promise.all([this.#runs.settle(), this.#reconciles.settle()]);
  }

  /** The outbox targets a pull of this account feeds: its pairs' CRMs. */
  #crmTargets(account: string): string[] {
    return [...new Set(this.#source(account).pairs().map((pair) => crmTarget(pair.crm)))];
  }

  #source(account: string): InboundAccount {
    const source = this.#options.accounts.get(account);
    if (!source) throw new Error(`No Partner Center account "${account}" in this daemon.`);
    return source;
  }
  async #pullOnce(account: string, full: boolean): Promise<PullReport> {
    const source = this.#source(account);
    let queued = 0;
    let woken = 0;
    const targets = source.pairs();
    const drafts = new UpsertDrafts();
    const onPrepared: PullLeadsOptions["onPrepared"] = (leads, now) => {
      for (const pair of targets) drafts.draft(pair, leads, now);
    };
    const report = await pullChangedLeads({
      account,
      client: source.client,
      store: this.#options.store,
      clock: this.#options.clock,
      logger: this.#options.logger,
      full,
      // A reconciliation reads leads the store has, nearly all: planned in the transaction, from their links.
      ...(full ? {} : { onPrepared }),
      onStored: async (repos, stored, now, timeline) => {
        for (const pair of targets) queued += await enqueueCrmUpserts(repos, pair, stored, now, { timeline, drafts });
      },
      // A backfill's first pages are written to the CRM while later ones are still being read.
      // A partial CRM batch waits for the next page rather than going part-full between two.
      onPage: (_report, more) => {
        if (queued > woken || !more) this.#options.onQueued?.({ more, targets: this.#crmTargets(account) });
        woken = queued;
      },
    });
    if (queued > 0) this.#log.info({ account, queued }, "CRM upserts queued");
    return report;
  }
}
