import knex from "knex";
import type { Knex } from "knex";
import { afterEach, beforeEach, expect, it } from "vitest";
import { insertRows } from "../../src/store/insert-rows.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase, describeEachStore } from "../helpers/stores.js";

const AT = new Date("2026-12-07T10:11:12.345Z");

async function createTable(db: Knex, name: string): Promise<void> {
  await db.schema.createTable(name, (table) => {
    table.increments("id");
    table.string("pair", 64).notNullable();
    table.integer("lead_id").notNullable();
    table.timestamp("at", { useTz: true }).nullable();
    table.boolean("done").notNullable();
    table.double("amount").nullable();
    table.text("details").nullable();
    table.unique(["pair", "lead_id"]);
  });
}

const rows = [
  { pair: "p1", lead_id: 1, at: AT, done: true, amount: 12.5, details: JSON.stringify({ quote: 'say "hi"', unicode: "Zoë ✓", newline: "a\nb" }) },
  { pair: "p1", lead_id: 2, at: null, done: false, amount: 3, details: null },
  { pair: "p2", lead_id: 1, at: new Date(0), done: true, amount: null, details: "plain ?? text ? with placeholders" },
];

describeEachStore("insertRows", (kind) => {
  let database: TestDatabase;
  let db: Knex;
  beforeEach(async () => {
    database = await createTestDatabase(kind);
    const path = database.url.replace(/^sqlite:/, "");
    db = kind === "sqlite" ? knex({ client: "sqlite3", connection: { filename: path }, useNullAsDefault: true }) : knex({ client: "pg", connection: database.url });
    await createTable(db, "by_knex");
    await createTable(db, "by_helper");
  });
  afterEach(async () => {
    await db.destroy();
    await database.drop();
  });

  it("stores what knex's own insert stores, value for value and type for type", async () => {
    await db("by_knex").insert(rows);
    await insertRows(db, kind, "by_helper", rows);
    const read = async (table: string) => {
      const types = kind === "sqlite" ? ", typeof(at) as at_type, typeof(done) as done_type, typeof(amount) as amount_type" : "";
      const result = (await db.raw(`select pair, lead_id, at, done, amount, details${types} from ${table} order by id`)) as unknown;
      return (kind === "sqlite" ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>;
    };
    const list = await read("by_helper");
    expect(list).toEqual(await read("by_knex"));
    expect(list).toHaveLength(3);
    expect(JSON.parse(String(list[0]?.details))).toEqual({ quote: 'say "hi"', unicode: "Zoë ✓", newline: "a\nb" });
    expect(list[2]?.details).toBe("plain ?? text ? with placeholders");
  });

  it("updates the merge columns of a row whose key is stored, and returns the rows it wrote", async () => {
    await insertRows(db, kind, "by_helper", rows);
    const returned = await insertRows(db, kind, "by_helper", [{ pair: "p1", lead_id: 2, at: AT, done: true, amount: 9, details: "second" }, { pair: "p3", lead_id: 7, at: AT, done: false, amount: 1, details: null }], {
      onConflict: { columns: ["pair", "lead_id"], merge: ["done", "details"] },
      returning: ["id", "pair", "lead_id"],
    });
    expect(returned.map((row) => `${String(row.pair)}/${String(row.lead_id)}`).sort()).toEqual(["p1/2", "p3/7"]);
    const updated = await db("by_helper").where({ pair: "p1", lead_id: 2 }).first();
    // Merged columns take the new values; the others keep theirs.
    expect({ done: Boolean(updated.done), details: updated.details, amount: Number(updated.amount), at: updated.at }).toEqual({ done: true, details: "second", amount: 3, at: null });
    expect(Number((await db("by_helper").count({ n: "*" }))[0]?.n)).toBe(4);
  });

  it("refuses rows whose columns differ or a value it cannot store, and writes none of them", async () => {
    await expect(insertRows(db, kind, "by_helper", [rows[0] as Record<string, unknown>, { pair: "p9", lead_id: 9, done: true }])).rejects.toThrow(/every row needs exactly the columns/);
    // SQLite's path encodes each value itself; PostgreSQL's driver stores an object as its JSON.
    if (kind === "sqlite") await expect(insertRows(db, kind, "by_helper", [{ ...rows[0], details: { nested: true } }])).rejects.toThrow(/details holds a object/);
    expect(await db("by_helper").count({ n: "*" })).toEqual([{ n: kind === "sqlite" ? 0 : "0" }]);
  });

  it("does nothing for no rows", async () => {
    expect(await insertRows(db, kind, "by_helper", [], { returning: ["id"] })).toEqual([]);
  });
});
