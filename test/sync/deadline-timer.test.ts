import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/logger.js";
import { ManualClock } from "../../src/shared/clock.js";
import { DeadlineTimer, nextDueAt } from "../../src/sync/deadline-timer.js";
import type { TwoWayRig } from "../helpers/two-way.js";
import { startTwoWay } from "../helpers/two-way.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LEAD_TIMES = [7 * DAY, 3 * DAY, DAY, 4 * HOUR];

/** The exact timer: the sweep runs at the nearest deadline's instant, not at the next minute. */
describe("deadline timer", () => {
  let clock: ManualClock;
  let rig: TwoWayRig;
  let armed: Array<{ fire: () => void; delayMs: number; cancelled: boolean }>;
  let sweeps: number;

  beforeEach(async () => {
    clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay("salesforce", clock);
    await rig.pass();
    armed = [];
    sweeps = 0;
  });

  afterEach(async () => {
    await rig.close();
  });

  function timer(leadTimesMs: number[], horizonMs?: number): DeadlineTimer {
    const created: DeadlineTimer = new DeadlineTimer({
      store: rig.daemon.store,
      clock,
      logger: silentLogger(),
      leadTimesMs,
      sweep: async () => {
        await rig.daemon.sweepNow();
        await created.rearm();
        sweeps += 1;
      },
      ...(horizonMs !== undefined ? { horizonMs } : {}),
      setTimer: (fire, delayMs) => {
        const entry = { fire, delayMs, cancelled: false };
        armed.push(entry);
        return () => {
          entry.cancelled = true;
        };
      },
    });
    return created;
  }

  async function openDeadlines(): Promise<Array<{ id: number; at: Date }>> {
    const leads = await rig.daemon.store.repos.leads.list({ limit: 1000 });
    return leads.flatMap((lead) => (lead.state === "new" && lead.acceptBy ? [{ id: lead.id, at: lead.acceptBy }] : lead.actBy && ["accepted", "qualify", "evaluate"].includes(lead.state) ? [{ id: lead.id, at: lead.actBy }] : []));
  }

  it("finds the next instant the sweep has work: the nearest deadline or reminder time still ahead", async () => {
    const deadlines = await openDeadlines();
    expect(deadlines.length).toBeGreaterThan(3);
    for (const offset of [0, 2 * DAY, 5 * DAY + 7 * HOUR, 11 * DAY]) {
      const now = new Date(clock.now().getTime() + offset);
      const instants = deadlines.flatMap(({ at }) => [at.getTime(), ...LEAD_TIMES.map((lead) => at.getTime() - lead)]).filter((t) => t > now.getTime());
      const expected = instants.length > 0 ? Math.min(...instants) : undefined;
      expect((await nextDueAt(rig.daemon.store, LEAD_TIMES, now))?.getTime()).toBe(expected);
    }
  });

  it("arms one timer for the nearest deadline and, fired at that instant, expires the lead then", async () => {
    const [first] = (await openDeadlines()).sort((a, b) => a.at.getTime() - b.at.getTime());
    if (!first) throw new Error("no open lead");
    clock.set(first.at.getTime() - 40_000);
    const deadlines = timer([]);
    await deadlines.rearm();
    expect(armed).toHaveLength(1);
    expect(armed[0]?.delayMs).toBe(40_000);
    expect(deadlines.armedFor?.getTime()).toBe(first.at.getTime());

    // Re-arming replaces the pending timer rather than adding a second.
    await deadlines.rearm();
    expect(armed.filter((entry) => !entry.cancelled)).toHaveLength(1);

    clock.advance(40_000);
    armed.at(-1)?.fire();
    await expect.poll(() => sweeps).toBe(1);
    const closed = await rig.daemon.store.repos.leads.findById(first.id);
    expect([closed?.state, closed?.closedLocallyAt?.getTime()]).toEqual(["expired", first.at.getTime()]);
    // After the sweep the timer waits for the next instant, if one falls within its hour.
    const next = await nextDueAt(rig.daemon.store, [], clock.now());
    expect(deadlines.armedFor?.getTime()).toBe(next && next.getTime() - clock.now().getTime() <= HOUR ? next.getTime() : undefined);
  });

  it("leaves instants beyond its horizon to the scheduled sweep, and stops cleanly", async () => {
    const deadlines = timer(LEAD_TIMES, 60_000);
    await deadlines.rearm();
    expect(armed).toHaveLength(0);
    const [first] = (await openDeadlines()).sort((a, b) => a.at.getTime() - b.at.getTime());
    clock.set((first?.at.getTime() ?? 0) - 30_000);
    await deadlines.rearm();
    expect(armed).toHaveLength(1);
    deadlines.stop();
    expect(armed[0]?.cancelled).toBe(true);
    await deadlines.rearm();
    expect(armed).toHaveLength(1);
  });
});
