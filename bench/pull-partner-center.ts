import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientCredentialsTokenProvider } from "../src/auth/msal-token-provider.js";
import { createNetworkClient } from "../src/auth/network-client.js";
import type { Logger } from "../src/log/logger.js";
import { silentLogger } from "../src/log/logger.js";
import { ReferralClient } from "../src/partner-center/client.js";
import { systemClock } from "../src/shared/clock.js";
import { Store } from "../src/store/index.js";
import { pullChangedLeads } from "../src/sync/pull-leads.js";

export interface PullFigures {
  leads: number;
  seconds: number;
  leadsPerSecond: number;
  peakRssMb: number;
  /** RSS after the first 10% of pages versus at the end: near zero when memory stays flat. */
  rssGrowthMb: number;
  heapGrowthMb: number;
}

/**
 * Pulls `count` leads from a Partner Center sandbox running in its own process (so its memory is
 * not ours) into a fresh SQLite store, sampling memory after every page.
 */
export async function benchPull(count: number, log: Logger): Promise<PullFigures> {
  const sandbox = spawn(process.execPath, ["bin/cosell-sync.js", "sandbox", "partner-center", "--leads", String(count), "--seed", "bench", "--json"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let buffer = "";
      sandbox.stdout.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        if (buffer.includes("\n")) resolve(buffer.slice(0, buffer.indexOf("\n")));
      });
      sandbox.on("exit", (code) => reject(new Error(`sandbox exited with ${code}`)));
    });
    const settings = JSON.parse(line) as { baseUrl: string; authority: string; tenantId: string; clientId: string; clientSecret: string; caFile: string };
    const { readFileSync } = await import("node:fs");
    const tokens = new ClientCredentialsTokenProvider(
      { tenantId: settings.tenantId, clientId: settings.clientId, clientSecret: settings.clientSecret, authority: settings.authority },
      { scopes: ["https://api.partner.microsoft.com/.default"], logger: silentLogger(), networkClient: createNetworkClient({ ca: readFileSync(settings.caFile, "utf8") }) },
    );
    const client = new ReferralClient({ baseUrl: settings.baseUrl, tokens, logger: silentLogger() });
    const dir = mkdtempSync(join(tmpdir(), "cosell-bench-pull-"));
    const store = await Store.open({ url: `sqlite:${join(dir, "pull.db")}` });
    await store.migrate();
    const rss: number[] = [];
    const heap: number[] = [];
    const started = process.hrtime.bigint();
    try {
      const report = await pullChangedLeads({
        account: "bench",
        client,
        store,
        clock: systemClock,
        logger: silentLogger(),
        onPage: (r) => {
          // With --expose-gc, sample live memory rather than garbage not yet collected.
          (globalThis as { gc?: () => void }).gc?.();
          const memory = process.memoryUsage();
          rss.push(memory.rss);
          heap.push(memory.heapUsed);
          if (r.pages % 20 === 0) log.info({ pulled: r.received, of: count }, "pull progress");
        },
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const early = Math.max(0, Math.floor(rss.length / 10) - 1);
      const mb = (bytes: number) => bytes / 1024 / 1024;
      return {
        leads: report.created,
        seconds,
        leadsPerSecond: report.created / seconds,
        peakRssMb: mb(Math.max(...rss)),
        rssGrowthMb: mb((rss[rss.length - 1] ?? 0) - (rss[early] ?? 0)),
        heapGrowthMb: mb((heap[heap.length - 1] ?? 0) - (heap[early] ?? 0)),
      };
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    sandbox.kill("SIGINT");
  }
}
