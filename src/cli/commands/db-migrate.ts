import type { Command } from "commander";
import { loadConfig } from "../../config/index.js";
import { createLogger } from "../../log/logger.js";
import { redactUrl, Store } from "../../store/index.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";

export function registerDbMigrate(parent: Command, io: CliIo): void {
  const command = parent
    .command("migrate")
    .description("bring the store's schema up to date (the daemon also does this at start)")
    .addHelpText("after", "\nSafe beside a running daemon. Exit codes: 0 done, 69 store unreachable, 78 bad config, 1 migration failed.");
  withJsonOption(withConfigOption(command)).action(async (options: ConfigOptions & JsonOptions) => {
    const { config } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
    // Logs go to stderr so stdout stays clean for --json.
    const logger = createLogger({ level: config.log.level === "info" ? "warn" : config.log.level, pretty: config.log.pretty, destination: io.stderr as never });
    const store = await Store.open({ url: config.store.url, busyTimeoutMs: config.store.busyTimeoutMs, poolMax: config.store.poolMax, cwd: io.cwd }, logger);
    try {
      const report = await store.migrate();
      if (options.json) {
        printJson(io, { ok: true, store: store.kind, ...report });
        return;
      }
      io.stdout.write(
        report.applied.length > 0
          ? `Applied ${report.applied.length} migration(s) to ${redactUrl(config.store.url)}: ${report.applied.join(", ")}\n`
          : `Store ${redactUrl(config.store.url)} is up to date (${report.current.length} migration(s)).\n`,
      );
    } finally {
      await store.close();
    }
  });
}
