import { afterEach, beforeEach, expect, it } from "vitest";
import { createSandboxPki } from "../../src/auth/sandbox/pki.js";
import { silentLogger } from "../../src/log/logger.js";
import type { ReferralClient } from "../../src/partner-center/client.js";
import type { WireReferral } from "../../src/partner-center/wire.js";
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
    await expect(pull({ store: crashing, pagesPerCommit: 1 })).rejects.toThrow("killed before commit");
    expect(await store.repos.leads.countOpen()).toBe(300);

    const callsBefore = listCalls();
    const resumed = await pull();
    const pagesRead = listCalls() - callsBefore;
    expect(pagesRead).toBeLessThanOrEqual(8);
    expect(resumed.created).toBe(700);
    expect(resumed.received).toBeLessThan(700 + 50);
    expect(await store.repos.leads.countOpen()).toBe(1000);
  });

  it("stores the pages that queued behind a busy store in one transaction, a repeated referral after its first copy", async () => {
    const feed = sandbox.referrals.all().sort((x, y) => (x.updatedDateTime ?? "").localeCompare(y.updatedDateTime ?? ""));
    const [first, a, b, c, d] = feed as WireReferral[];
    // `a` changes while the feed is read: it comes again at the end, after the last record.
    const changed = { ...a, eTag: '"a2"', updatedDateTime: new Date(new Date(d?.updatedDateTime ?? 0).getTime() + 1000).toISOString(), name: "Renamed while paging" } as WireReferral;
    // Pages that are there at once, as a backfill's are while the store works on the first.
    const memory = {
      listChanged: async function* () {
        yield { items: [first], nextLink: "2" };
        yield { items: [a, b], nextLink: "3" };
        yield { items: [c], nextLink: "4" };
        yield { items: [d, changed] };
      },
    } as unknown as ReferralClient;
    let transactions = 0;
    const counting: Pick<Store, "repos" | "transaction"> = {
      repos: store.repos,
      transaction: (work) => {
        transactions += 1;
        return store.transaction(work);
      },
    };
    const told: Array<[number, boolean]> = [];
    const report = await pull({ client: memory, store: counting, pagesPerCommit: 4, onPage: (r, more) => told.push([r.pages, more]) });
    expect(transactions).toBe(2);
    expect(report).toMatchObject({ pages: 4, received: 6, created: 5, updated: 1 });
    expect(told).toEqual([[1, true], [2, true], [3, true], [4, false]]);
    const lead = await store.repos.leads.findByReferralId(ACCOUNT, a?.id ?? "");
    expect([lead?.name, lead?.eTag]).toEqual(["Renamed while paging", '"a2"']);
    expect((await store.repos.events.timeline(lead?.id ?? 0)).map((e) => e.kind)).toEqual(["lead-changed", "lead-received"]);
    const cursor = await store.repos.cursors.get<LeadCursor>(leadCursorKey(ACCOUNT).scope, "changes");
    expect(cursor?.value).toEqual({ updatedAt: changed.updatedDateTime, id: a?.id });
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
