import { describe, expect, it } from "vitest";
import { WriteTurns } from "../../src/store/write-turns.js";

/** A transaction that holds its turn until released, logging when it starts. */
function held(log: string[], name: string) {
  let release: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { work: async () => (log.push(name), await done, name), release: () => release() };
}

describe("write turns at a single-writer store", () => {
  it("runs one transaction at a time, and lets a bulk one wait while others are queued", async () => {
    const turns = new WriteTurns();
    const log: string[] = [];
    const first = held(log, "lease");
    const bulk = held(log, "pull pages");
    const settle = held(log, "settle");
    const running = [turns.take(false, first.work), turns.take(true, bulk.work), turns.take(false, settle.work)];
    await Promise.resolve();
    expect(log).toEqual(["lease"]);
    first.release();
    // The settle queued after the pull goes before it; the pull follows when nobody else waits.
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(["lease", "settle"]);
    settle.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(["lease", "settle", "pull pages"]);
    bulk.release();
    expect(await Promise.all(running)).toEqual(["lease", "pull pages", "settle"]);
  });

  it("passes the turn on when a transaction fails", async () => {
    const turns = new WriteTurns();
    const failing = turns.take(false, () => Promise.reject(new Error("constraint failed")));
    const next = turns.take(true, () => Promise.resolve("stored"));
    await expect(failing).rejects.toThrow("constraint failed");
    expect(await next).toBe("stored");
  });
});
