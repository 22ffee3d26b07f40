import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Directories that emulate other services: their codes are Salesforce's, Graph's…, not ours. */
const FOREIGN = [/^connectors\/[^/]+\/sandbox\//, /^src\/sandbox\/(partner-center|graph|teams)\//];

/** Where a code is born: thrown, answered over HTTP, recorded, or listed in a code union. */
const CONTEXTS = [
  /new\s+[A-Za-z]*Error\(\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g,
  /\bcode:\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g,
  /\berror:\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g,
  /\blast_error_code:\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g,
  /toCosellError\([^,]+,\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"\)/g,
  /^\s*\|\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/gm,
  /fallbackCode = "([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g,
  // A code picked by a condition: `invalid ? "A_CODE" : "B_CODE"`.
  /\?\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"\s*:/g,
  /\?\s*"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"\s*:\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g,
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Every error code the program can emit, with the files it comes from. */
export function collectErrorCodes(): Map<string, string[]> {
  const codes = new Map<string, string[]>();
  for (const file of [...files("src"), ...files("connectors")]) {
    const path = file.replace(/\\/g, "/");
    if (FOREIGN.some((pattern) => pattern.test(path))) continue;
    const text = readFileSync(file, "utf8");
    for (const context of CONTEXTS) {
      for (const match of text.matchAll(context)) {
        const code = match[1] as string;
        codes.set(code, [...new Set([...(codes.get(code) ?? []), path])]);
      }
    }
  }
  return codes;
}
