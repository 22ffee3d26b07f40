import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import type { ReferralClient } from "../partner-center/client.js";
import type { Clock } from "../shared/clock.js";
import type { Store } from "../store/index.js";
import type { PairTarget } from "./enqueue-crm-upsert.js";
import { enqueueCrmUpsert } from "./enqueue-crm-upsert.js";
import type { PullReport } from "./pull-leads.js";
import { pullChangedLeads } from "./pull-leads.js";

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
  /** After a pull queued upserts (the daemon wakes its outbox worker). */
  onQueued?: () => void;
}

/**
 * Partner Center → CRM: pulls an account's changed leads and, in each page's transaction, queues an
 * upsert for every pair whose mapped payload changed. Pulls of one account never overlap; a pull
 * asked for while one runs is served by one more pull right after it, so no hint is lost.
 */
export class InboundSync {
  readonly #options: InboundSyncOptions;
  readonly #log: Logger;
  readonly #running = new Map<string, Promise<PullReport>>();
  readonly #again = new Map<string, Promise<PullReport>>();

  constructor(options: InboundSyncOptions) {
    this.#options = options;
    this.#log = componentLogger(options.logger, "inbound");
  }

  get accounts(): string[] {
    return [...this.#options.accounts.keys()];
  }

  pull(account: string): Promise<PullReport> {
    const queued = this.#again.get(account);
    if (queued) return queued;
    const running = this.#running.get(account);
    if (running) {
      const next = running.catch(() => undefined).then(() => {
        this.#again.delete(account);
        return this.#start(account);
      });
      this.#again.set(account, next);
      return next;
    }
    return this.#start(account);
  }

  /** Waits for every pull in flight (a stop lets them reach a page boundary and commit). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#running.values(), ...this.#again.values()]);
  }

  #start(account: string): Promise<PullReport> {
    const run = this.#pullOnce(account).finally(() => {
      if (this.#running.get(account) === run) this.#running.delete(account);
    });
    this.#running.set(account, run);
    return run;
  }

  async #pullOnce(account: string): Promise<PullReport> {
    const source = this.#options.accounts.get(account);
    if (!source) throw new Error(`No Partner Center account "${account}" in this daemon.`);
    let queued = 0;
    const targets = source.pairs();
    const report = await pullChangedLeads({
      account,
      client: source.client,
      store: this.#options.store,
      clock: this.#options.clock,
      logger: this.#options.logger,
      onStored: async (repos, saved, adapted, now) => {
        for (const pair of targets) if (await enqueueCrmUpsert(repos, pair, saved, adapted, now)) queued += 1;
      },
    });
    if (queued > 0) {
      this.#log.info({ account, queued }, "CRM upserts queued");
      this.#options.onQueued?.();
    }
    return report;
  }
}
