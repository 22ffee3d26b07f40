import { existsSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { spawnCli, tempConfig } from "../helpers/cli.js";

/** These run the built CLI as a real process, the way a service manager does. */
beforeAll(() => {
  if (!existsSync("dist/src/cli/main.js")) throw new Error("dist/ is missing: run `npm run build` (npm test does it first)");
});

describe("cosell-sync run", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`migrates, starts, and stops cleanly on ${signal}`, async () => {
      const { file, dbFile } = tempConfig();
      const child = spawnCli(["run", "--config", file]);
      await child.waitFor("cosell-sync started");
      expect(existsSync(dbFile)).toBe(true);
      child.signal(signal);
      const result = await child.exited;
      expect(result.code).toBe(0);
      const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
      const messages = lines.map((line) => line.msg);
      const daemonLines = lines.filter((line) => line.component === "daemon" || line.component === "mapping").map((line) => line.msg);
      expect(daemonLines).toEqual(["mapping loaded", "store migrated", "cosell-sync started", "cosell-sync stopping", "cosell-sync stopped"]);
      expect(messages).toContain("connected to Salesforce");
      // Each part logs under its own component, once: a repeated key breaks log shippers' parsers.
      expect(result.stdout).not.toMatch(/"component":"[^"]*","component"/);
      expect(messages.at(-1)).toBe("cosell-sync stopped");
      expect(lines.at(-1)).toMatchObject({ component: "daemon", reason: signal });
      // The first pull starts with the daemon and a stop lets it finish, never cutting a page in half.
      expect(messages.indexOf("pull finished")).toBeGreaterThan(messages.indexOf("cosell-sync started"));
      expect(messages.indexOf("pull finished")).toBeLessThan(messages.indexOf("cosell-sync stopped"));
    });
  }

  it("refuses to start on a broken config, exit 78, nothing created", async () => {
    const { file, dbFile } = tempConfig("    crm: nowhere\n");
    const result = await spawnCli(["run", "--config", file]).exited;
    expect(result.code).toBe(78);
    expect(result.stderr).toContain("CONFIG_INVALID");
    expect(existsSync(dbFile)).toBe(false);
  });
});
