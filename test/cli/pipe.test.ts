import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("the launcher", () => {
  it("exits quietly when the reader closes the pipe early (`cosell-sync … | head`)", async () => {
    const child = spawn(process.execPath, ["bin/cosell-sync.js", "run", "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    // The reader goes away before the first line arrives.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", (exitCode) => resolve(exitCode)));
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
  });
});
