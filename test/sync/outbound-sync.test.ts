import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ChangePage, CrmConnector } from "../../connectors/types.js";
import { silentLogger } from "../../src/log/logger.js";
import type { CompiledMapping } from "../../src/mapping/index.js";
import { MappingRegistry } from "../../src/mapping/index.js";
import { countCall } from "../../src/shared/call-meter.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { Store } from "../../src/store/index.js";
import { OutboundSync } from "../../src/sync/outbound-sync.js";
import { sellerCursorKey } from "../../src/sync/poll-seller-changes.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase, openMigratedStore } from "../helpers/stores.js";

let database: TestDatabase;
let store: Store;
let mapping: CompiledMapping;
const clock = new ManualClock("2026-11-24T10:00:00Z");

beforeEach(async () => {
  database = await createTestDatabase("sqlite");
  store = await openMigratedStore(database);
  mapping = await new MappingRegistry(silentLogger(), "mappings").load("hubspot.yaml");
});

afterEach(async () => {
  await store.close();
  await database.drop();
});

it("a CRM change poll asks the CRM's rate (or the budget a call names) before every call it makes, as the outbox's writes do", async () => {
  const events: string[] = [];
  // A change feed of two pages, two calls each (a search, then a read of the records found).
  const connector = {
    kind: "hubspot",
    async *changes(): AsyncGenerator<ChangePage> {
      for (let page = 0; page < 2; page += 1) {
        for (const call of ["search", "read"]) {
          await countCall(call === "search" ? "search" : undefined);
          events.push(`${call} ${page}`);
        }
        yield { changes: [], cursor: { modstamp: `2026-11-2${page}T00:00:00.000Z`, id: String(page) } };
      }
    },
  } as unknown as CrmConnector;
  const sync = new OutboundSync({
    store,
    clock,
    logger: silentLogger(),
    pairs: () => new Map([["p", { pair: "p", crm: "hs", mapping, maxAttempts: 5, account: "pc", connector, debounceMs: 0 }]]),
    pace: async (crm, budget) => void events.push(`turn ${crm}${budget ? ` (${budget})` : ""}`),
  });
  const report = await sync.poll("p");
  expect(report.pages).toBe(2);
  expect(events).toEqual(["turn hs (search)", "search 0", "turn hs", "read 0", "turn hs (search)", "search 1", "turn hs", "read 1"]);
});

describe("pages without seller changes (our own writes, filtered out)", () => {
  const emptyPages = (count: number, fail?: Error) =>
    ({
      kind: "hubspot",
      async *changes(): AsyncGenerator<ChangePage> {
        for (let page = 1; page <= count; page += 1) yield { changes: [], cursor: { modstamp: `2026-11-2${page}T00:00:00.000Z`, id: String(page) } };
        if (fail) throw fail;
      },
    }) as unknown as CrmConnector;
  const syncWith = (connector: CrmConnector) =>
    new OutboundSync({ store, clock, logger: silentLogger(), pairs: () => new Map([["p", { pair: "p", crm: "hs", mapping, maxAttempts: 5, account: "pc", connector, debounceMs: 0 }]]) });
  const cursorNow = async () => (await store.repos.cursors.get(sellerCursorKey("p", mapping.inboundTarget()?.object ?? "").scope, mapping.inboundTarget()?.object ?? ""))?.value;

  it("move the cursor in one write at the end of the feed, not one per page", async () => {
    const transaction = vi.spyOn(store, "transaction");
    const report = await syncWith(emptyPages(3)).poll("p");
    expect(report.pages).toBe(3);
    expect(transaction).toHaveBeenCalledTimes(1);
    expect(await cursorNow()).toEqual({ modstamp: "2026-11-23T00:00:00.000Z", id: "3" });
  });

  it("end after the page in hand when the sync stops, their place saved, the rest of the feed unread", async () => {
    let stopped: Promise<void> | undefined;
    let read = 0;
    const connector = {
      kind: "hubspot",
      async *changes(): AsyncGenerator<ChangePage> {
        for (let page = 1; page <= 9; page += 1) {
          read = page;
          // The daemon stops while the poll reads its second page.
          if (page === 2) stopped = sync.stop();
          yield { changes: [], cursor: { modstamp: `2026-11-2${page}T00:00:00.000Z`, id: String(page) } };
        }
      },
    } as unknown as CrmConnector;
    const sync = syncWith(connector);
    const report = await sync.poll("p");
    await stopped;
    expect(report.pages).toBe(2);
    expect(read).toBe(2);
    expect(await cursorNow()).toEqual({ modstamp: "2026-11-22T00:00:00.000Z", id: "2" });
  });

  it("keep the place they reached when the feed fails after them, and the failure is still told", async () => {
    await expect(syncWith(emptyPages(2, new Error("feed broke"))).poll("p")).rejects.toThrow("feed broke");
    expect(await cursorNow()).toEqual({ modstamp: "2026-11-22T00:00:00.000Z", id: "2" });
  });
});
