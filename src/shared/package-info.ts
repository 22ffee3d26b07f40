import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface PackageInfo {
  name: string;
  version: string;
  description: string;
}

let cached: PackageInfo | undefined;

/** Reads our package.json, found by walking up from this file (works from src/ and from dist/). */
export function packageInfo(): PackageInfo {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const parsed = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Partial<PackageInfo>;
      if (parsed.name === "cosell-sync") {
        cached = { name: parsed.name, version: parsed.version ?? "0.0.0", description: parsed.description ?? "" };
        return cached;
      }
    } catch {
      // not here; keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) return { name: "cosell-sync", version: "0.0.0", description: "" };
    dir = parent;
  }
}
