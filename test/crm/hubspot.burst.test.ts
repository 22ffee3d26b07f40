import { afterEach, expect, it } from "vitest";
import type { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { startHubSpot } from "../helpers/hubspot.js";
import { upsertThroughOutbox } from "../helpers/outbox-run.js";
import { useMigratedStore } from "../helpers/stores.js";

let sandbox: HubSpotSandbox;
const store = useMigratedStore("sqlite");

afterEach(async () => {
  await sandbox?.close();
});

it("a burst over the rate limit slows down on 429s and finishes with nothing lost", async () => {
  // HubSpot allows 20 requests a second here; the outbox is configured far faster, as if misconfigured.
  const started = await startHubSpot({ rateLimit: 20, rateWindowMs: 1_000 });
  sandbox = started.sandbox;
  const worker = await upsertThroughOutbox(store(), started.connector, { object: "companies", externalIdField: "cosell_customer_key", count: 600, fields: { name: "Customer" } });
  expect(sandbox.stats.throttled).toBeGreaterThan(0);
  expect(sandbox.count("companies")).toBe(600);
  expect((await store().repos.outbox.stats(new Date())).byState.dead).toBeUndefined();
  expect(worker.counters.retried).toBeGreaterThan(0);
}, 90_000);
