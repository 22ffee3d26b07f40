import { execFileSync } from "node:child_process";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL of a PostgreSQL server for the store suites, or null when none could be had. */
    pgUrl: string | null;
  }
}

/**
 * Finds PostgreSQL for the suites that run on both stores: COSELL_TEST_PG_URL when set, otherwise a
 * throwaway loopback cluster started by scripts/test-postgres.sh. Under CI a missing server fails
 * the run instead of quietly skipping half the store suite.
 */
export default function setup(project: TestProject): void {
  let url = process.env.COSELL_TEST_PG_URL ?? null;
  if (!url) {
    try {
      url = execFileSync("bash", ["scripts/test-postgres.sh", "start"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    } catch (error) {
      const reason = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
      if (process.env.CI) throw new Error(`PostgreSQL is required under CI and could not be started: ${reason}`, { cause: error });
      console.warn(`\n[cosell-sync tests] PostgreSQL unavailable (${reason}); PostgreSQL store suites are SKIPPED.\n`);
    }
  }
  project.provide("pgUrl", url);
}
