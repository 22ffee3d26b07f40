import type { Command } from "commander";
import { resolve } from "node:path";
import { loadConfig } from "../../config/index.js";
import { Daemon } from "../../daemon/daemon.js";
import { DEMO_STORE, runDemo } from "../../daemon/demo.js";
import { createLogger, fileDestination } from "../../log/logger.js";
import { parseDuration } from "../../shared/duration.js";
import { CosellError } from "../../shared/errors.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";

/** Signals that ask for a clean stop; a second one while stopping exits at once. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;
export const DEMO_LOG = "./data/cosell-sync.log";

interface RunOptions extends ConfigOptions, JsonOptions {
  demo?: boolean;
  duration?: string;
  dayEvery: string;
}

function durationOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) throw new CosellError("CLI_USAGE", `${flag} takes a duration like "30s", "5m" or "2h" (got "${value}").`);
  return ms;
}

export function registerRun(program: Command, io: CliIo): void {
  const command = program
    .command("run")
    .description("run the sync daemon until SIGINT/SIGTERM (`npm start` runs it with --demo on the default config)")
    .option("--demo", `sandboxes only: fast sandbox time, a seller simulator, a live summary line; logs go to ${DEMO_LOG}, state to a fresh ${DEMO_STORE}`)
    .option("--duration <time>", "stop by itself after this long (e.g. 30s) and print the summary")
    .option("--day-every <time>", "with --demo: real time per simulated day (0 for real time)", "3s")
    .addHelpText(
      "after",
      "\nStops cleanly on Ctrl-C or SIGTERM; a second signal exits at once.\nExit codes: 0 clean stop, 2 bad usage, 69 store unreachable, 78 bad config, 1 other failure.",
    );
  withJsonOption(withConfigOption(command)).action(async (options: RunOptions) => {
    const durationMs = durationOption(options.duration, "--duration");
    const dayEveryMs = durationOption(options.dayEvery, "--day-every") ?? 0;
    if (options.demo && dayEveryMs > 0 && dayEveryMs < 500) throw new CosellError("CLI_USAGE", "--day-every must be at least 500ms (or 0 for real time).");
    const { config } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
    const logFile = resolve(io.cwd, DEMO_LOG);
    const logger = createLogger({ level: config.log.level, pretty: options.demo ? "never" : config.log.pretty, destination: (options.demo ? fileDestination(logFile) : io.stdout) as never });
    // Listen before starting: a signal that arrives during start-up stops the daemon once it is up,
    // instead of killing the process halfway.
    const stopRequested = new Promise<string>((done) => {
      for (const name of STOP_SIGNALS) process.once(name, () => done(name));
    });
    const secondSignalExits = () => {
      for (const name of STOP_SIGNALS) {
        process.removeAllListeners(name);
        process.once(name, () => {
          logger.warn({ signal: name }, "second signal while stopping; exiting now");
          logger.flush();
          process.exit(130);
        });
      }
    };
    try {
      if (options.demo) {
        const tty = Boolean((io.stdout as { isTTY?: boolean }).isTTY);
        if (!options.json) {
          io.stdout.write(`cosell-sync demo: Partner Center and Salesforce, HubSpot and Dataverse sandboxes, sellers simulated, one simulated day every ${dayEveryMs > 0 ? `${dayEveryMs / 1000}s` : "day (real time)"}.\n`);
          io.stdout.write(`Logs: ${logFile}   Store: ${resolve(io.cwd, DEMO_STORE)}   Stop: Ctrl-C${durationMs ? ` (or after ${options.duration})` : ""}\n`);
        }
        let shownUrl = false;
        const summary = await runDemo({
          config,
          logger,
          cwd: io.cwd,
          dayEveryMs,
          ...(durationMs ? { durationMs } : {}),
          stopRequested: stopRequested.then((signal) => {
            secondSignalExits();
            return signal;
          }),
          write: (line, final, summary) => {
            if (options.json) return;
            if (!shownUrl && summary.httpUrl) {
              shownUrl = true;
              io.stdout.write(`Health: ${summary.httpUrl}/readyz   Webhooks: ${summary.httpUrl}/webhooks/partner-center/<account>\n`);
            }
            io.stdout.write(tty && !final ? `\r\x1b[2K${line}` : `${tty ? "\r\x1b[2K" : ""}${line}\n`);
          },
        });
        if (options.json) printJson(io, { ok: true, ...summary });
        else io.stdout.write(`Stopped after ${summary.day} simulated day(s). Leads synced to every CRM: ${Object.entries(summary.crms).map(([k, v]) => `${k} ${v}`).join(", ")}; seller changes pushed to Partner Center: ${summary.pushes.pushed}, refused with a reason on the record: ${summary.pushes.refused}.\n`);
        return;
      }
      const daemon = new Daemon({ config, logger, cwd: io.cwd });
      await daemon.start();
      const reason = await Promise.race([stopRequested, ...(durationMs ? [new Promise<string>((done) => setTimeout(() => done("duration reached"), durationMs).unref())] : [])]);
      secondSignalExits();
      await daemon.stop(reason);
    } finally {
      for (const name of STOP_SIGNALS) process.removeAllListeners(name);
      logger.flush();
    }
  });
}
