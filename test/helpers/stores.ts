import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, inject } from "vitest";
import type { StoreKind } from "../../src/store/index.js";
import { Store } from "../../src/store/index.js";

export interface TestDatabase {
  kind: StoreKind;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of the given kind: a temp SQLite file or a new PostgreSQL database. */
export async function createTestDatabase(kind: StoreKind): Promise<TestDatabase> {
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "cosell-store-"));
    return { kind, url: `sqlite:${join(dir, "test.db")}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const admin = inject("pgUrl");
  if (!admin) throw new Error("PostgreSQL is not available to this test run");
  const name = `cosell_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    drop: async () => {
      const dropper = new pg.Client({ connectionString: admin });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

export async function openMigratedStore(database: TestDatabase): Promise<Store> {
  const store = await Store.open({ url: database.url });
  await store.migrate();
  return store;
}

/** Declares `suite` once per store kind; the PostgreSQL run is skipped only outside CI without a server. */
export function describeEachStore(title: string, suite: (kind: StoreKind) => void): void {
  const pgAvailable = inject("pgUrl") !== null;
  describe(`${title} [sqlite]`, () => suite("sqlite"));
  describe.skipIf(!pgAvailable)(`${title} [postgres]`, () => suite("postgres"));
}

/** Gives each test of the suite a fresh, migrated store of `kind`, closed and dropped afterwards. */
export function useMigratedStore(kind: StoreKind): () => Store {
  let database: TestDatabase | undefined;
  let store: Store | undefined;
  beforeEach(async () => {
    database = await createTestDatabase(kind);
    store = await openMigratedStore(database);
  });
  afterEach(async () => {
    await store?.close();
    await database?.drop();
  });
  return () => {
    if (!store) throw new Error("the store exists only inside a test");
    return store;
  };
}
