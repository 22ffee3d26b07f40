import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fieldTables, loadMappingFile } from "../../src/mapping/index.js";
import { collectErrorCodes } from "../helpers/error-codes.js";

describe("docs", () => {
  it("the troubleshooting page lists every error code the program can emit, and no code that no longer exists", () => {
    const codes = collectErrorCodes();
    expect(codes.size).toBeGreaterThan(100);
    const page = readFileSync("docs/troubleshooting.md", "utf8");
    const listed = new Set([...page.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1] as string));
    const missing = [...codes.keys()].filter((code) => !listed.has(code));
    expect(missing, `add these to docs/troubleshooting.md: ${missing.join(", ")}`).toEqual([]);
    const stale = [...listed].filter((code) => !codes.has(code));
    expect(stale, `no longer in the source: ${stale.join(", ")}`).toEqual([]);
  });

  it("the set-up pages' field tables match the shipped mappings (npm run docs regenerates them)", async () => {
    const blocks = readdirSync("docs")
      .filter((file) => file.endsWith(".md"))
      .flatMap((file) => [...readFileSync(join("docs", file), "utf8").matchAll(/<!-- fields: (\S+) -->\n([\s\S]*?)<!-- \/fields -->/g)].map((m) => ({ file, mapping: m[1] as string, table: m[2] as string })));
    expect(blocks.map((b) => b.mapping).sort()).toEqual(["mappings/dynamics.yaml", "mappings/hubspot.yaml", "mappings/salesforce.yaml"]);
    for (const block of blocks) {
      const { mapping } = await loadMappingFile(block.mapping, process.cwd());
      expect(block.table, `${block.file} is stale: run npm run docs`).toBe(fieldTables(mapping));
    }
  });

  it("every local link between the docs resolves", () => {
    for (const file of readdirSync("docs").filter((f) => f.endsWith(".md"))) {
      const text = readFileSync(join("docs", file), "utf8");
      for (const [, target] of text.matchAll(/\]\(([a-z-]+\.md)\)/g)) expect(readdirSync("docs"), `${file} links ${target}`).toContain(target);
    }
  });
});
