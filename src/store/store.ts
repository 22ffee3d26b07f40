import type { Knex } from "knex";
import type { Logger } from "../log/logger.js";
import { CosellError } from "../shared/errors.js";
import type { StoreKind, StoreOptions } from "./connect.js";
import { connect, connectReader, redactUrl } from "./connect.js";
import { WriteTurns } from "./write-turns.js";
import { MIGRATION_TABLE, migrationSource } from "./migrations/index.js";

/** The advisory lock PostgreSQL replicas take turns migrating under. */
const MIGRATION_LOCK = "cosell-sync migrations";
import { CrmLinksRepository } from "./repositories/crm-links-repository.js";
import { CursorsRepository } from "./repositories/cursors-repository.js";
import { LeadEventsRepository } from "./repositories/lead-events-repository.js";
import { LeadsRepository } from "./repositories/leads-repository.js";
import { OutboxRepository } from "./repositories/outbox-repository.js";
import { RemindersRepository } from "./repositories/reminders-repository.js";
import { ScheduleLeasesRepository } from "./repositories/schedule-leases-repository.js";
import { SyncRunsRepository } from "./repositories/sync-runs-repository.js";

export interface Repositories {
  leads: LeadsRepository;
  crmLinks: CrmLinksRepository;
  cursors: CursorsRepository;
  events: LeadEventsRepository;
  outbox: OutboxRepository;
  reminders: RemindersRepository;
  syncRuns: SyncRunsRepository;
  scheduleLeases: ScheduleLeasesRepository;
}

function repositories(db: Knex | Knex.Transaction, kind: StoreKind): Repositories {
  return {
    leads: new LeadsRepository(db, kind),
    crmLinks: new CrmLinksRepository(db, kind),
    cursors: new CursorsRepository(db),
    events: new LeadEventsRepository(db, kind),
    outbox: new OutboxRepository(db, kind),
    reminders: new RemindersRepository(db),
    syncRuns: new SyncRunsRepository(db),
    scheduleLeases: new ScheduleLeasesRepository(db),
  };
}

export interface MigrationReport {
  applied: string[];
  current: string[];
}

/**
 * The only door to the database. Everything outside src/store speaks to repositories with
 * intent-named methods; knex stays in here.
 */
export class Store {
  readonly kind: StoreKind;
  readonly repos: Repositories;
  /**
   * The same repositories for reads that need no transaction and may see the last commit (a
   * batch's links, the lookahead, counts, the status page). On a SQLite file they go through a
   * second, read-only connection, so they neither wait behind nor hold up the write transactions
   * of the one writing connection; elsewhere they are `repos`. A write sent here fails.
   */
  readonly reads: Repositories;
  readonly #knex: Knex;
  readonly #reader: Knex | undefined;
  readonly #turns: WriteTurns | undefined;
  readonly #url: string;

  private constructor(knex: Knex, kind: StoreKind, url: string, reader?: Knex) {
    this.#knex = knex;
    this.#reader = reader;
    this.kind = kind;
    this.#turns = kind === "sqlite" ? new WriteTurns() : undefined;
    this.#url = url;
    this.repos = repositories(knex, kind);
    this.reads = reader ? repositories(reader, kind) : this.repos;
  }

  /** Opens the store and checks it answers; fails with STORE_UNAVAILABLE and what to check. */
  static async open(options: StoreOptions, logger?: Logger): Promise<Store> {
    const { knex, kind } = connect(options, logger);
    const store = new Store(knex, kind, options.url, connectReader(options, logger));
    try {
      await store.ping();
    } catch (error) {
      await store.close().catch(() => undefined);
      throw new CosellError(
        "STORE_UNAVAILABLE",
        `Cannot open the store at ${redactUrl(options.url)}: ${(error as Error).message}. Check store.url, that the database is running and reachable, and that the service user may write there.`,
        { retryable: true, cause: error },
      );
    }
    logger?.debug({ store: kind, url: redactUrl(options.url) }, "store opened");
    return store;
  }

  async ping(): Promise<void> {
    await this.#knex.raw("select 1");
  }

