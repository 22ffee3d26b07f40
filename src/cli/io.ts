import type { Writable } from "node:stream";
import type { CosellError } from "../shared/errors.js";

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printError(io: CliIo, error: CosellError, json: boolean): void {
  if (json) {
    io.stdout.write(`${JSON.stringify({ ok: false, error: error.toJSON() }, null, 2)}\n`);
    return;
  }
  io.stderr.write(`cosell-sync: ${error.code}: ${error.message}\n`);
}
