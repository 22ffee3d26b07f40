import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { createSandboxPki } from "../../src/auth/sandbox/pki.js";
import { silentLogger } from "../../src/log/logger.js";
import type { CompiledMapping } from "../../src/mapping/index.js";
import { MappingRegistry } from "../../src/mapping/index.js";
import type { ReferralClient } from "../../src/partner-center/client.js";
import type { PartnerCenterSandbox } from "../../src/sandbox/partner-center/sandbox.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { Store } from "../../src/store/index.js";
import type { PairTarget } from "../../src/sync/enqueue-crm-upsert.js";
import { enqueueCrmUpserts, UpsertDrafts } from "../../src/sync/enqueue-crm-upsert.js";
import { pullChangedLeads } from "../../src/sync/pull-leads.js";
import { startSandboxWithClient } from "../helpers/pc-sandbox.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase, describeEachStore, openMigratedStore } from "../helpers/stores.js";

const clock = new ManualClock("2026-12-01T09:00:00Z");
const pki = createSandboxPki();

describeEachStore("upserts planned before the pull's transaction", (kind) => {
  let sandbox: PartnerCenterSandbox;
  let client: ReferralClient;
  let mapping: CompiledMapping;
  const opened: Array<{ database: TestDatabase; store: Store }> = [];

  beforeEach(async () => {
    ({ sandbox, client } = await startSandboxWithClient({ clock, pki, seed: "drafts", leads: 250 }));
    mapping = await new MappingRegistry(silentLogger(), "mappings").load("hubspot.yaml");
  });

  afterEach(async () => {
    for (const { database, store } of opened.splice(0)) {
      await store.close();
      await database.drop();
    }
    await sandbox.close();
  });

  /** Pulls every lead into a fresh store; says what was queued and how often the mapping ran inside a transaction. */
  async function pullInto(drafted: boolean) {
    const database = await createTestDatabase(kind);
    const store = await openMigratedStore(database);
    opened.push({ database, store });
    // Mapping calls made while a transaction is open (the pull's groups are stored one after another).
    const outbound = vi.spyOn(mapping, "outbound");
    let mappedInTransaction = 0;
    const target: PairTarget = { pair: "p", crm: "hs", mapping, maxAttempts: 5 };
    const drafts = new UpsertDrafts();
    await pullChangedLeads({
      account: "contoso",
      client,
      clock,
      logger: silentLogger(),
      store: {
        repos: store.repos,
        transaction: (work, options) =>
          store.transaction(async (repos) => {
            const before = outbound.mock.calls.length;
            try {
              return await work(repos);
            } finally {
              mappedInTransaction += outbound.mock.calls.length - before;
            }
          }, options),
      },
      ...(drafted ? { onPrepared: (leads, now) => drafts.draft(target, leads, now) } : {}),
      onStored: async (repos, stored, now, timeline) => void (await enqueueCrmUpserts(repos, target, stored, now, { timeline, ...(drafted ? { drafts } : {}) })),
    });
    const jobs = (await store.repos.outbox.list({ state: "pending", limit: 1000 })).map((job) => ({ kind: job.kind, leadId: job.leadId, payload: job.payload, dueBy: job.dueBy, coalesceKey: job.coalesceKey, priority: job.priority }));
    const events = (await Promise.all(jobs.map((job) => store.repos.events.timeline(job.leadId as number)))).flat().map((event) => ({ leadId: event.leadId, kind: event.kind, cause: event.cause, details: event.details }));
    outbound.mockRestore();
    return { jobs, events, mappedInTransaction };
  }

  it("queue for new leads what planning inside the transaction queues, without mapping there", async () => {
    const inside = await pullInto(false);
    const ahead = await pullInto(true);
    expect(inside.jobs).toHaveLength(250);
    expect(ahead.jobs).toEqual(inside.jobs);
    expect(ahead.events).toEqual(inside.events);
    expect(inside.mappedInTransaction).toBeGreaterThanOrEqual(250);
    expect(ahead.mappedInTransaction).toBe(0);
  });
});
