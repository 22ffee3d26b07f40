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
import type { Repositories } from "../store/index.js";
import { groupBy } from "../shared/group-by.js";
import { redactUrl, Store } from "../store/index.js";
import type { ScheduledTask } from "node-cron";
import { schedule } from "node-cron";
import type { CrmConnector } from "../../connectors/types.js";
import { CRM_UPSERT, crmTarget } from "../sync/enqueue-crm-upsert.js";
import { crmUpsertByTarget } from "../sync/crm-target-handler.js";
import { DEFAULT_OWNER_TTL_MS, OwnerDirectory } from "../routing/owner-directory.js";
import { externalReferenceHandler, PC_EXTERNAL_REFERENCE } from "../sync/external-reference.js";
import type { InboundAccount } from "../sync/inbound-sync.js";
import { InboundSync } from "../sync/inbound-sync.js";
import { OutboundSync } from "../sync/outbound-sync.js";
import type { PushAccount, PushPair } from "../sync/pc-push-handler.js";
import { pcPushHandler } from "../sync/pc-push-handler.js";
import type { OutboundPair, SellerChangesReport } from "../sync/poll-seller-changes.js";
import { PARTNER_CENTER_TARGET, PC_PUSH } from "../sync/poll-seller-changes.js";
import type { PullReport } from "../sync/pull-leads.js";
import type { SweepReport } from "../sync/deadline-sweep.js";
import { sweepDeadlines } from "../sync/deadline-sweep.js";
import type { SetTimer } from "../sync/deadline-timer.js";
import { DeadlineTimer } from "../sync/deadline-timer.js";
import type { CrmSandbox, OpenedConnector } from "./crm-connectors.js";
import { openCrmConnector } from "./crm-connectors.js";
import { outboxTargets } from "./outbox-targets.js";
import { loadPairMappings } from "./pair-mappings.js";
import { HttpServer } from "../http/server.js";
import type { RateBudget } from "../shared/call-meter.js";
import { metered } from "../shared/call-meter.js";
import type { ReadinessCheck } from "../http/server.js";
import { WebhookVerifier } from "../partner-center/webhook-verifier.js";
import { readCaFile } from "./partner-center-access.js";
import { WebhookReceiver } from "./webhook-receiver.js";
import type { OpenedMail } from "./mail-channel.js";
import { openMail } from "./mail-channel.js";
import { reminderMailHandler } from "../sync/reminder-mail.js";
import type { ReminderChannels, ReminderRecord } from "../sync/reminder-notice.js";
import { CRM_TASK, MAIL_TARGET, NOTIFY_MAIL, NOTIFY_TEAMS, TEAMS_TARGET } from "../sync/reminder-notice.js";
import { crmTaskByTarget } from "../sync/reminder-task.js";
import { reminderTeamsHandler } from "../sync/reminder-teams.js";
import { packageInfo } from "../shared/package-info.js";
import { StatusSource } from "./status-source.js";
import type { OpenedTeams } from "./teams-channel.js";
import { openTeams } from "./teams-channel.js";
import type { OpenedPartnerCenter } from "./partner-center-source.js";
import { openPartnerCenter } from "./partner-center-source.js";

/** Past this, the local clock is too far from Partner Center's for deadlines to be trusted. */
export const MAX_CLOCK_SKEW_MS = 60_000;

/** A part that exists only while the daemon runs. */
function running<T>(part: T | undefined): T {
  if (!part) throw new CosellError("DAEMON_NOT_RUNNING", "The daemon is not running; call start() first.");
  return part;
}

export type DaemonState = "idle" | "starting" | "running" | "stopping" | "stopped";

