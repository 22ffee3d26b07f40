import type { Config } from "../config/index.js";
import { describeConfig } from "../config/index.js";
import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import type { Clock } from "../shared/clock.js";
import { systemClock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import { MappingRegistry } from "../mapping/index.js";
import type { JobHandler } from "../queue/types.js";
import { OutboxWorker } from "../queue/worker.js";
import { redactUrl, Store } from "../store/index.js";
import { outboxTargets } from "./outbox-targets.js";
import { loadPairMappings } from "./pair-mappings.js";

export type DaemonState = "idle" | "starting" | "running" | "stopping" | "stopped";

export interface DaemonOptions {
  config: Config;
  logger: Logger;
  clock?: Clock;
  /** Base for relative paths in the config (the store file); the working directory by default. */
  cwd?: string;
  /** Outbox job handlers by kind (the sync engine registers Partner Center, CRM and notify handlers). */
  handlers?: Record<string, JobHandler>;
}

/**
 * The long-running service: owns the store and, as later parts land, the pullers, workers and HTTP
 * server. Start and stop are idempotent and ordered so a stop never cuts a write in half.
 */
export class Daemon {
  #state: DaemonState = "idle";
  #store: Store | undefined;
  #worker: OutboxWorker | undefined;
  #mappings: MappingRegistry | undefined;
  #startedAt: Date | undefined;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #cwd: string | undefined;
  readonly #handlers: Record<string, JobHandler>;

  constructor(options: DaemonOptions) {
    this.#config = options.config;
    this.#handlers = options.handlers ?? {};
    this.#log = componentLogger(options.logger, "daemon");
    this.#clock = options.clock ?? systemClock;
    this.#cwd = options.cwd;
  }

  get state(): DaemonState {
    return this.#state;
  }

  get store(): Store {
    if (!this.#store) throw new CosellError("DAEMON_NOT_RUNNING", "The daemon is not running; call start() first.");
    return this.#store;
  }

  get mappings(): MappingRegistry {
    if (!this.#mappings) throw new CosellError("DAEMON_NOT_RUNNING", "The daemon is not running; call start() first.");
    return this.#mappings;
  }

  get worker(): OutboxWorker {
    if (!this.#worker) throw new CosellError("DAEMON_NOT_RUNNING", "The daemon is not running; call start() first.");
    return this.#worker;
  }

  async start(): Promise<void> {
    if (this.#state !== "idle") throw new CosellError("DAEMON_ALREADY_STARTED", `The daemon is ${this.#state}; it starts only once.`);
    this.#state = "starting";
    const { store: storeConfig } = this.#config;
    try {
      // Mappings first: a broken mapping stops the start before anything else is opened.
      this.#mappings = new MappingRegistry(this.#log, this.#cwd);
      await loadPairMappings(this.#config, this.#mappings);
      this.#mappings.watch();
      this.#store = await Store.open(
        { url: storeConfig.url, busyTimeoutMs: storeConfig.busyTimeoutMs, poolMax: storeConfig.poolMax, ...(this.#cwd ? { cwd: this.#cwd } : {}) },
        this.#log,
      );
      const migration = await this.#store.migrate();
      if (migration.applied.length > 0) this.#log.info({ applied: migration.applied }, "store migrated");
    } catch (error) {
      this.#mappings?.close();
      await this.#closeStore();
      this.#state = "stopped";
      throw error;
    }
    const outbox = this.#config.outbox;
    this.#worker = new OutboxWorker({
      store: this.#store,
      handlers: this.#handlers,
      targets: outboxTargets(this.#config),
      logger: this.#log,
      clock: this.#clock,
      leaseMs: outbox.lease,
      pollMs: outbox.poll,
      urgentWindowMs: outbox.urgentWindow,
      backoff: { baseMs: outbox.backoff.base, capMs: outbox.backoff.cap, deadlineMarginMs: outbox.backoff.deadlineMargin },
    });
    this.#worker.start();
    this.#startedAt = this.#clock.now();
    this.#state = "running";
    const summary = describeConfig(this.#config);
    this.#log.info(
      { store: summary.store, storeUrl: redactUrl(storeConfig.url), sandbox: summary.sandbox, pairs: summary.pairs.map((p) => p.name) },
      "cosell-sync started",
    );
  }

  async stop(reason = "requested"): Promise<void> {
    if (this.#state === "stopped" || this.#state === "stopping" || this.#state === "idle") return;
    this.#state = "stopping";
    this.#log.info({ reason }, "cosell-sync stopping");
    // Stop leasing first and let running jobs finish (or hand them back), then close the store.
    await this.#worker?.stop(this.#config.outbox.shutdownGrace);
    this.#worker = undefined;
    this.#mappings?.close();
    await this.#closeStore();
    const uptimeMs = this.#startedAt ? this.#clock.now().getTime() - this.#startedAt.getTime() : 0;
    this.#state = "stopped";
    this.#log.info({ reason, uptimeMs }, "cosell-sync stopped");
  }

  async #closeStore(): Promise<void> {
    const store = this.#store;
    this.#store = undefined;
    await store?.close();
  }
}
