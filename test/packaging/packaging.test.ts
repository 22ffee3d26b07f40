import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";

/** Dockerfile instructions with their arguments, continuation lines joined, comments dropped. */
function instructions(text: string): Array<{ op: string; args: string; stage: number }> {
  const joined = text.replace(/\\\n/g, " ").split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"));
  let stage = -1;
  return joined.map((line) => {
    const [op = "", ...rest] = line.split(/\s+/);
    if (op.toUpperCase() === "FROM") stage += 1;
    return { op: op.toUpperCase(), args: rest.join(" "), stage };
  });
}

describe("Dockerfile (docker build is not available here: its essentials are checked instead)", () => {
  const steps = instructions(readFileSync("Dockerfile", "utf8"));
  const stages = steps.filter((s) => s.op === "FROM");
  const last = stages.length - 1;
  const runtime = steps.filter((s) => s.stage === last);

  it("is multi-stage, on a slim Node.js LTS image", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const arg = steps.find((s) => s.op === "ARG" && s.args.startsWith("NODE_VERSION="))?.args.split("=")[1];
    expect(Number(arg) % 2).toBe(0);
    expect(Number(arg)).toBeGreaterThanOrEqual(22);
    expect(stages[last]?.args).toMatch(/^node:\$\{NODE_VERSION\}-\w+-slim\b/);
  });

  it("runs as a non-root user, with a data volume, a health check on /healthz and the daemon as entry point", () => {
    const user = runtime.filter((s) => s.op === "USER").at(-1);
    expect(user?.args).toBeDefined();
    expect(["root", "0", "0:0"]).not.toContain(user?.args);
    const userAt = runtime.indexOf(user as (typeof runtime)[number]);
    expect(runtime.findIndex((s) => s.op === "ENTRYPOINT")).toBeGreaterThan(userAt);
    expect(runtime.find((s) => s.op === "VOLUME")?.args).toContain("/data");
    const health = runtime.find((s) => s.op === "HEALTHCHECK")?.args ?? "";
    expect(health).toMatch(/--interval=\d+s/);
    expect(health).toContain("/healthz");
    expect(runtime.find((s) => s.op === "ENTRYPOINT")?.args).toBe('["node", "bin/cosell-sync.js"]');
    expect(runtime.find((s) => s.op === "CMD")?.args).toContain('"run"');
  });

  it("ships production dependencies only and no secrets, and copies only files that exist", () => {
    expect(steps.some((s) => s.op === "RUN" && /npm prune --omit=dev|npm ci .*--omit=dev/.test(s.args))).toBe(true);
    for (const env of steps.filter((s) => s.op === "ENV")) expect(env.args).not.toMatch(/secret|token|password|key=/i);
    for (const copy of steps.filter((s) => s.op === "COPY" && !s.args.startsWith("--from"))) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) expect([copy.args, existsSync(source)]).toEqual([copy.args, true]);
    }
    expect(readFileSync(".dockerignore", "utf8")).toMatch(/^node_modules$/m);
  });

  it("bakes a config that loads, keeps state in /data and guards the status page it exposes", async () => {
    const { config } = await loadConfig("config/docker.yaml", { env: { COSELL_STATUS_TOKEN: "t0ken" } });
    expect(config.store.url).toBe("sqlite:/data/cosell-sync.db");
    expect(config.http.host).toBe("0.0.0.0");
    expect(config.http.auth).toEqual({ mode: "bearer", token: "t0ken" });
  });
});

describe("systemd unit", () => {
  const unit = readFileSync("packaging/systemd/cosell-sync.service", "utf8");
  const value = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(unit)?.[1];

  it("runs hardened under a dynamic user with its own state directory and a restart policy", () => {
    expect(value("DynamicUser")).toBe("yes");
    expect(value("ProtectSystem")).toBe("strict");
    expect(value("StateDirectory")).toBe("cosell-sync");
    expect(value("NoNewPrivileges")).toBe("yes");
    expect(value("Restart")).toBe("on-failure");
    expect(value("RestartPreventExitStatus")).toBe("78");
    expect(value("ExecStart")).toBe("/usr/bin/node /opt/cosell-sync/bin/cosell-sync.js run --config /etc/cosell-sync/config.yaml");
    expect(Number.parseInt(value("TimeoutStopSec") ?? "0", 10)).toBeGreaterThan(30);
  });

  it("bounds V8's heap as the image and npm start do, overridable from the env file", () => {
    const environment = [...unit.matchAll(/^Environment=(.*)$/gm)].map((m) => m[1]);
    expect(environment).toContain("NODE_OPTIONS=--max-old-space-size=256");
    // The env file comes after, so a NODE_OPTIONS set there wins.
    expect(unit.indexOf("EnvironmentFile=")).toBeGreaterThan(unit.indexOf("NODE_OPTIONS="));
    const image = readFileSync("Dockerfile", "utf8");
    expect(image).toMatch(/^\s*NODE_OPTIONS=--max-old-space-size=256 \\$/m);
    expect(JSON.parse(readFileSync("package.json", "utf8")).scripts.start).toContain("node --max-old-space-size=256 bin/cosell-sync.js run");
  });

  it.runIf(existsSync("/usr/bin/systemd-analyze") || existsSync("/bin/systemd-analyze"))("passes systemd-analyze verify", () => {
    const dir = mkdtempSync(join(tmpdir(), "cosell-unit-"));
    const file = join(dir, "cosell-sync.service");
    // verify checks that ExecStart's program exists: point it at this Node.js.
    writeFileSync(file, unit.replaceAll("/usr/bin/node", process.execPath));
    const output = execFileSync("systemd-analyze", ["verify", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(output).toBe("");
  });
});