export interface DaemonOptions {
  config: Config;
  logger: Logger;
  clock?: Clock;
  /** Base for relative paths in the config (the store file); the working directory by default. */
  cwd?: string;
  /**
   * For `sync --once`: no schedules, no background worker; the caller drives the passes with
   * pullNow() and drainOutbox().
   */
  oneShot?: boolean;
  /** Serve HTTP (webhook, health) even in one-shot mode (tests that deliver webhooks by hand). */
  serveHttp?: boolean;
  /** Sellers' edits go to Partner Center at once, without the pair's debounce window (`sync --once`). */
  noDebounce?: boolean;
  /** The clock rate limits and pacing run on, when the business clock is not real time (the demo's warp). */
  rateClock?: Clock;
  /** How the exact deadline timer waits (tests fire it by hand). */
  setTimer?: SetTimer;
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
  #startedAtOps: Date | undefined;
  #inbound: InboundSync | undefined;
  #outbound: OutboundSync | undefined;
  #http: HttpServer | undefined;
  #mail: OpenedMail | undefined;
  #teams: OpenedTeams | undefined;
  #webhooks: WebhookReceiver | undefined;
  #deadlineTimer: DeadlineTimer | undefined;
  readonly #status: StatusSource;
  readonly #partnerCenters = new Map<string, OpenedPartnerCenter>();
  readonly #crms = new Map<string, OpenedConnector>();
  /** Calls each CRM's connector made while it opened (a token, a schema read): its rate knows of them. */
  readonly #openingCalls = new Map<string, number>();
  /** Per pair: its CRM's users and teams, cached (routing, and the seller put on Partner Center's team). */
  readonly #owners = new Map<string, OwnerDirectory>();
  readonly #tasks: ScheduledTask[] = [];
  readonly #config: Config;
  readonly #log: Logger;
  /** What the daemon's parts derive their own component loggers from (a child of #log would repeat the key). */
  readonly #root: Logger;
  readonly #clock: Clock;
  readonly #cwd: string | undefined;
  readonly #handlers: Record<string, JobHandler>;
  readonly #oneShot: boolean;
  readonly #noDebounce: boolean;
  readonly #serveHttp: boolean;
  readonly #setTimer: SetTimer | undefined;
  readonly #rateClock: Clock | undefined;

