import type { Logger } from "../log/logger.js";
import type { Answered, RateBudget } from "../shared/call-meter.js";
import { metered } from "../shared/call-meter.js";
import type { Clock } from "../shared/clock.js";
import type { Store } from "../store/index.js";
import type { OutboundPair, SellerChangesReport } from "./poll-seller-changes.js";
import { pollSellerChanges } from "./poll-seller-changes.js";
import type { RunObserver } from "./record-run.js";
import { recordRun } from "./record-run.js";
import { SerialRuns } from "./serial-runs.js";

export interface OutboundSyncOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** Enabled pairs by name, asked for at each poll so a mapping just edited is the one used. */
  pairs: () => Map<string, OutboundPair>;
  /** The clock pull and poll health is stamped with (real time, even when business time runs fast). */
  runClock?: Clock;
  /** Told how each poll went (metrics). */
  onRun?: RunObserver;
  /** After a poll queued pushes (the daemon wakes its outbox worker). */
  onQueued?: () => void;
  /**
   * Waits until the CRM's rate, which the outbox's writes share (or the separate budget the call
   * names, such as HubSpot's search), lets one more call go, and counts it. Asked before every call
   * a poll makes to the pair's CRM.
   */
  pace?: (crm: string, budget?: RateBudget) => Promise<Answered | undefined>;
}

/** CRM → Partner Center: polls each pair's change feed; polls of one pair never overlap. */
export class OutboundSync {
  readonly #options: OutboundSyncOptions;
  readonly #runs: SerialRuns<SellerChangesReport>;
  readonly #stopping = new AbortController();

  constructor(options: OutboundSyncOptions) {
    this.#options = options;
    this.#runs = new SerialRuns((pair) => recordRun(options.store, options.runClock ?? options.clock, "crm-poll", pair, () => this.#pollOnce(pair), options.onRun));
  }

  get pairs(): string[] {
    return [...this.#options.pairs().keys()];
  }

  poll(pair: string): Promise<SellerChangesReport> {
    return this.#runs.request(pair);
  }

  /** Ends the polls in flight after the page each has in hand (their places saved), and waits for them. */
  stop(): Promise<void> {
    this.#stopping.abort();
    return this.#runs.settle();
  }

  async #pollOnce(name: string): Promise<SellerChangesReport> {
    const pair = this.#options.pairs().get(name);
    if (!pair) throw new Error(`No enabled pair "${name}" in this daemon.`);
    const pace = this.#options.pace;
    const { value: report } = await metered(() => pollSellerChanges({ pair, store: this.#options.store, clock: this.#options.clock, logger: this.#options.logger, signal: this.#stopping.signal }), pace ? (_calls, budget) => pace(pair.crm, budget) : undefined);
    if (report.queued > 0) this.#options.onQueued?.();
    return report;
  }
}
