#!/usr/bin/env node
// Regenerates the field tables in docs/*.md from the shipped mapping files: each block between
// <!-- fields: mappings/X.yaml --> and <!-- /fields --> is the output of `cosell-sync mapping fields`.
// Run with `npm run docs` after editing a mapping; a test fails while the docs are stale.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fieldTables, loadMappingFile } from "../dist/src/mapping/index.js";

const BLOCK = /<!-- fields: (\S+) -->\n[\s\S]*?<!-- \/fields -->/g;
let changed = 0;
for (const name of readdirSync("docs").filter((file) => file.endsWith(".md"))) {
  const path = join("docs", name);
  const text = readFileSync(path, "utf8");
  let next = text;
  for (const match of text.matchAll(BLOCK)) {
    const { mapping } = await loadMappingFile(match[1], process.cwd());
    next = next.replace(match[0], `<!-- fields: ${match[1]} -->\n${fieldTables(mapping)}<!-- /fields -->`);
  }
  if (next !== text) {
    writeFileSync(path, next);
    changed += 1;
    console.log(`updated ${path}`);
  }
}
console.log(changed === 0 ? "docs are up to date" : `${changed} file(s) updated`);