  constructor(options: DaemonOptions) {
    this.#config = options.config;
    this.#handlers = options.handlers ?? {};
    this.#oneShot = options.oneShot ?? false;
    this.#noDebounce = options.noDebounce ?? false;
    this.#serveHttp = options.serveHttp ?? !this.#oneShot;
    this.#root = options.logger;
    this.#log = componentLogger(options.logger, "daemon");
    this.#clock = options.clock ?? systemClock;
    this.#cwd = options.cwd;
    this.#setTimer = options.setTimer;
    this.#rateClock = options.rateClock;
    this.#status = new StatusSource({
      config: this.#config,
      clock: this.#clock,
      ...(options.rateClock ? { opsClock: options.rateClock } : {}),
      version: packageInfo().version,
      store: () => this.store,
      state: () => this.#state,
      startedAt: () => this.#startedAt,
      partnerCenters: () => new Map([...this.#partnerCenters].map(([name, opened]) => [name, opened.client])),
      crms: () => new Map([...this.#crms].map(([name, opened]) => [name, opened.connector])),
      recordUrl: (pair, crmObject, id) => this.#recordUrl(pair, crmObject, id),
    });
  }

  get state(): DaemonState {
    return this.#state;
  }

  get store(): Store {
    return running(this.#store);
  }

  get mappings(): MappingRegistry {
    return running(this.#mappings);
  }

  /** Where the HTTP server listens (webhook, /healthz, /readyz), once started outside one-shot mode. */
  get httpUrl(): string | undefined {
    return this.#http?.url;
  }

  get webhooks(): WebhookReceiver | undefined {
    return this.#webhooks;
  }

  get worker(): OutboxWorker {
    return running(this.#worker);
  }

  /** The Partner Center client and, in sandbox mode, the in-process sandbox of an account. */
  partnerCenter(account: string): OpenedPartnerCenter {
    const opened = this.#partnerCenters.get(account);
    if (!opened) throw new CosellError("DAEMON_NOT_RUNNING", `No Partner Center account "${account}" is open; is the daemon running with a pair on it?`);
    return opened;
  }

  crm(name: string): CrmConnector {
    return this.#openedCrm(name).connector;
  }

  /** The reminder mail channel (and its in-process Graph sandbox in sandbox mode), when configured. */
  get mail(): OpenedMail | undefined {
    return this.#mail;
  }

  /** The Teams reminder channel (and its in-process Workflows sandbox in sandbox mode), when configured. */
  get teams(): OpenedTeams | undefined {
    return this.#teams;
  }

  /** The in-process sandbox of a `mode: sandbox` CRM, if it is one. */
  crmSandbox(name: string): CrmSandbox | undefined {
    return this.#openedCrm(name).sandbox;
  }

  #openedCrm(name: string): OpenedConnector {
    const opened = this.#crms.get(name);
    if (!opened) throw new CosellError("DAEMON_NOT_RUNNING", `No CRM "${name}" is open; is the daemon running with a pair on it?`);
    return opened;
  }

  /** Pulls every account now (what a webhook hint and `sync --once` ask for). */
  async pullNow(account?: string): Promise<Map<string, PullReport>> {
    const inbound = running(this.#inbound);
    const reports = new Map<string, PullReport>();
    for (const name of account ? [account] : inbound.accounts) reports.set(name, await inbound.pull(name));
    return reports;
  }

  /** Reads every pair's CRM change feed now (or one pair's) and queues the sellers' edits. */
  async pollCrmsNow(pair?: string): Promise<Map<string, SellerChangesReport>> {
    const outbound = running(this.#outbound);
    const reports = new Map<string, SellerChangesReport>();
    for (const name of pair ? [pair] : outbound.pairs) reports.set(name, await outbound.poll(name));
    return reports;
  }

  /** A full reconciliation pass of every account now (what the nightly schedule runs). */
  async reconcileNow(): Promise<Map<string, PullReport>> {
    const inbound = running(this.#inbound);
    const reports = new Map<string, PullReport>();
    for (const name of inbound.accounts) reports.set(name, await inbound.reconcile(name));
    return reports;
  }

  /** Closes every lead whose deadline has passed (what the sweep schedule runs). */
  async sweepNow(): Promise<SweepReport> {
    const { reminders, admin } = this.#config.deadlines;
    const channels: ReminderChannels = { maxAttempts: this.#config.outbox.maxAttempts, mail: this.#mail !== undefined, teams: this.#teams !== undefined, records: (repos, leadIds) => this.#leadRecords(repos, leadIds) };
    const report = await sweepDeadlines({ store: this.store, clock: this.#clock, logger: this.#root, pairs: (account) => this.#pairTargets(account), reminderLeadTimesMs: reminders, ...(admin ? { admin } : {}), channels });
    if (report.reminded > 0) this.#worker?.wake();
    await this.#deadlineTimer?.rearm();
    if (report.expired + report.lapsed > 0) this.#worker?.wake();
    return report;
  }

  /** Operational time (health, rate limits): real time, even when the business clock runs fast. */
  get #opsClock(): Clock {
    return this.#rateClock ?? this.#clock;
  }

  /** What the status page, /metrics and /readyz read. */
  get status(): StatusSource {
    return this.#status;
  }

  /** When the exact deadline timer fires next (armed for the nearest deadline or reminder within the hour). */
  get nextDeadlineAt(): Date | undefined {
    return this.#deadlineTimer?.armedFor;
  }

  /** A verified webhook named a referral: store it at once (the poll follows as usual). */
  async hint(account: string, referralId: string): Promise<PullReport> {
    return running(this.#inbound).hint(account, referralId);
  }

  /**
   * Runs the due jobs of each target (every CRM and Partner Center by default) until none is left
   * to lease (jobs backing off for later stay queued); returns how many ran per target.
   */
  async drainOutbox(targets: string[] = [...[...this.#crms.keys()].map((name) => crmTarget(name)), PARTNER_CENTER_TARGET, ...(this.#mail ? [MAIL_TARGET] : []), ...(this.#teams ? [TEAMS_TARGET] : [])]): Promise<Record<string, number>> {
    const ran: Record<string, number> = {};
    for (const target of targets) {
      ran[target] = 0;
      for (let n = await this.worker.runOnce(target); n > 0; n = await this.worker.runOnce(target)) ran[target] += n;
    }
    return ran;
  }

  async start(): Promise<void> {
    if (this.#state !== "idle") throw new CosellError("DAEMON_ALREADY_STARTED", `The daemon is ${this.#state}; it starts only once.`);
    this.#state = "starting";
    const { store: storeConfig } = this.#config;
    try {
      // Mappings first: a broken mapping stops the start before anything else is opened.
      this.#mappings = new MappingRegistry(this.#root, this.#cwd);
      await loadPairMappings(this.#config, this.#mappings);
      this.#mappings.watch();
      this.#store = await Store.open(
        { url: storeConfig.url, busyTimeoutMs: storeConfig.busyTimeoutMs, poolMax: storeConfig.poolMax, ...(this.#cwd ? { cwd: this.#cwd } : {}) },
        this.#root,
      );
      const migration = await this.#store.migrate();
      if (migration.applied.length > 0) this.#log.info({ applied: migration.applied }, "store migrated");
      await this.#openSystems();
    } catch (error) {
      this.#mappings?.close();
      await this.#closeSystems();
      await this.#closeStore();
      this.#state = "stopped";
      throw error;
    }
    const outbox = this.#config.outbox;
    const store = this.#store;
    this.#worker = new OutboxWorker({
      store,
      handlers: {
        [CRM_UPSERT]: crmUpsertByTarget({ connectors: new Map([...this.#crms].map(([name, opened]) => [crmTarget(name), opened.connector])), store, clock: this.#clock, logger: this.#root, owners: (pair) => (this.#config.pairs.find((p) => p.name === pair)?.routing ? this.#owners.get(pair) : undefined) }),
        [PC_PUSH]: pcPushHandler({ store, clock: this.#clock, logger: this.#root, accounts: this.#accounts(), onQueued: () => this.#worker?.wake() }),
        ...(this.#mail ? { [NOTIFY_MAIL]: reminderMailHandler(this.#mail.mail) } : {}),
        ...(this.#teams ? { [NOTIFY_TEAMS]: reminderTeamsHandler(this.#teams.teams, this.#teams.timeZone) } : {}),
        [CRM_TASK]: crmTaskByTarget({ connectors: new Map([...this.#crms].map(([name, opened]) => [crmTarget(name), opened.connector])), store, clock: this.#clock, logger: this.#root }),
        [PC_EXTERNAL_REFERENCE]: externalReferenceHandler({ store, clock: this.#clock, clients: new Map([...this.#partnerCenters].map(([name, opened]) => [name, opened.client])) }),
        ...this.#handlers,
      },
      targets: outboxTargets(this.#config),
      logger: this.#root,
      clock: this.#clock,
      ...(this.#rateClock ? { rateClock: this.#rateClock } : {}),
      leaseMs: outbox.lease,
      pollMs: outbox.poll,
      urgentWindowMs: outbox.urgentWindow,
      backoff: { baseMs: outbox.backoff.base, capMs: outbox.backoff.cap, deadlineMarginMs: outbox.backoff.deadlineMargin },
      observer: this.#status,
    });
    const worker = this.#worker;
    for (const [name, calls] of this.#openingCalls) if (calls > 0) worker.pacer(crmTarget(name)).take(calls);
    const onRun = (kind: string, name: string, ok: boolean) => this.#status.runRecorded(kind, name, ok);
    this.#inbound = new InboundSync({ store, clock: this.#clock, logger: this.#root, accounts: this.#accounts(), onQueued: (more) => worker.wake(more), onRun, runClock: this.#opsClock });
    this.#outbound = new OutboundSync({
      store,
      clock: this.#clock,
      logger: this.#root,
      pairs: () => this.#outboundPairs(),
      onQueued: () => worker.wake(),
      onRun,
      runClock: this.#opsClock,
      // A poll's calls wait their turn with the writes (at most one HubSpot window each), and its
      // searches on the search budget, instead of earning a 429 that stops them all.
      pace: (crm, budget) => worker.paceCall(crmTarget(crm), 10_000, budget),
    });
    if (this.#serveHttp) {
      try {
        await this.#startHttp();
      } catch (error) {
        await this.stop("the HTTP server could not start");
        throw new CosellError("HTTP_LISTEN_FAILED", `Cannot listen on ${this.#config.http.host}:${this.#config.http.port} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); free the port or set http.port in the config.`, { cause: error });
      }
    }
    if (!this.#oneShot) {
      worker.start();
      this.#schedulePulls(this.#inbound);
      this.#scheduleCrmPolls(this.#outbound);
      this.#deadlineTimer = new DeadlineTimer({ store, clock: this.#clock, logger: this.#root, leadTimesMs: this.#config.deadlines.reminders, sweep: () => this.sweepNow(), ...(this.#setTimer ? { setTimer: this.#setTimer } : {}) });
      this.#tasks.push(
        this.#fleetTask("deadline-sweep", this.#config.deadlines.sweep, () => {
          this.sweepNow().catch((error: unknown) => this.#log.error({ err: error }, "deadline sweep failed; the next sweep retries"));
        }),
      );
    }
    this.#startedAt = this.#clock.now();
    this.#startedAtOps = this.#opsClock.now();
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
    // No new webhooks first; the pulls they started finish with the others.
    await this.#http?.close();
    this.#http = undefined;
    await this.#webhooks?.settle();
    // No new pulls; pulls in flight reach a commit. Then stop leasing and let running jobs finish
    // (or hand them back); only then close the systems they talk to, and the store last.
    for (const task of this.#tasks.splice(0)) await task.stop();
    this.#deadlineTimer?.stop();
    this.#deadlineTimer = undefined;
    await Promise.all([this.#inbound?.settle(), this.#outbound?.stop()]);
    this.#inbound = undefined;
    this.#outbound = undefined;
    await this.#worker?.stop(this.#config.outbox.shutdownGrace);
    this.#worker = undefined;
    await this.#closeSystems();
    this.#mappings?.close();
    await this.#closeStore();
    const uptimeMs = this.#startedAt ? this.#clock.now().getTime() - this.#startedAt.getTime() : 0;
    this.#state = "stopped";
    this.#log.info({ reason, uptimeMs }, "cosell-sync stopped");
  }

  /** Partner Center for every account and a connector for every CRM that an enabled pair uses. */
  async #openSystems(): Promise<void> {
    const pairs = this.#config.pairs.filter((pair) => pair.enabled);
    for (const account of new Set(pairs.map((pair) => pair.partnerCenter))) {
      const settings = this.#config.partnerCenter.accounts[account];
      if (settings) this.#partnerCenters.set(account, await openPartnerCenter(account, settings, { logger: this.#root, clock: this.#clock, autoDeliverWebhooks: !this.#oneShot, ...(this.#cwd ? { cwd: this.#cwd } : {}) }));
    }
    for (const name of new Set(pairs.map((pair) => pair.crm))) {
      const settings = this.#config.crms[name];
      if (!settings) continue;
      const { value: opened, calls } = await metered(() => openCrmConnector(name, settings, this.#root, this.#clock));
      this.#crms.set(name, opened);
      this.#openingCalls.set(name, calls);
    }
    for (const pair of pairs) {
      const connector = this.#crms.get(pair.crm)?.connector;
      // Lookups wait for the CRM's rate with its writes, whichever job makes them.
      const pace = (_calls: number, budget?: RateBudget) => this.#worker?.paceCall(crmTarget(pair.crm), 10_000, budget) ?? Promise.resolve(undefined);
      if (connector?.findOwner) this.#owners.set(pair.name, new OwnerDirectory({ connector, clock: this.#clock, ttlMs: pair.routing?.cacheTtl ?? DEFAULT_OWNER_TTL_MS, crmName: pair.crm, pace }));
    }
    const mail = this.#config.notify.mail;
    if (mail) this.#mail = await openMail(mail, { logger: this.#root, clock: this.#clock, cwd: this.#cwd ?? process.cwd() });
    const teams = this.#config.notify.teams;
    if (teams) this.#teams = await openTeams(teams, { logger: this.#root, clock: this.#clock });
  }

  /** Each lead's record in each pair's CRM: its link for reminders, and whether it takes a task. */
  async #leadRecords(repos: Repositories, leadIds: readonly number[]): Promise<Map<number, ReminderRecord[]>> {
    // Inside the sweep's transaction: SQLite has one connection, so the transaction's own.
    const links = await repos.crmLinks.forLeads(leadIds);
    const pairs = this.#config.pairs.filter((p) => p.enabled).map((pair) => ({ pair, target: this.#pairTargets(pair.partnerCenter).find((t) => t.pair === pair.name)?.mapping.inboundTarget(), connector: this.#crms.get(pair.crm)?.connector }));
    const byLead = groupBy(links, (link) => link.leadId);
    const records = new Map<number, ReminderRecord[]>();
    for (const leadId of leadIds) {
      const list: ReminderRecord[] = [];
      // In the config's order of pairs, as a notice lists them.
      for (const { pair, target, connector } of pairs) {
        const link = byLead.get(leadId)?.find((l) => l.pair === pair.name && l.crmObject === target?.name && l.crmRecordId);
        if (!link?.crmRecordId || !target || !connector) continue;
        const url = connector.recordUrl?.(target.object, link.crmRecordId);
        list.push({ pair: pair.name, crm: pair.crm, object: target.object, id: link.crmRecordId, ...(url ? { url } : {}), tasks: this.#config.deadlines.crmTasks && connector.createTask !== undefined });
      }
      records.set(leadId, list);
    }
    return records;
  }

  async #closeSystems(): Promise<void> {
    const opened = [...this.#crms.values(), ...this.#partnerCenters.values(), ...(this.#mail ? [this.#mail] : []), ...(this.#teams ? [this.#teams] : [])];
    this.#mail = undefined;
    this.#teams = undefined;
    this.#crms.clear();
    this.#owners.clear();
    this.#partnerCenters.clear();
    const results = await Promise.allSettled(opened.map((system) => system.close()));
    for (const result of results) if (result.status === "rejected") this.#log.warn({ err: result.reason }, "a connection did not close cleanly");
  }

  /** Every enabled pair of an account with its current mapping (a hot-reloaded file is picked up). */
  #pairTargets(account: string): PushPair[] {
    const mappings = this.mappings;
    return this.#config.pairs
      .filter((pair) => pair.enabled && pair.partnerCenter === account)
      .map((pair) => {
        const owners = this.#owners.get(pair.name);
        return { pair: pair.name, crm: pair.crm, mapping: mappings.get(pair.mapping), maxAttempts: this.#config.outbox.maxAttempts, ...(pair.acceptAs ? { acceptAs: pair.acceptAs } : {}), ...(pair.routing ? { routing: pair.routing } : {}), ...(owners ? { owners } : {}) };
      });
  }

  /** Each open account's client and its pairs: what the pulls and the pushes both work from. */
  #accounts(): Map<string, InboundAccount & PushAccount> {
    return new Map([...this.#partnerCenters].map(([account, opened]) => [account, { client: opened.client, pairs: () => this.#pairTargets(account) }]));
  }

  #outboundPairs(): Map<string, OutboundPair> {
    const pairs = new Map<string, OutboundPair>();
    for (const config of this.#config.pairs) {
      const connector = this.#crms.get(config.crm)?.connector;
      const target = this.#pairTargets(config.partnerCenter).find((p) => p.pair === config.name);
      if (connector && target) pairs.set(config.name, { ...target, account: config.partnerCenter, connector, debounceMs: this.#noDebounce ? 0 : config.debounce });
    }
    return pairs;
  }

  async #startHttp(): Promise<void> {
    const verifiers = new Map<string, WebhookVerifier>();
    for (const [account, opened] of this.#partnerCenters) {
      const settings = this.#config.partnerCenter.accounts[account];
      // Certificates live in real time, whatever clock the sandboxes run on.
      if (opened.sandbox) {
        verifiers.set(account, new WebhookVerifier({ allowedCertificateHosts: [new URL(opened.sandbox.url).host], trustedCaPems: [opened.sandbox.caPem], allowHttpCertificateUrl: true, useSystemRoots: false }));
      } else if (settings) {
        const ca = settings.webhook.trustedCaFile ? [readCaFile(settings.webhook.trustedCaFile, this.#cwd ?? process.cwd(), `partnerCenter.accounts.${account}.webhook.trustedCaFile`)] : [];
        verifiers.set(account, new WebhookVerifier({ allowedCertificateHosts: settings.webhook.certificateHosts, trustedCaPems: ca }));
      }
    }
    this.#webhooks = new WebhookReceiver({ verifiers, hint: (account, referralId) => this.hint(account, referralId), logger: this.#root });
    const receiver = this.#webhooks;
    const status = this.#status;
    this.#http = new HttpServer({
      logger: this.#root,
      readiness: () => this.#readiness(),
      webhook: async (account, headers, body) => {
        const answer = await receiver.receive(account, headers, body);
        status.webhook(account ?? "-", answer.status < 300);
        return answer;
      },
      status: () => status.snapshot(),
      lead: (id) => status.lead(id),
      metrics: status.metrics,
      ...(this.#config.http.auth ? { auth: this.#config.http.auth } : {}),
    });
    const url = await this.#http.listen(this.#config.http.host, this.#config.http.port);
    // The in-process Partner Center sends its webhooks here, as a registration would make the real one do.
    for (const [account, opened] of this.#partnerCenters) {
      const events = this.#config.partnerCenter.accounts[account]?.webhook.events ?? [];
      opened.sandbox?.webhooks.register({ WebhookUrl: `${url}/webhooks/partner-center/${account}`, WebhookEvents: [...events], SignatureTokenToMsSignatureHeader: false });
    }
  }

  async #readiness(): Promise<ReadinessCheck[]> {
    const checks: ReadinessCheck[] = [{ name: "daemon", ok: this.#state === "running", detail: this.#state }];
    try {
      await this.store.ping();
      checks.push({ name: "store", ok: true });
    } catch (error) {
      checks.push({ name: "store", ok: false, detail: (error as Error).message });
    }
    const missing = this.#config.pairs.filter((pair) => pair.enabled).filter((pair) => {
      try {
        this.mappings.get(pair.mapping);
        return false;
      } catch {
        return true;
      }
    });
    const skews = [...this.#partnerCenters].map(([account, opened]) => ({ account, skewMs: opened.client.clockSkewMs }));
    const skewed = skews.filter((s) => s.skewMs !== undefined && Math.abs(s.skewMs) > MAX_CLOCK_SKEW_MS);
    checks.push({
      name: "clock",
      ok: skewed.length === 0,
      ...(skewed.length > 0 ? { detail: `this machine's clock differs from Partner Center's by ${skewed.map((s) => `${Math.round((s.skewMs ?? 0) / 1000)} s (${s.account})`).join(", ")}; deadlines would fire at the wrong time — sync the clock (NTP)` } : {}),
    });
    checks.push({ name: "mappings", ok: missing.length === 0, ...(missing.length > 0 ? { detail: `not loaded: ${missing.map((p) => p.mapping).join(", ")}` } : {}) });
    checks.push(...(await this.#pullFreshness()));
    return checks;
  }

  /**
   * Each pair's last successful pull within three pull intervals. A daemon younger than that is
   * given the benefit of the doubt until its first pulls have had their chance.
   */
  async #pullFreshness(): Promise<ReadinessCheck[]> {
    let runs;
    try {
      runs = await this.store.reads.syncRuns.all();
    } catch (error) {
      return [{ name: "pulls", ok: false, detail: `pull health unreadable: ${(error as Error).message}` }];
    }
    const now = this.#opsClock.now().getTime();
    const upMs = this.#startedAtOps ? now - this.#startedAtOps.getTime() : 0;
    return this.#config.pairs
      .filter((pair) => pair.enabled)
      .map((pair) => {
        const run = runs.find((r) => r.kind === "pull" && r.name === pair.partnerCenter);
        const limit = 3 * (this.#status.pullIntervalOf(pair.schedule.pull) ?? 60_000);
        const age = run?.lastSuccessAt ? now - run.lastSuccessAt.getTime() : undefined;
        const ok = age !== undefined ? age <= limit : upMs <= limit;
        const failed = run?.lastFailureAt && (!run.lastSuccessAt || run.lastFailureAt > run.lastSuccessAt) ? `; last failure ${run.lastErrorCode ?? "UNKNOWN"}: ${run.lastErrorMessage ?? ""}` : "";
        const detail = age === undefined ? `no successful pull yet${failed}` : `last successful pull ${Math.round(age / 1000)} s ago (limit ${Math.round(limit / 1000)} s)${ok ? "" : failed}`;
        return { name: `pull:${pair.name}`, ok, detail };
      });
  }

  /** A link to a CRM record of a pair, when its connector can build one. */
  #recordUrl(pairName: string, crmObject: string, id: string): string | undefined {
    const pair = this.#config.pairs.find((p) => p.name === pairName);
    if (!pair) return undefined;
    const target = this.#pairTargets(pair.partnerCenter).find((t) => t.pair === pair.name)?.mapping.describeObjects().find((o) => o.name === crmObject);
    return target ? this.#crms.get(pair.crm)?.connector.recordUrl?.(target.object, id) : undefined;
  }

  /** Each pair's CRM change feed on its own schedule. */
  #scheduleCrmPolls(outbound: OutboundSync): void {
    for (const pair of this.#config.pairs.filter((p) => p.enabled)) {
      const poll = () => {
        outbound.poll(pair.name).catch((error: unknown) => this.#log.error({ err: error, pair: pair.name }, "CRM change poll failed; the next poll resumes from the same cursor"));
      };
      this.#tasks.push(this.#fleetTask(`crm-poll:${pair.name}`, pair.schedule.crmPoll, poll));
    }
  }

  /** One pull right away, then on each pair's schedule; pairs sharing an account share its pull. */
  #schedulePulls(inbound: InboundSync): void {
    const pull = (account: string, why: string) => {
      inbound.pull(account).catch((error: unknown) => this.#log.error({ err: error, account, why }, "Partner Center pull failed; the next scheduled pull retries from the same cursor"));
    };
    // Pairs on one account with the same schedule share one task, so one tick is one pull.
    const ticks = new Set(this.#config.pairs.filter((p) => p.enabled).map((pair) => JSON.stringify([pair.partnerCenter, pair.schedule.pull])));
    for (const tick of ticks) {
      const [account, expression] = JSON.parse(tick) as [string, string];
      this.#tasks.push(this.#fleetTask(`pull:${account}:${expression}`, expression, () => pull(account, "schedule")));
    }
    for (const account of inbound.accounts) pull(account, "start");
    // The reconciliation pass: everything from the beginning, on the (slower) reconcile schedule.
    const reconciles = new Set(this.#config.pairs.filter((p) => p.enabled).map((pair) => JSON.stringify([pair.partnerCenter, pair.schedule.reconcile])));
    for (const tick of reconciles) {
      const [account, expression] = JSON.parse(tick) as [string, string];
      const run = () => {
        inbound.reconcile(account).catch((error: unknown) => this.#log.error({ err: error, account }, "reconciliation pass failed; the next one starts over"));
      };
      this.#tasks.push(this.#fleetTask(`reconcile:${account}:${expression}`, expression, run));
    }
  }

  /**
   * A schedule that runs once per firing across every replica on this store: each firing claims
   * its scheduled time (the cron's own second, the same on every replica whatever their clocks say)
   * and only the claimant runs it. With one process it always wins; with several, the pulls, polls
   * and sweeps are not multiplied by the fleet.
   */
  #fleetTask(name: string, expression: string, run: () => void): ScheduledTask {
    return schedule(
      expression,
      async (context) => {
        const slot = new Date(Math.floor(context.date.getTime() / 1000) * 1000);
        let claimed = false;
        try {
          claimed = await this.store.repos.scheduleLeases.claim(name, slot, this.#worker?.owner ?? "daemon", this.#opsClock.now());
        } catch (error) {
          this.#log.warn({ err: error, schedule: name }, "could not claim the schedule's slot; skipping this run");
        }
        if (claimed) run();
        else this.#log.debug({ schedule: name, slot: slot.toISOString() }, "another replica runs this slot");
      },
      { name, noOverlap: true },
    );
  }

  async #closeStore(): Promise<void> {
    const store = this.#store;
    this.#store = undefined;
    await store?.close();
  }
}
