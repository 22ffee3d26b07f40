import { describe, expect, it } from "vitest";
import type { TransformStep } from "../../src/mapping/schema.js";
import { compilePipeline, compileStep, compileTemplate } from "../../src/mapping/transforms.js";
import { compileGetter } from "../../src/mapping/paths.js";

const run = (step: TransformStep, value: unknown, tables: Record<string, Record<string, unknown>> = {}) => compileStep(step, tables)(value);

describe("transforms", () => {
  it("map: value maps by the input's text, unknown values give nothing", () => {
    expect(run({ map: { new: "Open", "1": "one" } }, "new")).toBe("Open");
    expect(run({ map: { "1": "one" } }, 1)).toBe("one");
    expect(run({ map: { new: "Open" } }, "other")).toBeUndefined();
    expect(run({ map: { toString: "x" } }, "hasOwnProperty")).toBeUndefined();
  });

  it("date: formats in UTC and in a time zone, and to epoch milliseconds", () => {
    const at = new Date("2026-03-29T23:30:00Z");
    expect(run({ date: "iso" }, at)).toBe("2026-03-29T23:30:00.000Z");
    expect(run({ date: "date" }, at)).toBe("2026-03-29");
    expect(run({ date: "date", timeZone: "Europe/Paris" }, at)).toBe("2026-03-30");
    expect(run({ date: "datetime", timeZone: "Europe/Paris" }, at)).toBe("2026-03-30T01:30:00+02:00");
    expect(run({ date: "datetime", timeZone: "America/New_York" }, "2026-01-15T12:00:00Z")).toBe("2026-01-15T07:00:00-05:00");
    expect(run({ date: "datetime" }, at)).toBe("2026-03-29T23:30:00+00:00");
    expect(run({ date: "epoch-ms" }, "2026-03-29T23:30:00Z")).toBe(at.getTime());
    expect(run({ date: "epoch-ms-date", timeZone: "Asia/Tokyo" }, at)).toBe(Date.parse("2026-03-30T00:00:00Z"));
    expect(run({ date: "iso" }, "not a date")).toBeUndefined();
  });

  it("template: fills placeholders and drops missing ones", () => {
    const paths = ["lead.a", "lead.b"];
    const fill = compileTemplate("{lead.a} – {lead.b}!", new Map(paths.map((p) => [p, compileGetter(p)])));
    expect(fill({ lead: { a: "Fabrikam", b: 3 } })).toBe("Fabrikam – 3!");
    expect(fill({ lead: { a: "Fabrikam" } })).toBe("Fabrikam – !");
    expect(compileTemplate("{lead.a}", new Map([["lead.a", compileGetter("lead.a")]]))({ lead: {} })).toBeUndefined();
  });

  it("splitName, truncate and case", () => {
    expect(run({ splitName: "first" }, "Mary Ann  van Dyke")).toBe("Mary Ann van");
    expect(run({ splitName: "last" }, "Mary Ann van Dyke")).toBe("Dyke");
    expect(run({ splitName: "last" }, "Cher")).toBe("Cher");
    expect(run({ splitName: "first" }, "Cher")).toBeUndefined();
    expect(run({ truncate: 5 }, "Fabrikam")).toBe("Fabr…");
    expect(run({ truncate: 8 }, "Fabrikam")).toBe("Fabrikam");
    expect(run({ truncate: 3 }, "🎉🎉🎉🎉")).toBe("🎉🎉…");
    expect(run({ case: "upper" }, "gb")).toBe("GB");
    expect(run({ case: "title" }, "jean-luc o'neil")).toBe("Jean-Luc O'Neil");
  });

  it("round, currencyCode, parseNumber and parseDate", () => {
    expect(run({ round: 2 }, "1,250.555")).toBe(1250.56);
    expect(run({ round: 0 }, 99.5)).toBe(100);
    expect(run({ round: 2 }, "lots")).toBeUndefined();
    expect(run({ currencyCode: true }, " eur ")).toBe("EUR");
    expect(run({ currencyCode: true }, "euro")).toBeUndefined();
    expect(run({ parseNumber: true }, "12 500")).toBe(12500);
    expect(run({ parseDate: true }, "1767225600000")).toEqual(new Date("2026-01-01T00:00:00Z"));
    expect(run({ parseDate: true }, "2026-02-01")).toEqual(new Date("2026-02-01T00:00:00Z"));
  });

  it("lookup, join, pluck, first, trim and equals", () => {
    expect(run({ lookup: "sizes" }, "10to50employees", { sizes: { "10to50employees": 50 } })).toBe(50);
    expect(run({ lookup: "sizes" }, "huge", { sizes: {} })).toBeUndefined();
    expect(run({ join: ", " }, ["Azure", "", "M365"])).toBe("Azure, M365");
    expect(run({ join: ", " }, [])).toBeUndefined();
    expect(run({ pluck: "email" }, [{ email: "a@x" }, { name: "no email" }, { email: "b@x" }])).toEqual(["a@x", "b@x"]);
    expect(run({ first: true }, ["a", "b"])).toBe("a");
    expect(run({ trim: true }, "  x  ")).toBe("x");
    expect(run({ trim: true }, "   ")).toBeUndefined();
    expect(run({ equals: "won" }, "won")).toBe(true);
    expect(run({ equals: 1 }, "1")).toBe(true);
    expect(run({ equals: "won" }, "lost")).toBe(false);
  });

  it("runs a pipeline in order and stops at the first empty result", () => {
    const pipeline = compilePipeline([{ pluck: "email" }, { join: "; " }, { truncate: 12 }], {});
    expect(pipeline([{ email: "ada@partner.example" }, { email: "bo@x" }])).toBe("ada@partner…");
    expect(compilePipeline([{ map: { a: "b" } }, { case: "upper" }], {})("z")).toBeUndefined();
  });
});
