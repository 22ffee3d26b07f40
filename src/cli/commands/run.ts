import type { Command } from "commander";
import { loadConfig } from "../../config/index.js";
import { Daemon } from "../../daemon/daemon.js";
import { createLogger } from "../../log/logger.js";
import type { CliIo } from "../io.js";
import type { ConfigOptions } from "../options.js";
import { withConfigOption } from "../options.js";

/** Signals that ask for a clean stop; a second one while stopping exits at once. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

export function registerRun(program: Command, io: CliIo): void {
  const command = program
    .command("run")
    .description("run the sync daemon until SIGINT/SIGTERM (what `npm start` does with the default config)")
    .addHelpText(
      "after",
      "\nStops cleanly on Ctrl-C or SIGTERM; a second signal exits at once.\nExit codes: 0 clean stop, 69 store unreachable, 78 bad config, 1 other failure.",
    );
  withConfigOption(command).action(async (options: ConfigOptions) => {
    const { config } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
    const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, destination: io.stdout as never });
    const daemon = new Daemon({ config, logger, cwd: io.cwd });
    // Listen before starting: a signal that arrives during start-up stops the daemon once it is up,
    // instead of killing the process halfway.
    const stopRequested = new Promise<string>((resolve) => {
      for (const name of STOP_SIGNALS) process.once(name, () => resolve(name));
    });
    await daemon.start();
    const signal = await stopRequested;
    for (const name of STOP_SIGNALS) {
      process.removeAllListeners(name);
      process.once(name, () => {
        logger.warn({ signal: name }, "second signal while stopping; exiting now");
        logger.flush();
        process.exit(130);
      });
    }
    await daemon.stop(signal);
    logger.flush();
  });
}
