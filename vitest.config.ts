import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "connectors/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    pool: "forks",
    // Vitest's default (one worker fewer than cores) runs one file at a time on a 2-core machine,
    // and a test file here keeps about half a core busy: the rest is waiting on SQLite's thread
    // pool, sandboxes and child daemons. Two files at once halved the suite there (746 → 367 s)
    // without lengthening the slowest files.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
