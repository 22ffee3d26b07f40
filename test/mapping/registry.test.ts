import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ReloadOutcome } from "../../src/mapping/registry.js";
import { MappingRegistry } from "../../src/mapping/registry.js";
import { captureLogger } from "../helpers/log-capture.js";

const GOOD = readFileSync("mappings/salesforce.yaml", "utf8");

function workspace() {
  const dir = mkdtempSync(join(tmpdir(), "cosell-mapping-"));
  writeFileSync(join(dir, "m.yaml"), GOOD);
  const { logger, lines } = captureLogger();
  return { dir, registry: new MappingRegistry(logger, dir), lines };
}

describe("mapping registry", () => {
  it("compiles a file once and serves the same functions", async () => {
    const { registry } = workspace();
    const first = await registry.load("m.yaml");
    expect(await registry.load("m.yaml")).toBe(first);
    expect(registry.get("m.yaml")).toBe(first);
  });

  it("a broken edit keeps the last good version in service and says so; the fix is picked up", async () => {
    const { dir, registry, lines } = workspace();
    const good = await registry.load("m.yaml");
    writeFileSync(join(dir, "m.yaml"), GOOD.replace("owner: latest", "owner: sometimes"));
    const rejected = await registry.reload("m.yaml");
    expect(rejected).toMatchObject({ outcome: "kept-last-good", error: { code: "MAPPING_INVALID" } });
    expect(registry.get("m.yaml")).toBe(good);
    expect(registry.lastError("m.yaml")?.message).toMatch(/m\.yaml:\d+:\d+ objects\.lead\.fields\.Cosell_Status__c\.owner/);
    expect(lines().find((l) => l.level === "error")?.msg).toMatch(/^mapping change rejected; still using the last good version/);

    writeFileSync(join(dir, "m.yaml"), GOOD.replace("truncate: 255 }, required: true", "truncate: 200 }, required: true"));
    expect((await registry.reload("m.yaml")).outcome).toBe("reloaded");
    expect(registry.get("m.yaml")).not.toBe(good);
    expect(registry.lastError("m.yaml")).toBeUndefined();
  });

  it("a deleted file is a rejected reload, not a crash", async () => {
    const { dir, registry } = workspace();
    const good = await registry.load("m.yaml");
    const { rmSync } = await import("node:fs");
    rmSync(join(dir, "m.yaml"));
    expect(await registry.reload("m.yaml")).toMatchObject({ outcome: "kept-last-good", error: { code: "MAPPING_NOT_FOUND" } });
    expect(registry.get("m.yaml")).toBe(good);
  });

  it("reloads on its own when the file changes on disk", async () => {
    const { dir, registry } = workspace();
    await registry.load("m.yaml");
    const reloaded = new Promise<ReloadOutcome>((resolve) => registry.onReload(resolve));
    registry.watch(10);
    writeFileSync(join(dir, "m.yaml"), GOOD.replace("required: true }", "required: false }"));
    expect((await reloaded).outcome).toBe("reloaded");
    registry.close();
  });

  it("a first load of a bad file fails outright: there is nothing to fall back to", async () => {
    const { dir, registry } = workspace();
    writeFileSync(join(dir, "m.yaml"), "version: 2\n");
    await expect(registry.load("m.yaml")).rejects.toMatchObject({ code: "MAPPING_INVALID" });
  });
});
