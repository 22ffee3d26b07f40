import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import knexFactory from "knex";
import type { Knex } from "knex";
import type { Logger } from "../log/logger.js";
import { CosellError } from "../shared/errors.js";
import { sqliteImmediateClient } from "./sqlite-immediate-client.js";

export type StoreKind = "sqlite" | "postgres";

export interface StoreOptions {
  /** `sqlite:PATH`, `sqlite::memory:` or a `postgres://` URL. */
  url: string;
  busyTimeoutMs?: number;
  poolMax?: number;
  /** Base for a relative SQLite path; the process's working directory by default. */
  cwd?: string;
}

export function storeKind(url: string): StoreKind {
  if (url.startsWith("sqlite:")) return "sqlite";
  if (/^postgres(ql)?:\/\//.test(url)) return "postgres";
  throw new CosellError("STORE_URL_INVALID", `Store URL "${redactUrl(url)}" is neither sqlite:PATH nor postgres://…; fix store.url in the config.`);
}

/**
 * SQLite settings, per connection, the busy timeout first so the others wait on a lock:
 * - WAL so readers (status page, CLI) never block the writer;
 * - foreign keys on (SQLite leaves them off);
 * - the busy timeout also lets a second process (`db migrate` beside a running daemon) waits instead of failing;
 * - synchronous=FULL. The effect-recording tables (outbox, crm_links, cursors, lead_events) are
 *   written in the same transaction as `leads`, and SQLite sets durability per database file, not per
 *   table; splitting them into an attached file would make those transactions non-atomic under WAL.
 *   So the whole file syncs every commit: a commit the daemon acted on survives a power loss.
 */
function sqlitePragmas(busyTimeoutMs: number): string {
  return [
    `PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)};`,
    "PRAGMA journal_mode = WAL;",
    "PRAGMA foreign_keys = ON;",
    "PRAGMA synchronous = FULL;",
  ].join(" ");
}

interface SqliteConnection {
  exec(sql: string, cb: (err: Error | null) => void): void;
}

/**
 * Two connections switching a fresh file to WAL at the same moment both hold a shared lock and want
 * an exclusive one; SQLite answers one of them SQLITE_BUSY at once, without its busy handler, to
 * avoid a deadlock. So the switch is tried again (the pragmas are idempotent) until the timeout.
 */
function execPragmas(conn: SqliteConnection, pragmas: string, deadline: number, done: (err: Error | null, conn: unknown) => void): void {
  conn.exec(pragmas, (err) => {
    if (err && (err as { code?: string }).code === "SQLITE_BUSY" && Date.now() < deadline) {
      setTimeout(() => execPragmas(conn, pragmas, deadline, done), 20 + Math.random() * 30);
      return;
    }
    done(err, conn);
  });
}

/** Knex writes its warnings to the console unless given a logger; keep every line pino JSON. */
function knexLog(logger: Logger | undefined): Knex.Config["log"] {
  const say = (level: "warn" | "error" | "debug") => (message: unknown) => {
    logger?.[level]({ component: "store", detail: String(message) }, "knex");
  };
  return { warn: say("warn"), error: say("error"), deprecate: say("warn"), debug: say("debug") };
}

export function connect(options: StoreOptions, logger?: Logger): { knex: Knex; kind: StoreKind } {
  const kind = storeKind(options.url);
  const log = knexLog(logger);
  if (kind === "sqlite") {
    const location = options.url.slice("sqlite:".length);
    const filename = location === ":memory:" ? ":memory:" : resolve(options.cwd ?? process.cwd(), location);
    if (filename !== ":memory:") mkdirSync(dirname(filename), { recursive: true });
    const pragmas = sqlitePragmas(options.busyTimeoutMs ?? 5000);
    const knex = knexFactory({
      client: sqliteImmediateClient,
      connection: { filename },
      useNullAsDefault: true,
      log,
      // One connection: SQLite has one writer anyway, and a single connection keeps a transaction
      // from waiting on a second connection of the same process.
      pool: {
        min: 1,
        max: 1,
        afterCreate: (conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) => {
          execPragmas(conn, pragmas, Date.now() + (options.busyTimeoutMs ?? 5000), done);
        },
      },
    });
    return { knex, kind };
  }
  const knex = knexFactory({
    client: "pg",
    connection: { connectionString: options.url, application_name: "cosell-sync" },
    pool: { min: 0, max: options.poolMax ?? 10 },
    log,
  });
  return { knex, kind };
}

/**
 * A second SQLite connection for reads that need no transaction (a batch's links, the lookahead,
 * the status page): WAL lets it read beside the writer, so such a read no longer queues behind
 * every write transaction of the one writing connection, nor holds one up. `query_only` makes a
 * write sent here fail loudly instead of taking the write lock from the writer. None for
 * PostgreSQL (its pool already reads in parallel) or an in-memory SQLite store (a second
 * connection would open a second, empty database).
 */
export function connectReader(options: StoreOptions, logger?: Logger): Knex | undefined {
  if (storeKind(options.url) !== "sqlite") return undefined;
  const location = options.url.slice("sqlite:".length);
  if (location === ":memory:") return undefined;
  const filename = resolve(options.cwd ?? process.cwd(), location);
  const pragmas = [`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)};`, "PRAGMA query_only = ON;"].join(" ");
  return knexFactory({
    client: "sqlite3",
    connection: { filename },
    useNullAsDefault: true,
    log: knexLog(logger),
    pool: {
      min: 0,
      max: 1,
      afterCreate: (conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) => {
        execPragmas(conn, pragmas, Date.now() + (options.busyTimeoutMs ?? 5000), done);
      },
    },
  });
}

/** A store URL fit for logs and error messages. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^/:@]*:)[^@/]*@/, "$1***@");
}
