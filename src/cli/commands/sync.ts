import type { Command } from "commander";
import { loadConfig } from "../../config/index.js";
import { Daemon } from "../../daemon/daemon.js";
import { createLogger } from "../../log/logger.js";
import { CosellError } from "../../shared/errors.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";

export function registerSync(program: Command, io: CliIo): void {
  const command = program
    .command("sync")
    .description("one pass, then exit with a summary: pull Partner Center, write changed leads to each CRM")
    .requiredOption("--once", "run one pass and exit (the only mode; `run` is the daemon)")
    .option("-p, --pair <name>", "only this pair (its account is pulled, its CRM written)")
    .addHelpText("after", "\nThe CRM → Partner Center direction is not in this pass yet.\nExit codes: 0 every due job done, 1 some jobs failed and wait to retry, 69 store unreachable, 78 bad config.");
  withJsonOption(withConfigOption(command)).action(async (options: ConfigOptions & JsonOptions & { pair?: string }) => {
    const { config: loaded } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
    const pairs = loaded.pairs.filter((pair) => pair.enabled && (!options.pair || pair.name === options.pair));
    if (pairs.length === 0) {
      throw new CosellError("CLI_USAGE", options.pair ? `No enabled pair "${options.pair}"; the config has ${loaded.pairs.map((p) => p.name).join(", ")}.` : "No enabled pair in the config.");
    }
    const config = { ...loaded, pairs };
    // Logs go to stderr so stdout carries only the summary.
    const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, destination: io.stderr as never });
    const daemon = new Daemon({ config, logger, cwd: io.cwd, oneShot: true });
    await daemon.start();
    let failed: boolean;
    try {
      const pulls = await daemon.pullNow();
      const written = await daemon.drainOutbox();
      const { byState } = await daemon.store.repos.outbox.stats(new Date());
      const waiting = Object.fromEntries(Object.keys(written).map((target) => [target, byState.pending?.[target] ?? 0]));
      const dead = Object.fromEntries(Object.keys(written).map((target) => [target, byState.dead?.[target] ?? 0]));
      const summary = { pulled: Object.fromEntries(pulls), written, waiting, dead };
      failed = Object.values(waiting).some((n) => n > 0);
      if (options.json) printJson(io, { ok: !failed, ...summary });
      else {
        for (const [account, report] of pulls) io.stdout.write(`pulled ${account}: ${report.received} read, ${report.created} new, ${report.updated} changed, ${report.unchanged} unchanged\n`);
        for (const [target, count] of Object.entries(written)) io.stdout.write(`${target}: ${count} jobs run, ${waiting[target]} waiting to retry, ${dead[target]} dead\n`);
      }
    } finally {
      await daemon.stop("sync --once finished");
    }
    if (failed) throw Object.assign(new CosellError("SYNC_INCOMPLETE", "Some CRM writes failed and wait to retry; `cosell-sync outbox list --state pending` shows why."), { alreadyReported: true });
  });
}
