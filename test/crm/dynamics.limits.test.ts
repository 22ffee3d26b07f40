import { afterEach, expect, it } from "vitest";
import type { DataverseSandbox } from "../../connectors/dynamics/sandbox/server.js";
import { startDataverse } from "../helpers/dynamics.js";
import { upsertThroughOutbox } from "../helpers/outbox-run.js";
import { useMigratedStore } from "../helpers/stores.js";

let sandbox: DataverseSandbox;
const store = useMigratedStore("sqlite");

afterEach(async () => {
  await sandbox?.close();
});

it("a run over the service protection limit slows down on 429 + Retry-After and completes", async () => {
  const started = await startDataverse({ requestLimit: 6, windowMs: 1_000 });
  sandbox = started.sandbox;
  await upsertThroughOutbox(store(), started.connector, { object: "lead", externalIdField: "cosell_referralid", count: 200, fields: { subject: "S", companyname: "C" } });
  expect(sandbox.stats.throttled).toBeGreaterThan(0);
  expect(sandbox.rows).toHaveLength(200);
  expect((await store().repos.outbox.stats(new Date())).byState.dead).toBeUndefined();
}, 90_000);
