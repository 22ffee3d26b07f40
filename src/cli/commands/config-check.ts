import type { Command } from "commander";
import { describeConfig, loadConfig } from "../../config/index.js";
import { loadPairMappings } from "../../daemon/pair-mappings.js";
import { silentLogger } from "../../log/logger.js";
import { MappingRegistry } from "../../mapping/index.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";

export function registerConfigCheck(parent: Command, io: CliIo): void {
  const command = parent
    .command("check")
    .description("validate a config file (references resolved, secrets checked) and the mapping of each pair, without starting anything")
    .option("--no-mappings", "skip checking the pairs' mapping files")
    .addHelpText("after", "\nExit codes: 0 valid, 78 invalid or missing (every problem is listed with file:line).");
  withJsonOption(withConfigOption(command)).action(async (options: ConfigOptions & JsonOptions & { mappings: boolean }) => {
    const { file, config } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
    if (options.mappings) await loadPairMappings(config, new MappingRegistry(silentLogger(), io.cwd));
    const summary = describeConfig(config);
    if (options.json) {
      printJson(io, { ok: true, file, ...summary });
      return;
    }
    io.stdout.write(`${options.config}: OK\n`);
    io.stdout.write(`  store: ${summary.store}${summary.sandbox ? " (sandboxes on)" : ""}\n`);
    for (const pair of summary.pairs) {
      const crm = summary.crms.find((c) => c.name === pair.crm);
      io.stdout.write(
        `  pair ${pair.name}: Partner Center ${pair.partnerCenter} <-> ${crm?.type ?? "?"} ${pair.crm}, mapping ${pair.mapping}${pair.enabled ? "" : " (disabled)"}\n`,
      );
    }
  });
}
