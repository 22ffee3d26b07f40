import type { Knex } from "knex";
import type { StoreKind } from "./connect.js";

export type Row = Record<string, unknown>;

export interface InsertRowsOptions {
  /** A row whose key exists updates these columns of the stored one instead (an upsert). */
  onConflict?: { columns: readonly string[]; merge: readonly string[] };
  /** Columns of the inserted (or updated) rows to read back; their order is not promised. */
  returning?: readonly string[];
}

/**
 * Inserts rows that share their columns in one statement and returns the `returning` columns.
 *
 * On SQLite the rows travel as one JSON text that SQLite unpacks with `json_each`, instead of one
 * bound parameter per value. Knex compiles every parameter into its `union all` insert form, and
 * node-sqlite3 converts each one on the main thread: a 100-lead page's writes are ~11,000 of them,
 * and in a backfill this was a tenth of the daemon's main-thread time. SQLite reads the JSON on its
 * worker thread. The stored values are the ones binding would store: a Date as its milliseconds
 * (node-sqlite3 binds a Date as a number), a boolean as 1 or 0.
 *
 * PostgreSQL takes knex's own multi-row insert.
 */
export async function insertRows(db: Knex | Knex.Transaction, kind: StoreKind, table: string, rows: readonly Row[], options: InsertRowsOptions = {}): Promise<Row[]> {
  const first = rows[0];
  if (!first) return [];
  const columns = Object.keys(first);
  // Knex would fill a missing column with its default on PostgreSQL; both stores refuse alike.
  for (const row of rows) {
    if (Object.keys(row).length !== columns.length || !columns.every((column) => column in row)) throw new Error(`insertRows(${table}): every row needs exactly the columns ${columns.join(", ")}`);
  }
  if (kind !== "sqlite") return viaKnex(db, table, rows, options);
  const values = rows.map((row) => columns.map((column) => jsonValue(row[column], table, column)));
  const result = (await db.raw(sqliteInsert(table, columns, options), [JSON.stringify(values)])) as unknown;
  return Array.isArray(result) ? (result as Row[]) : [];
}

async function viaKnex(db: Knex | Knex.Transaction, table: string, rows: readonly Row[], options: InsertRowsOptions): Promise<Row[]> {
  const insert = db(table).insert(rows as Row[]);
  const upsert = options.onConflict ? insert.onConflict([...options.onConflict.columns]).merge([...options.onConflict.merge]) : insert;
  if (!options.returning) {
    await upsert;
    return [];
  }
  return (await upsert.returning([...options.returning])) as Row[];
}

function jsonValue(value: unknown, table: string, column: string): unknown {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.getTime();
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number" || typeof value === "string") return value;
  throw new Error(`insertRows(${table}): column ${column} holds a ${typeof value}; store numbers, strings, booleans, dates or null`);
}

const statements = new Map<string, string>();

/** `insert … select value ->> 0, … from json_each(?)`, built once per table, columns and options. */
function sqliteInsert(table: string, columns: readonly string[], options: InsertRowsOptions): string {
  const key = JSON.stringify([table, columns, options.onConflict ?? null, options.returning ?? null]);
  const cached = statements.get(key);
  if (cached) return cached;
  const name = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;
  // `where true` tells SQLite's parser that `on conflict` belongs to the insert, not to a join.
  const parts = [`insert into ${name(table)} (${columns.map(name).join(", ")}) select ${columns.map((_, index) => `value ->> ${String(index)}`).join(", ")} from json_each(?) where true`];
  if (options.onConflict) parts.push(`on conflict (${options.onConflict.columns.map(name).join(", ")}) do update set ${options.onConflict.merge.map((column) => `${name(column)} = excluded.${name(column)}`).join(", ")}`);
  if (options.returning) parts.push(`returning ${options.returning.map(name).join(", ")}`);
  const sql = parts.join(" ");
  statements.set(key, sql);
  return sql;
}
