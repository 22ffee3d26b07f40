import { describe, expect, it } from "vitest";
import { groupBy } from "../../src/shared/group-by.js";

describe("groupBy", () => {
  it("groups by key in the order met, each item or its mapped value", () => {
    const links = [
      { lead: 2, id: "a" },
      { lead: 1, id: "b" },
      { lead: 2, id: "c" },
    ];
    expect([...groupBy(links, (l) => l.lead)]).toEqual([
      [2, [links[0], links[2]]],
      [1, [links[1]]],
    ]);
    expect(groupBy(links, (l) => l.lead, (l) => l.id)).toEqual(new Map([[2, ["a", "c"]], [1, ["b"]]]));
    expect(groupBy([], (x: number) => x).size).toBe(0);
  });
});
