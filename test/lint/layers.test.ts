import { ESLint } from "eslint";
import { beforeAll, describe, expect, it } from "vitest";

/**
 * The layer map is only as good as the lint that enforces it: these feed ESLint source text under
 * file paths inside each layer and check what it says.
 */
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: process.cwd() });
});

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === "boundaries/dependencies").map((m) => m.message);
}

describe("layer rules", () => {
  it("fail when src/domain imports knex", async () => {
    const errors = await boundaryErrors("src/domain/lint-fixture.ts", 'import knex from "knex";\nexport const db = knex;\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/knex/);
  });

  it("fail when src/domain imports a Node built-in or a package with I/O", async () => {
    const errors = await boundaryErrors(
      "src/domain/lint-fixture.ts",
      'import { readFileSync } from "node:fs";\nimport pino from "pino";\nexport const x = [readFileSync, pino];\n',
    );
    expect(errors).toEqual([expect.stringMatching(/src\/domain is pure/), expect.stringMatching(/src\/domain is pure/)]);
  });

  it("pass when src/domain imports its own files and src/shared", async () => {
    const errors = await boundaryErrors(
      "src/domain/lint-fixture.ts",
      'import { transition } from "./lifecycle.js";\nimport { CosellError } from "../shared/errors.js";\nexport const x = [transition, CosellError];\n',
    );
    expect(errors).toEqual([]);
  });

  it("fail when a connector imports the store or the queue", async () => {
    const errors = await boundaryErrors(
      "connectors/salesforce/lint-fixture.ts",
      'import { Store } from "../../src/store/index.js";\nexport const x = Store;\n',
    );
    expect(errors).toEqual([expect.stringMatching(/"connectors" to elements of type "store"/)]);
  });

  it("fail when a lower layer imports a higher one", async () => {
    const errors = await boundaryErrors(
      "src/store/lint-fixture.ts",
      'import { Daemon } from "../daemon/daemon.js";\nexport const x = Daemon;\n',
    );
    expect(errors).toEqual([expect.stringMatching(/"store" to elements of type "daemon"/)]);
  });

  it("keep database drivers inside src/store", async () => {
    const errors = await boundaryErrors("src/sync/lint-fixture.ts", 'import pg from "pg";\nexport const x = pg;\n');
    expect(errors).toEqual([expect.stringMatching(/Only src\/store talks to the database/)]);
  });
});
