import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { redactUrl, Store, storeKind } from "../../src/store/index.js";
import { connect } from "../../src/store/connect.js";

describe("store connection", () => {
  it("tells SQLite from PostgreSQL by URL and refuses anything else", () => {
    expect(storeKind("sqlite:./data/x.db")).toBe("sqlite");
    expect(storeKind("postgres://u@h/db")).toBe("postgres");
    expect(storeKind("postgresql://u@h/db")).toBe("postgres");
    expect(() => storeKind("mysql://u:p@h/db")).toThrow(/neither sqlite:PATH nor postgres/);
  });

  it("never shows a URL's password", () => {
    expect(redactUrl("postgres://cosell:hunter2@db:5432/x")).toBe("postgres://cosell:***@db:5432/x");
  });

  it("opens SQLite with WAL, foreign keys, the busy timeout and synchronous=FULL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cosell-pragmas-"));
    const { knex } = connect({ url: `sqlite:${join(dir, "nested", "p.db")}`, busyTimeoutMs: 1234 });
    try {
      const read = async (pragma: string) => Object.values((await knex.raw(`PRAGMA ${pragma}`))[0] as object)[0];
      expect(await read("journal_mode")).toBe("wal");
      expect(await read("foreign_keys")).toBe(1);
      expect(await read("busy_timeout")).toBe(1234);
      expect(await read("synchronous")).toBe(2); // FULL
    } finally {
      await knex.destroy();
    }
  });

  it("starts every SQLite transaction with BEGIN IMMEDIATE, so a second process waits instead of failing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cosell-immediate-"));
    const { knex } = connect({ url: `sqlite:${join(dir, "i.db")}` });
    const statements: string[] = [];
    knex.on("query", (query: { sql: string }) => statements.push(query.sql));
    try {
      await knex.transaction(async (trx) => {
        await trx.raw("select 1");
      });
      expect(statements[0]).toBe("BEGIN IMMEDIATE;");
      expect(statements).toContain("select 1");
    } finally {
      await knex.destroy();
    }
  });

  it("an unreachable PostgreSQL gives STORE_UNAVAILABLE without the password", async () => {
    const error = await Store.open({ url: "postgres://u:topsecret@127.0.0.1:1/none" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "STORE_UNAVAILABLE", retryable: true });
    expect((error as Error).message).not.toContain("topsecret");
  });
});

describe("the store's read connection", () => {
  it("on a SQLite file, reads what was committed without waiting behind an open write transaction, and refuses writes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cosell-reads-"));
    const store = await Store.open({ url: `sqlite:${join(dir, "r.db")}`, busyTimeoutMs: 200 });
    try {
      await store.migrate();
      const at = new Date("2026-12-01T00:00:00Z");
      await store.repos.cursors.save("scope", "name", { n: 1 }, at);
      expect(store.reads).not.toBe(store.repos);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let inside!: () => void;
      const entered = new Promise<void>((resolve) => (inside = resolve));
      const writing = store.transaction(async (repos) => {
        await repos.cursors.save("scope", "name", { n: 2 }, at);
        inside();
        await held;
      });
      await entered;
      // The writer holds its one connection; the read goes beside it and sees the last commit.
      expect((await store.reads.cursors.get<{ n: number }>("scope", "name"))?.value).toEqual({ n: 1 });
      release();
      await writing;
      expect((await store.reads.cursors.get<{ n: number }>("scope", "name"))?.value).toEqual({ n: 2 });
      await expect(store.reads.cursors.save("scope", "name", { n: 3 }, at)).rejects.toThrow(/readonly|read-only/i);
      expect((await store.repos.cursors.get<{ n: number }>("scope", "name"))?.value).toEqual({ n: 2 });
    } finally {
      await store.close();
    }
  });

  it("in memory, reads through the one connection (a second would open an empty database)", async () => {
    const store = await Store.open({ url: "sqlite::memory:" });
    try {
      expect(store.reads).toBe(store.repos);
    } finally {
      await store.close();
    }
  });
});
