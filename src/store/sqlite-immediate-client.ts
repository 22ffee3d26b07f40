import { createRequire } from "node:module";
import type { Knex } from "knex";

/**
 * knex's sqlite3 dialect, except that transactions start with BEGIN IMMEDIATE. A deferred BEGIN
 * takes the write lock only at the first write; two processes that both read first then deadlock on
 * the upgrade, and SQLite answers SQLITE_BUSY at once without calling the busy handler. IMMEDIATE
 * takes the lock up front, so the second process simply waits out its busy_timeout. Every
 * transaction here writes (leasing, saving pages), so none is needlessly serialised.
 */
const require = createRequire(import.meta.url);

type Ctor = new (...args: unknown[]) => object;
const ClientSqlite3 = require("knex/lib/dialects/sqlite3/index.js") as Ctor;
const TransactionSqlite = require("knex/lib/dialects/sqlite3/execution/sqlite-transaction.js") as Ctor;

class ImmediateTransaction extends TransactionSqlite {
  begin(this: { query(conn: unknown, sql: string): Promise<unknown> }, conn: unknown): Promise<unknown> {
    return this.query(conn, "BEGIN IMMEDIATE;");
  }
}

export class SqliteImmediateClient extends ClientSqlite3 {
  transaction(...args: unknown[]): object {
    return new ImmediateTransaction(this, ...args);
  }
}

export const sqliteImmediateClient = SqliteImmediateClient as unknown as typeof Knex.Client;
