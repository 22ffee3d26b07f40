import { describe, expect, it } from "vitest";
import { generateLeads } from "../../src/sandbox/partner-center/generator.js";
import { ReferralStore } from "../../src/sandbox/partner-center/referral-store.js";
import { ManualClock } from "../../src/shared/clock.js";
import { SeededRandom } from "../../src/shared/seeded-random.js";

/** Every page of a listing, following skip tokens; `between` runs after each page (writes while paging). */
function listAll(store: ReferralStore, filter: string | null, orderby: string | null, between: (listed: string[]) => void = () => {}): string[] {
  const ids: string[] = [];
  let skiptoken: string | null = null;
  for (;;) {
    const page = store.list({ filter, orderby, top: "50", skiptoken });
    ids.push(...page.value.map((r) => r.id));
    between(ids);
    if (!page.skiptoken) return ids;
    skiptoken = page.skiptoken;
  }
}

function naive(store: ReferralStore, field: "updatedDateTime" | "createdDateTime", keep: (r: { status?: string }) => boolean, descending = false): string[] {
  const sign = descending ? -1 : 1;
  return store
    .all()
    .filter(keep)
    .sort((a, b) => ((Date.parse(String(a[field])) || 0) - (Date.parse(String(b[field])) || 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) * sign)
    .map((r) => r.id);
}

describe("the sandbox's referral feed", () => {
  it("lists in (timestamp, id) order after writes, as a fresh sort would, whatever order writes come in", () => {
    const clock = new ManualClock("2026-11-01T00:00:00Z");
    const random = new SeededRandom("feed");
    const store = new ReferralStore(clock, new SeededRandom("ids"));
    store.insert(generateLeads({ count: 400, seed: 7, now: clock.now() }), { announce: false });
    for (let round = 0; round < 20; round += 1) {
      expect(listAll(store, null, "updatedDateTime asc")).toEqual(naive(store, "updatedDateTime", () => true));
      expect(listAll(store, "status eq 'New'", "updatedDateTime desc")).toEqual(naive(store, "updatedDateTime", (r) => r.status === "New", true));
      const ids = store.all().map((r) => r.id);
      for (let n = 0; n < 15; n += 1) {
        // Some writes share a timestamp (ties broken by id), some move the clock.
        if (random.chance(0.5)) clock.advance(random.int(1, 5_000));
        const id = random.pick(ids);
        if (random.chance(0.3)) store.patch(id, [{ op: "replace", path: "/status", value: "Active" }, { op: "replace", path: "/substatus", value: "Accepted" }, { op: "add", path: "/team/-", value: { firstName: "A", lastName: "B", email: "a@b.example" } }], "*");
        else store.touch(id, (r) => void (r.name = `${r.name ?? ""}!`));
      }
      if (random.chance(0.3)) store.insert(generateLeads({ count: 5, seed: round, now: clock.now(), idPrefix: `r${round}-` }), { announce: false });
    }
  });

  it("pages a listing to its end while records are written back (each written record moves to the end)", () => {
    const clock = new ManualClock("2026-11-01T00:00:00Z");
    const store = new ReferralStore(clock, new SeededRandom("ids"));
    store.insert(generateLeads({ count: 300, seed: 3, now: clock.now() }), { announce: false });
    const touched: string[] = [];
    const ids = listAll(store, null, "updatedDateTime asc", (listed) => {
      clock.advance(1_000);
      // The daemon writing back a lead it has just read: the record reappears after the cursor.
      const id = listed[touched.length];
      if (id) {
        store.touch(id, (r) => void (r.name = `${r.name ?? ""} (written back)`));
        touched.push(id);
      }
    });
    expect(new Set(ids)).toEqual(new Set(store.all().map((r) => r.id)));
    // Nothing skipped, and every written-back record listed once before and once after its write.
    // (The write after the last page comes too late to be listed.)
    const relisted = touched.slice(0, -1);
    expect(relisted.length).toBeGreaterThan(3);
    expect(ids.length).toBe(300 + relisted.length);
    for (const id of relisted) expect(ids.filter((x) => x === id)).toHaveLength(2);
  });
});
