import { rmSync } from "node:fs";
import { resolve } from "node:path";
import type { Config } from "../config/index.js";
import type { Logger } from "../log/logger.js";
import { SellerSimulator } from "../sandbox/seller-simulator.js";
import { sellerUiFor } from "../sandbox/seller-ui.js";
import type { SellerUi } from "../sandbox/seller-ui.js";
import { systemClock, WarpClock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import { Daemon } from "./daemon.js";

export const DAY_MS = 86_400_000;
/** A throwaway store: the sandboxes start empty each run, so yesterday's links would point nowhere. */
export const DEMO_STORE = "./data/demo.db";

export interface DemoOptions {
  config: Config;
  logger: Logger;
  cwd: string;
  /** Real time per simulated day (0: real time). */
  dayEveryMs: number;
  /** Stop by itself after this much real time. */
  durationMs?: number;
  /** The live summary line goes here. */
  write: (line: string, final: boolean, summary: DemoSummary) => void;
  /** Resolves when the user asks to stop (Ctrl-C). */
  stopRequested: Promise<string>;
}

export interface DemoSummary {
  day: number;
  partnerCenter: Record<string, number>;
  store: Record<string, number>;
  crms: Record<string, number>;
  sellers: Record<string, number>;
  pushes: { pushed: number; refused: number; echoesDropped: number };
  /** `savedByReminder`: leads a seller accepted only after the last reminder came; `closedLocally`: those nobody saved. */
  deadlines: { reminders: number; mailed: number; tasks: number; teams: number; closedLocally: number; savedByReminder: number };
  outbox: { pending: number; dead: number };
  httpUrl?: string;
}

/**
 * `npm start`: the daemon on the sandboxes with fast time and a seller simulator. Sandbox time
 * jumps a day at a time, so the 14- and 60-day rules happen while you watch; new leads arrive each
 * simulated day (webhooks announce them); sellers work leads in each CRM through its public API.
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const config = demoConfig(options.config, options.cwd);
  const clock = new WarpClock();
  // Rate limits are real-time: the sandboxes count requests per real second, whatever day it is.
  const daemon = new Daemon({ config, logger: options.logger, clock, rateClock: systemClock, cwd: options.cwd });
  await daemon.start();
  // The people reminders go to have mailboxes (and time zones) in the Graph sandbox.
  const graph = daemon.mail?.sandbox;
  if (graph) {
    if (config.deadlines.admin) graph.addMailbox(config.deadlines.admin, "W. Europe Standard Time");
    for (const pair of config.pairs) if (pair.acceptAs) graph.addMailbox(pair.acceptAs.email, "Pacific Standard Time");
  }
  const timers: NodeJS.Timeout[] = [];
  const crms: SellerUi[] = [];
  for (const name of new Set(config.pairs.map((p) => p.crm))) {
    const sandbox = daemon.crmSandbox(name);
    if (sandbox) crms.push(sellerUiFor(sandbox));
  }
  const simulator = new SellerSimulator({ crms, logger: options.logger });
  const accounts = [...new Set(config.pairs.map((p) => p.partnerCenter))];
  const startedAt = clock.now().getTime();
  const summarise = () => summary(daemon, clock, startedAt, accounts, crms, simulator);
  let busy = false;
  const tick = (fn: () => Promise<unknown>) => () => {
    if (busy) return;
    busy = true;
    fn()
      .catch((error: unknown) => options.logger.warn({ err: error }, "demo tick failed"))
      .finally(() => {
        busy = false;
      });
  };
  if (options.dayEveryMs > 0) {
    timers.push(
      setInterval(() => {
        clock.jump(DAY_MS - options.dayEveryMs);
        // A jump steps over deadline instants the exact timer would have caught as they passed.
        daemon.sweepNow().catch((error: unknown) => options.logger.warn({ err: error }, "deadline sweep after the day's jump failed"));
        // Microsoft sellers keep sending leads.
        for (const account of accounts) daemon.partnerCenter(account).sandbox?.generate(2, { acceptedShare: 0, spreadDays: 0 });
      }, options.dayEveryMs),
    );
  }
  timers.push(setInterval(tick(() => simulator.tick()), 1_000));
  timers.push(
    setInterval(
      tick(async () => {
        const now = await summarise();
        options.write(line(now), false, now);
      }),
      2_000,
    ),
  );
  const reason = await Promise.race([options.stopRequested, ...(options.durationMs ? [new Promise<string>((done) => setTimeout(() => done("duration reached"), options.durationMs).unref())] : [])]);
  for (const timer of timers) clearInterval(timer);
  const final = await summarise();
  await daemon.stop(reason);
  options.write(line(final), true, final);
  return final;
}

/** The default config tuned for watching: fast schedules, a short debounce, a fresh store. */
export function demoConfig(config: Config, cwd: string): Config {
  if (!config.sandbox.enabled) throw new CosellError("CLI_USAGE", "--demo runs on the sandboxes only; set sandbox.enabled: true (config/default.yaml does).");
  const real = [...Object.entries(config.partnerCenter.accounts)].filter(([, a]) => a.auth.mode !== "sandbox").map(([n]) => n).concat(Object.entries(config.crms).filter(([, c]) => c.auth.mode !== "sandbox").map(([n]) => n));
  if (real.length > 0) throw new CosellError("CLI_USAGE", `--demo drives sandboxes with a simulator and fast time; ${real.join(", ")} ${real.length === 1 ? "is" : "are"} not in sandbox mode.`);
  const file = resolve(cwd, DEMO_STORE);
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${file}${suffix}`, { force: true });
  return {
    ...config,
    store: { ...config.store, url: `sqlite:${DEMO_STORE}` },
    deadlines: { ...config.deadlines, sweep: "*/2 * * * * *" },
    pairs: config.pairs.map((pair) => ({
      ...pair,
      acceptAs: pair.acceptAs ?? { firstName: "Ana", lastName: "Demo", email: "ana.demo@partner.example" },
      debounce: Math.min(pair.debounce, 2_000),
      schedule: { ...pair.schedule, pull: "*/5 * * * * *", crmPoll: "*/2 * * * * *" },
    })),
  };
}

async function summary(daemon: Daemon, clock: WarpClock, startedAt: number, accounts: string[], crms: SellerUi[], simulator: SellerSimulator): Promise<DemoSummary> {
  const partnerCenter: Record<string, number> = {};
  for (const account of accounts) {
    for (const referral of daemon.partnerCenter(account).sandbox?.referrals.all() ?? []) {
      if (referral.referralProgram !== "JointPlanning" || referral.direction !== "Incoming") continue;
      const key = (referral.status === "Closed" ? referral.substatus : referral.status)?.toLowerCase() ?? "unknown";
      partnerCenter[key] = (partnerCenter[key] ?? 0) + 1;
    }
  }
  const events = await daemon.store.repos.events.countByKind(["pc-pushed", "push-refused", "echo-dropped", "reminder", "closed-locally"]);
  const stats = await daemon.store.repos.outbox.stats(clock.now());
  const sum = (byTarget: Record<string, number> | undefined) => Object.values(byTarget ?? {}).reduce((a, b) => a + b, 0);
  const httpUrl = daemon.httpUrl;
  return {
    day: Math.round((clock.now().getTime() - startedAt) / DAY_MS),
    partnerCenter,
    store: await daemon.store.repos.leads.countByState(),
    crms: Object.fromEntries(crms.map((ui) => [ui.crm, ui.records().length])),
    sellers: { ...simulator.counts },
    pushes: { pushed: events["pc-pushed"] ?? 0, refused: events["push-refused"] ?? 0, echoesDropped: events["echo-dropped"] ?? 0 },
    deadlines: {
      reminders: events.reminder ?? 0,
      mailed: daemon.mail?.sandbox?.mailbox.length ?? 0,
      tasks: crms.reduce((sum, ui) => sum + ui.taskCount(), 0),
      teams: daemon.teams?.sandbox?.channel.length ?? 0,
      closedLocally: events["closed-locally"] ?? 0,
      savedByReminder: simulator.counts.savedByReminder,
    },
    outbox: { pending: sum(stats.byState.pending), dead: sum(stats.byState.dead) },
    ...(httpUrl ? { httpUrl } : {}),
  };
}

function line(s: DemoSummary): string {
  const pc = Object.entries(s.partnerCenter).map(([k, v]) => `${v} ${k}`).join(", ");
  const crm = Object.entries(s.crms).map(([k, v]) => `${k} ${v}`).join(", ");
  return `day ${s.day} | Partner Center: ${pc} | CRM records: ${crm} | seller changes pushed ${s.pushes.pushed}, refused ${s.pushes.refused} | reminders ${s.deadlines.reminders} (${s.deadlines.mailed} mailed, ${s.deadlines.tasks} CRM tasks, ${s.deadlines.teams} in Teams), saved by a reminder ${s.deadlines.savedByReminder}, closed at deadline ${s.deadlines.closedLocally} | outbox ${s.outbox.pending} pending, ${s.outbox.dead} dead`;
}
