import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { main } from "../../src/cli/main.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with captured output. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on("data", (chunk: Buffer) => err.push(chunk.toString()));
  const code = await main(["node", "cosell-sync", ...args], { stdout, stderr, env, cwd });
  return { code, stdout: out.join(""), stderr: err.join("") };
}

/** A config file in a fresh temp dir with a SQLite store inside it. */
export function tempConfig(extra = ""): { dir: string; file: string; dbFile: string } {
  const dir = mkdtempSync(join(tmpdir(), "cosell-cli-"));
  const dbFile = join(dir, "state", "cosell.db");
  const file = join(dir, "config.yaml");
  writeFileSync(
    file,
    `store:\n  url: sqlite:${dbFile}\nlog:\n  level: info\n  pretty: never\npartnerCenter:\n  accounts:\n    acme:\n      auth:\n        mode: sandbox\ncrms:\n  acme-sf:\n    type: salesforce\n    auth:\n      mode: sandbox\npairs:\n  - name: acme-sf\n    partnerCenter: acme\n    crm: acme-sf\n    mapping: mappings/salesforce.yaml\n${extra}`,
  );
  return { dir, file, dbFile };
}

export interface SpawnedCli {
  /** Resolves once a stdout line contains `text`; rejects if the process exits first. */
  waitFor(text: string): Promise<void>;
  signal(name: NodeJS.Signals): void;
  /** The first complete stdout line. */
  firstLine(): Promise<string>;
  /** Everything printed to stdout so far. */
  output(): string;
  readonly pid: number | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Runs the built CLI (bin/cosell-sync.js) as a real child process. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): SpawnedCli {
  const child = spawn(process.execPath, ["bin/cosell-sync.js", ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const waiter of waiters.filter((w) => stdout.includes(w.text))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    waitFor: (text) =>
      stdout.includes(text)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ text, resolve });
            void exited.then((result) => reject(new Error(`exited (${result.code}) before "${text}":\n${result.stdout}\n${result.stderr}`)));
          }),
    signal: (name) => child.kill(name),
    firstLine: async () => stdout.slice(0, stdout.indexOf("\n") + 1),
    output: () => stdout,
    pid: child.pid,
    exited,
  };
}
