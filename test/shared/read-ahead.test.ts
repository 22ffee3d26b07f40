import { describe, expect, it } from "vitest";
import { readAheadGroups } from "../../src/shared/read-ahead.js";

/** A source that logs when each item is asked for and handed out. */
function source(items: number[], log: string[], failAt?: number) {
  return {
    closed: false,
    async *[Symbol.asyncIterator]() {
      try {
        for (const item of items) {
          log.push(`fetch ${item}`);
          await Promise.resolve();
          if (item === failAt) throw new Error(`page ${item} failed`);
          yield item;
        }
      } finally {
        this.closed = true;
      }
    },
  };
}

describe("readAheadGroups", () => {
  it("asks for the next item while the consumer still works on the current one, in order", async () => {
    const log: string[] = [];
    const seen: number[] = [];
    for await (const group of readAheadGroups(source([1, 2, 3], log))) {
      await new Promise((resolve) => setImmediate(resolve));
      log.push(`stored ${group.join()}`);
      seen.push(...group);
    }
    expect(seen).toEqual([1, 2, 3]);
    // Page 2 is fetched before page 1 is stored: the round trip overlaps the store.
    expect(log.indexOf("fetch 2")).toBeLessThan(log.indexOf("stored 1"));
    expect(log.indexOf("fetch 3")).toBeLessThan(log.indexOf("stored 2"));
  });

  it("hands out together the items that arrived while the consumer was busy, up to its depth", async () => {
    const log: string[] = [];
    const groups: number[][] = [];
    for await (const group of readAheadGroups(source([1, 2, 3, 4, 5, 6, 7], log), 3)) {
      groups.push(group);
      // A slow store: several turns of the event loop, in which the source answers several times.
      for (let turn = 0; turn < 10; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(groups.flat()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(groups[0]).toEqual([1]);
    // Never more waiting than the depth: three behind the first, then the rest.
    expect(groups.slice(1)).toEqual([[2, 3, 4], [5, 6, 7]]);
  });

  it("raises a read-ahead failure where its item would be consumed, after the items before it", async () => {
    const log: string[] = [];
    const seen: number[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const run = async () => {
        for await (const group of readAheadGroups(source([1, 2, 3], log, 2), 3)) {
          // A turn of the event loop: the read-ahead of page 2 fails meanwhile.
          await new Promise((resolve) => setImmediate(resolve));
          seen.push(...group);
        }
      };
      await expect(run()).rejects.toThrow("page 2 failed");
      // Unhandled rejections are reported after the microtasks drain.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(seen).toEqual([1]);
    expect(unhandled).toEqual([]);
  });

  it("closes the source when the consumer stops early", async () => {
    const log: string[] = [];
    const items = source([1, 2, 3, 4], log);
    for await (const group of readAheadGroups(items)) if (group.includes(2)) break;
    expect(items.closed).toBe(true);
    expect(log).not.toContain("fetch 4");
  });
});
