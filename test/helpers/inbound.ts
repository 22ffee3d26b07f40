import type { CrmConnector } from "../../connectors/types.js";
import { createSandboxPki } from "../../src/auth/sandbox/pki.js";
import { silentLogger } from "../../src/log/logger.js";
import { MappingRegistry } from "../../src/mapping/index.js";
import type { ReferralClient } from "../../src/partner-center/client.js";
import { OutboxWorker } from "../../src/queue/worker.js";
import type { PartnerCenterSandbox } from "../../src/sandbox/partner-center/sandbox.js";
import type { ManualClock } from "../../src/shared/clock.js";
import type { Store } from "../../src/store/index.js";
import { crmUpsertHandler } from "../../src/sync/crm-upsert-handler.js";
import { SharedLookahead } from "../../src/sync/shared-lookahead.js";
import type { SharedRecordCache } from "../../src/sync/shared-record-cache.js";
import { CRM_UPSERT, enqueueCrmUpserts } from "../../src/sync/enqueue-crm-upsert.js";
import type { PullReport } from "../../src/sync/pull-leads.js";
import { pullChangedLeads } from "../../src/sync/pull-leads.js";
import { startSandboxWithClient } from "./pc-sandbox.js";
import type { StoreKind } from "../../src/store/index.js";
import type { TestDatabase } from "./stores.js";
import { createTestDatabase, openMigratedStore } from "./stores.js";

export const ACCOUNT = "contoso";
const pki = createSandboxPki();

export interface InboundRig {
  pc: PartnerCenterSandbox;
  client: ReferralClient;
  store: Store;
  target: string;
  /** One Partner Center pull that enqueues an upsert for each changed lead. */
  pull(): Promise<PullReport>;
  /** Runs the CRM target's outbox until nothing is left to lease; returns how many jobs ran. */
  drain(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Partner Center sandbox → pull → outbox → the real connector, for one CRM and one store: the
 * inbound half of the sync engine as the daemon wires it, driven step by step on a manual clock.
 */
export async function startInboundRig(options: { kind: StoreKind; clock: ManualClock; crm: string; pair: string; mappingFile: string; connector: CrmConnector; seed: string; leads: number; shared?: SharedRecordCache; lookahead?: boolean; batchSize?: number }): Promise<InboundRig> {
  const { sandbox: pc, client } = await startSandboxWithClient({ clock: options.clock, pki, seed: options.seed, leads: options.leads });
  const database: TestDatabase = await createTestDatabase(options.kind);
  const store = await openMigratedStore(database);
  const mapping = await new MappingRegistry(silentLogger(), "mappings").load(options.mappingFile);
  const target = `crm:${options.crm}`;
  const worker = new OutboxWorker({
    store,
    clock: options.clock,
    handlers: {
      [CRM_UPSERT]: crmUpsertHandler({
        connector: options.connector,
        store,
        clock: options.clock,
        ...(options.shared ? { shared: options.shared } : {}),
        ...(options.shared && options.lookahead ? { lookahead: new SharedLookahead({ store, target, cache: options.shared }) } : {}),
      }),
    },
    targets: { [target]: { concurrency: 1, batchSize: options.batchSize ?? 10, requestsPerInterval: 1_000, intervalMs: 1_000 } },
    logger: silentLogger(),
  });
  return {
    pc,
    client,
    store,
    target,
    pull: () =>
      pullChangedLeads({
        account: ACCOUNT,
        client,
        store,
        clock: options.clock,
        logger: silentLogger(),
        onStored: async (repos, stored, now, timeline) => {
          await enqueueCrmUpserts(repos, { pair: options.pair, crm: options.crm, mapping, maxAttempts: 5 }, stored, now, { timeline });
        },
      }),
    drain: async () => {
      let ran = 0;
      for (let n = await worker.runOnce(target); n > 0; n = await worker.runOnce(target)) ran += n;
      return ran;
    },
    close: async () => {
      await store.close();
      await database.drop();
      await pc.close();
    },
  };
}
