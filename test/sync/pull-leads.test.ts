import { afterEach, beforeEach, expect, it } from "vitest";
import { createSandboxPki } from "../../src/auth/sandbox/pki.js";
import { silentLogger } from "../../src/log/logger.js";
import type { ReferralClient } from "../../src/partner-center/client.js";
import type { PartnerCenterSandbox } from "../../src/sandbox/partner-center/sandbox.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { Store } from "../../src/store/index.js";
import type { LeadCursor, PullLeadsOptions } from "../../src/sync/pull-leads.js";
import { leadCursorKey, pullChangedLeads } from "../../src/sync/pull-leads.js";
import { startSandboxWithClient } from "../helpers/pc-sandbox.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase, describeEachStore, openMigratedStore } from "../helpers/stores.js";

const ACCOUNT = "contoso";
const clock = new ManualClock(new Date());
const pki = createSandboxPki();
let sandbox: PartnerCenterSandbox;
let client: ReferralClient;

describeEachStore("pulling leads", (kind) => {
  let database: TestDatabase;
  let store: Store;
  const pull = (extra: Partial<PullLeadsOptions> = {}) => pullChangedLeads({ account: ACCOUNT, client, store, clock, logger: silentLogger(), ...extra });
  const listCalls = () => sandbox.stats.byRoute["GET /referrals"] ?? 0;

  beforeEach(async () => {
    ({ sandbox, client } = await startSandboxWithClient({ clock, pki, seed: "pull", leads: 1000 }));
    database = await createTestDatabase(kind);
    store = await openMigratedStore(database);
  });

  afterEach(async () => {
    await store.close();
    await database.drop();
    await sandbox.close();
  });

  it("backfills every lead page by page, checkpointing the cursor on the last record", async () => {
    const pages: number[] = [];
    const report = await pull({ onPage: (r) => pages.push(r.received) });
    expect(report).toMatchObject({ pages: 10, received: 1000, created: 1000, updated: 0, unchanged: 0 });
    expect(pages).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    const newest = [...sandbox.referrals.all()].sort((a, b) => (a.updatedDateTime ?? "").localeCompare(b.updatedDateTime ?? "") || a.id.localeCompare(b.id)).pop();
    const cursor = await store.repos.cursors.get<LeadCursor>(leadCursorKey(ACCOUNT).scope, "changes");
    expect(cursor?.value).toEqual({ updatedAt: newest?.updatedDateTime, id: newest?.id });
    expect(await store.repos.leads.countOpen()).toBe(1000);
  });

  it("a second pull re-reads only the overlap window and writes nothing", async () => {
    await pull();
    const calls = listCalls();
    const again = await pull();
    expect(listCalls() - calls).toBe(1);
    expect(again.created + again.updated).toBe(0);
    expect(again.received).toBeLessThan(50);
  });

  it("a crash mid-pull resumes from the last durable page without re-reading finished pages", async () => {
    let transactions = 0;
    const crashing: Pick<Store, "repos" | "transaction"> = {
      repos: store.repos,
      transaction: (work) =>
        store.transaction(async (repos) => {
          const result = await work(repos);
          transactions += 1;
          // The fourth page's rows are written but the process dies before the commit.
          if (transactions === 4) throw new Error("killed before commit");
          return result;
        }),
    };
    await expect(pull({ store: crashing })).rejects.toThrow("killed before commit");
    expect(await store.repos.leads.countOpen()).toBe(300);

    const callsBefore = listCalls();
    const resumed = await pull();
    const pagesRead = listCalls() - callsBefore;
    expect(pagesRead).toBeLessThanOrEqual(8);
    expect(resumed.created).toBe(700);
    expect(resumed.received).toBeLessThan(700 + 50);
    expect(await store.repos.leads.countOpen()).toBe(1000);
  });

  it("picks up a lead that changed after the last pull and records it on the timeline", async () => {
    await pull();
    const [target] = sandbox.referrals.all();
    clock.advance(60_000);
    sandbox.referrals.touch(target?.id ?? "", (r) => {
      r.details = { ...r.details, notes: "Customer asked for a call next week" };
    });
    const report = await pull();
    expect(report.updated).toBe(1);
    const lead = await store.repos.leads.findByReferralId(ACCOUNT, target?.id ?? "");
    expect((lead?.raw as { details?: { notes?: string } }).details?.notes).toBe("Customer asked for a call next week");
    const timeline = await store.repos.events.timeline(lead?.id ?? 0);
    expect(timeline.map((e) => e.kind)).toEqual(["lead-changed", "lead-received"]);
  });

  it("skips referrals of other programs", async () => {
    const [other] = sandbox.generate(1);
    sandbox.referrals.touch(other?.id ?? "", () => undefined);
    const raw = sandbox.referrals.get(other?.id ?? "");
    sandbox.referrals.insert([{ ...raw, id: `${raw.id}-csp`, referralProgram: "CoSell" }], { announce: false });
    const report = await pull();
    expect(report.skipped).toBeGreaterThanOrEqual(1);
    expect(await store.repos.leads.findByReferralId(ACCOUNT, `${raw.id}-csp`)).toBeUndefined();
  });
});
