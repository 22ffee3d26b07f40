import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/index.js";
import { Daemon } from "../src/daemon/daemon.js";
import type { Logger } from "../src/log/logger.js";
import { silentLogger } from "../src/log/logger.js";
import { sellerUiFor } from "../src/sandbox/seller-ui.js";

type Kind = "salesforce" | "hubspot" | "dynamics";

export interface LatencyFigures {
  crm: Kind;
  samples: number;
  /** Partner Center creates a lead and delivers its webhook at once → the record is in the CRM. */
  webhook: Percentiles;
  /** A lead created without a webhook → the record is in the CRM, with a 5 s pull schedule. */
  poll: Percentiles;
  /** A seller accepts the lead in the CRM → Partner Center shows it accepted, with a 5 s CRM poll. */
  sellerEdit: Percentiles;
}

export interface Percentiles {
  p50: number;
  p95: number;
}

const POLL = "*/5 * * * * *";

/**
 * Latency through the whole daemon (`run`, its schedules, webhook receiver and outbox) on the
 * sandboxes in this process: leads are created one at a time, a little apart, and each is timed
 * until it shows on the other side. The pair's debounce is 0, so a seller's edit goes on the first
 * poll that sees it (the shipped 30 s debounce merges a seller's quick edits into one push, on purpose).
 */
export async function benchLatency(kind: Kind, samples: number, log: Logger): Promise<LatencyFigures> {
  const dir = mkdtempSync(join(tmpdir(), `cosell-latency-${kind}-`));
  const { config: base } = await loadConfig("config/default.yaml", { env: { ...process.env, COSELL_HTTP_PORT: "0" } });
  const pair = base.pairs.find((p) => base.crms[p.crm]?.type === kind);
  if (!pair) throw new Error(`config/default.yaml has no ${kind} pair`);
  const config = {
    ...base,
    store: { ...base.store, url: `sqlite:${join(dir, "latency.db")}` },
    log: { ...base.log, level: "silent" as const },
    deadlines: { ...base.deadlines, crmTasks: false },
    pairs: [{ ...pair, debounce: 0, acceptAs: { firstName: "Ana", lastName: "Bench", email: "ana.bench@partner.example" }, schedule: { ...pair.schedule, pull: POLL, crmPoll: POLL } }],
  };
  const daemon = new Daemon({ config, logger: silentLogger() });
  await daemon.start();
  try {
    const pc = daemon.partnerCenter(pair.partnerCenter).sandbox;
    const sandbox = daemon.crmSandbox(pair.crm);
    if (!pc || !sandbox) throw new Error("the default config runs on sandboxes");
    const crm = sellerUiFor(sandbox);
    const inCrm = (referralId: string) => crm.records().find((record) => record.referralId === referralId);
    // Let the start-up pull and the seed leads' writes settle first: the CRM's count stands still for 3 s.
    let seen = -1;
    let since = performance.now();
    await waitFor(() => {
      const count = crm.records().length;
      if (count !== seen) [seen, since] = [count, performance.now()];
      return count > 0 && performance.now() - since > 3_000 ? true : undefined;
    }, 120_000);

    const timed = async (start: () => string | Promise<string>, arrived: (id: string) => unknown): Promise<number> => {
      const started = performance.now();
      const id = await start();
      await waitFor(() => (arrived(id) ? true : undefined), 60_000);
      return performance.now() - started;
    };
    const webhook: number[] = [];
    const poll: number[] = [];
    const sellerEdit: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      webhook.push(
        await timed(async () => {
          const [lead] = pc.generate(1, { acceptedShare: 0, spreadDays: 0 });
          await pc.deliverWebhooks();
          return lead?.id ?? "";
        }, inCrm),
      );
      let polledId = "";
      poll.push(
        await timed(() => {
          polledId = pc.generate(1, { acceptedShare: 0, spreadDays: 0, announce: false })[0]?.id ?? "";
          return polledId;
        }, inCrm),
      );
      const record = inCrm(polledId);
      if (record) {
        sellerEdit.push(
          await timed(async () => {
            await crm.save(record.id, { [crm.fields.status]: crm.value("accepted") });
            return record.referralId;
          }, (id) => pc.referrals.get(id).status === "Active"),
        );
      }
      log.info({ crm: kind, sample: i + 1, of: samples }, "latency progress");
      // Spread the samples over the poll schedules' phases.
      await new Promise((resolve) => setTimeout(resolve, 700 + ((i * 1_300) % 3_000)));
    }
    return { crm: kind, samples, webhook: percentiles(webhook), poll: percentiles(poll), sellerEdit: percentiles(sellerEdit) };
  } finally {
    await daemon.stop("bench");
    rmSync(dir, { recursive: true, force: true });
  }
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { p50: at(0.5), p95: at(0.95) };
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
