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
    .description("one pass both ways, then exit with a summary: pull Partner Center into each CRM, push sellers' CRM changes to Partner Center")
    .requiredOption("--once", "run one pass and exit (the only mode; `run` is the daemon)")
    .option("-p, --pair <name>", "only this pair (its account is pulled, its CRM read and written)")
    .addHelpText("after", "\nSellers' edits go to Partner Center at once (no debounce window in a one-shot pass).\nExit codes: 0 every due job done, 1 some jobs failed and wait to retry, 69 store unreachable, 78 bad config.");
  withJsonOption(withConfigOption(command)).action(async (options: ConfigOptions & JsonOptions & { pair?: string }) => {
    const { config: loaded } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
    const pairs = loaded.pairs.filter((pair) => pair.enabled && (!options.pair || pair.name === options.pair));
    if (pairs.length === 0) {
      throw new CosellError("CLI_USAGE", options.pair ? `No enabled pair "${options.pair}"; the config has ${loaded.pairs.map((p) => p.name).join(", ")}.` : "No enabled pair in the config.");
    }
    const config = { ...loaded, pairs };
    // Logs go to stderr so stdout carries only the summary.
    const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, destination: io.stderr as never });
    const daemon = new Daemon({ config, logger, cwd: io.cwd, oneShot: true, noDebounce: true });
    await daemon.start();
    let failed: boolean;
    try {
      const pulls = await daemon.pullNow();
      const changes = await daemon.pollCrmsNow();
      // A push to Partner Center queues CRM writes of its result, and a first CRM write queues the
      // id's write-back: drain until a round runs nothing.
      const written: Record<string, number> = {};
      for (let round = await daemon.drainOutbox(); ; round = await daemon.drainOutbox()) {
        for (const [target, n] of Object.entries(round)) written[target] = (written[target] ?? 0) + n;
        if (Object.values(round).every((n) => n === 0)) break;
      }
      const { byState } = await daemon.store.repos.outbox.stats(new Date());
      const waiting = Object.fromEntries(Object.keys(written).map((target) => [target, byState.pending?.[target] ?? 0]));
      const dead = Object.fromEntries(Object.keys(written).map((target) => [target, byState.dead?.[target] ?? 0]));
      const summary = { pulled: Object.fromEntries(pulls), sellerChanges: Object.fromEntries(changes), written, waiting, dead };
      failed = Object.values(waiting).some((n) => n > 0);
      if (options.json) printJson(io, { ok: !failed, ...summary });
      else {
        for (const [account, report] of pulls) io.stdout.write(`pulled ${account}: ${report.received} read, ${report.created} new, ${report.updated} changed, ${report.unchanged} unchanged\n`);
        for (const [pair, report] of changes) io.stdout.write(`seller changes ${pair}: ${report.queued} pushed, ${report.echoes} echoes dropped, ${report.unknown} unknown referral ids\n`);
        for (const [target, count] of Object.entries(written)) io.stdout.write(`${target}: ${count} jobs run, ${waiting[target]} waiting to retry, ${dead[target]} dead\n`);
      }
    } finally {
      await daemon.stop("sync --once finished");
    }
    if (failed) throw Object.assign(new CosellError("SYNC_INCOMPLETE", "Some CRM or Partner Center writes failed and wait to retry; `cosell-sync outbox list --state pending` shows why."), { alreadyReported: true });
  });
}
