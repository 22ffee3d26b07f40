import { expect, it } from "vitest";
import { countCall, metered } from "../../src/shared/call-meter.js";

const tick = () => new Promise((resolve) => setImmediate(resolve));

it("counts each piece of work's calls apart, however they interleave", async () => {
  const work = async (calls: number) => {
    for (let i = 0; i < calls; i += 1) {
      await tick();
      countCall();
    }
    return calls;
  };
  const [a, b, c] = await Promise.all([metered(() => work(3)), metered(() => work(5)), metered(() => work(0))]);
  expect([a, b, c]).toEqual([
    { value: 3, calls: 3 },
    { value: 5, calls: 5 },
    { value: 0, calls: 0 },
  ]);
  // Outside any metered work a call is counted nowhere (and does not throw).
  expect(() => countCall()).not.toThrow();
});

it("counts calls made inside an async generator the work consumes", async () => {
  async function* pages() {
    for (let i = 0; i < 4; i += 1) {
      await tick();
      countCall();
      yield i;
    }
  }
  const { calls } = await metered(async () => {
    for await (const _page of pages()) await tick();
  });
  expect(calls).toBe(4);
});
