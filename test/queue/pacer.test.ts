import { describe, expect, it } from "vitest";
import { Pacer } from "../../src/queue/pacer.js";
import { ManualClock } from "../../src/shared/clock.js";

function pacer(settings = {}) {
  const clock = new ManualClock("2026-06-01T00:00:00Z");
  return { clock, pacer: new Pacer({ requestsPerInterval: 3, intervalMs: 10_000, breakerThreshold: 2, breakerPauseMs: 30_000, ...settings }, clock) };
}

describe("pacer", () => {
  it("lets a window's worth of requests through, then waits for the oldest to leave the window (and 1% more)", () => {
    const { clock, pacer: p } = pacer();
    for (let i = 0; i < 3; i += 1) {
      expect(p.waitMs()).toBe(0);
      p.take();
      clock.advance(1_000);
    }
    // The service counts a call from its arrival, a little after we sent it: 10 s + 100 ms.
    expect(p.waitMs()).toBe(7_100);
    clock.advance(7_099);
    expect(p.waitMs()).toBe(1);
    clock.advance(1);
    expect(p.waitMs()).toBe(0);
  });

  it("counts a call from its answer once the client says so: a slow call holds its slot longer", () => {
    const { clock, pacer: p } = pacer();
    const answered = p.take();
    p.take();
    p.take();
    // The first call took 4 s to answer: the service may have counted it as late as that.
    clock.advance(4_000);
    answered();
    clock.advance(6_100);
    // The other two left the window; the slow one stays until 10.1 s after its answer.
    expect(p.waitMs()).toBe(0);
    p.take();
    p.take();
    expect(p.waitMs()).toBe(4_000);
    // Said twice, it counts once: the slot does not move again.
    clock.advance(1_000);
    answered();
    expect(p.waitMs()).toBe(3_000);
  });

  it("honours Retry-After and an exhausted window quota", () => {
    const { clock, pacer: p } = pacer();
    p.observe({ retryAfterMs: 57_000 });
    expect(p.waitMs()).toBe(57_000);
    expect(p.snapshot()).toMatchObject({ reason: "Retry-After" });
    clock.advance(57_000);
    p.observe({ remaining: 0, resetAt: new Date(clock.now().getTime() + 4_000) });
    expect(p.waitMs()).toBe(4_000);
  });

  it("stops early when the daily quota is nearly used up", () => {
    const { pacer: p } = pacer();
    p.observe({ dailyUsed: 14_000, dailyLimit: 15_000 });
    expect(p.waitMs()).toBe(0);
    p.observe({ dailyUsed: 14_800, dailyLimit: 15_000 });
    expect(p.waitMs()).toBe(60 * 60_000);
    expect(p.snapshot()).toMatchObject({ dailyUsed: 14_800, dailyLimit: 15_000, reason: "daily quota nearly used up" });
  });

  it("opens the circuit after repeated unavailability, half-opens for one trial, and closes on success", () => {
    const { clock, pacer: p } = pacer();
    p.unavailable();
    expect(p.snapshot().breaker).toBe("closed");
    p.unavailable();
    expect(p.snapshot().breaker).toBe("open");
    expect(p.waitMs()).toBe(30_000);
    clock.advance(30_000);
    expect(p.waitMs()).toBe(0);
    expect(p.snapshot().breaker).toBe("half-open");
    p.take();
    expect(p.waitMs()).toBe(30_000);
    p.succeeded();
    expect(p.snapshot().breaker).toBe("closed");
    expect(p.waitMs()).toBe(0);
  });

  it("re-opens when the half-open trial fails", () => {
    const { clock, pacer: p } = pacer();
    p.unavailable();
    p.unavailable();
    clock.advance(30_000);
    p.waitMs();
    p.take();
    p.unavailable();
    expect(p.snapshot().breaker).toBe("open");
    expect(p.waitMs()).toBe(30_000);
  });

  it("half-open, lets the next trial go once the last one is answered, and gives up on one never answered after the pause", () => {
    const { clock, pacer: p } = pacer();
    p.unavailable();
    p.unavailable();
    clock.advance(30_000);
    expect(p.waitMs()).toBe(0);
    const first = p.take();
    expect(p.waitMs()).toBe(30_000);
    clock.advance(500);
    // Answered: a batch's next call goes as the next trial; the verdict comes with the job's outcome.
    first();
    expect(p.waitMs()).toBe(0);
    expect(p.snapshot().breaker).toBe("half-open");
    const second = p.take();
    expect(p.waitMs()).toBe(30_000);
    // An older trial's answer, said again, frees nothing.
    first();
    expect(p.waitMs()).toBe(30_000);
    // A trial whose answer never comes (a charge, a hung call) holds nobody for good.
    clock.advance(29_999);
    expect(p.waitMs()).toBe(1);
    clock.advance(1);
    expect(p.waitMs()).toBe(0);
    second();
    p.succeeded();
    expect(p.snapshot().breaker).toBe("closed");
  });
});