  /** Brings the schema up to date. Safe to run from several processes at once (knex takes a lock). */
  async migrate(): Promise<MigrationReport> {
    const config = { migrationSource, tableName: MIGRATION_TABLE };
    try {
      const [, applied] = await this.#latestWaitingForOthers(config);
      const [completed] = (await this.#knex.migrate.list(config)) as [Array<{ name: string } | string>, unknown];
      return { applied, current: completed.map((entry) => (typeof entry === "string" ? entry : entry.name)) };
    } catch (error) {
      throw new CosellError(
        "STORE_MIGRATION_FAILED",
        `Migrating the store at ${redactUrl(this.#url)} failed: ${(error as Error).message}. Nothing after the failed step was applied; fix the cause and run \`cosell-sync db migrate\` again.`,
        { cause: error },
      );
    }
  }

  /**
   * Replicas starting together race to migrate. On PostgreSQL they take turns under an advisory
   * lock: knex's own lock table is created without one, so two racing replicas could each insert
   * its single row, after which knex's "take the lock" updates two rows and every replica is
   * refused as "already locked" for good (seen as a 60 s stall in CI). Under the advisory lock
   * nobody else is migrating, so extra rows, or a lock left by a replica killed mid-migration, are
   * stale and reset. On SQLite the losers of knex's lock wait for the winner and look again.
   */
  async #latestWaitingForOthers(config: { migrationSource: typeof migrationSource; tableName: string }): Promise<[number, string[]]> {
    if (this.kind !== "postgres") return this.#latestRetrying(config);
    const connection: unknown = await this.#knex.client.acquireConnection();
    try {
      await this.#knex.raw("select pg_advisory_lock(hashtext(?))", [MIGRATION_LOCK]).connection(connection);
      try {
        await this.#resetStaleKnexLock(`${config.tableName}_lock`);
        return await this.#latestRetrying(config);
      } finally {
        await this.#knex.raw("select pg_advisory_unlock(hashtext(?))", [MIGRATION_LOCK]).connection(connection);
      }
    } finally {
      await this.#knex.client.releaseConnection(connection);
    }
  }

  async #resetStaleKnexLock(lockTable: string): Promise<void> {
    if (!(await this.#knex.schema.hasTable(lockTable))) return;
    const rows = (await this.#knex(lockTable).select("is_locked")) as Array<{ is_locked: number }>;
    if (rows.length === 1 && Number(rows[0]?.is_locked) === 0) return;
    await this.#knex.transaction(async (trx) => {
      await trx(lockTable).delete();
      await trx(lockTable).insert({ is_locked: 0 });
    });
  }

  async #latestRetrying(config: { migrationSource: typeof migrationSource; tableName: string }): Promise<[number, string[]]> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return (await this.#knex.migrate.latest(config)) as [number, string[]];
      } catch (error) {
        const raced = /already locked|already exists|duplicate key|UNIQUE constraint failed/i.test((error as Error).message);
        if (!raced || attempt >= 120) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Which migrations this store has and which this version would still apply (nothing is changed). */
  async migrationStatus(): Promise<{ applied: string[]; pending: string[] }> {
    const config = { migrationSource, tableName: MIGRATION_TABLE };
    const [completed, pending] = (await this.#knex.migrate.list(config)) as [Array<{ name: string } | string>, Array<{ name: string } | string>];
    const names = (list: Array<{ name: string } | string>) => list.map((entry) => (typeof entry === "string" ? entry : entry.name));
    return { applied: names(completed), pending: names(pending) };
  }

  /**
   * Runs `work` in one transaction: all its writes land together or not at all. A `bulk` one (many
   * rows that nothing waits on at once) lets other transactions waiting for SQLite's one writer go
   * first; PostgreSQL writes in parallel and needs no turns.
   */
  async transaction<T>(work: (repos: Repositories) => Promise<T>, options: { bulk?: boolean } = {}): Promise<T> {
    const run = () => this.#knex.transaction(async (trx) => work(repositories(trx, this.kind)));
    return this.#turns ? this.#turns.take(options.bulk === true, run) : run();
  }

  async close(): Promise<void> {
    await Promise.all([this.#knex.destroy(), this.#reader?.destroy()]);
  }
}
