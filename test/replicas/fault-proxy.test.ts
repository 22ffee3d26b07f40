import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { SpawnedCli } from "../helpers/cli.js";
import { spawnCli } from "../helpers/cli.js";
import { FAULT_KINDS, FaultProxy } from "../helpers/fault-proxy.js";
import type { Fleet } from "../helpers/fleet.js";
import { expectAgreement, startFleet } from "../helpers/fleet.js";

/**
 * A proxy between the daemon and both sandboxes drops requests, resets connections after the
 * target acted, stalls, answers 429 and 503 in bursts and cuts bodies short, while leads arrive and
 * sellers accept them; once the network heals, everything agrees.
 */
describe("a faulty network between the daemon and every service", () => {
  let fleet: Fleet | undefined;
  let daemon: SpawnedCli | undefined;
  const proxies: FaultProxy[] = [];

  afterAll(async () => {
    daemon?.signal("SIGKILL");
    await daemon?.exited;
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await fleet?.close();
  });

  it("completes and agrees after drops, resets, stalls, 429/5xx bursts and truncated bodies", async () => {
    fleet = await startFleet(100);
    const pcProxy = await FaultProxy.start(new URL(fleet.settings.pc.baseUrl).origin, { rate: 0.2, seed: "pc-faults", stallMs: 1_500 });
    const sfProxy = await FaultProxy.start(fleet.settings.sf.url, { rate: 0.2, seed: "sf-faults", stallMs: 1_500 });
    proxies.push(pcProxy, sfProxy);
    const storeFile = join(mkdtempSync(join(tmpdir(), "cosell-faults-")), "store.db");
    const { file, env } = fleet.writeConfig({ storeUrl: `sqlite:${storeFile}`, lease: "3s", pcOrigin: pcProxy.url, sfUrl: sfProxy.url });
    daemon = spawnCli(["run", "--config", file], env);
    await daemon.waitFor("cosell-sync started");
    const accepted = new Set<string>();
    for (let round = 0; round < 8; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await fleet.control(`/generate?n=10`);
      for (const id of (await fleet.control<{ accepted: string[] }>("/seller/accept?n=3")).accepted) accepted.add(id.toLowerCase());
    }
    // The network heals; the daemon catches up by itself.
    for (const proxy of proxies) proxy.enabled = false;
    const { leads } = await expectAgreement(fleet, storeFile, accepted, expect).catch((error: unknown) => {
      // What the daemon said while it did not converge.
      const output = daemon?.output() ?? "";
      writeFileSync(`${storeFile}.daemon.log`, output);
      const lines = output.split("\n").filter((line) => /"level":(40|50)/.test(line));
      process.stderr.write(`${lines.slice(-40).join("\n")}\nthe daemon's whole log: ${storeFile}.daemon.log\n`);
      throw error;
    });
    expect(leads).toBe(180);
    expect(accepted.size).toBeGreaterThan(10);
    for (const kind of FAULT_KINDS) expect([kind, pcProxy.injected[kind] + sfProxy.injected[kind] > 0]).toEqual([kind, true]);
    process.stdout.write(`faults injected: ${JSON.stringify({ pc: pcProxy.injected, sf: sfProxy.injected })}\n`);
  }, 300_000);
});
