import type { Command } from "commander";
import { loadConfig } from "../../config/index.js";
import type { SchemaReport } from "../../../connectors/types.js";
import { openCrmConnector } from "../../daemon/crm-connectors.js";
import { createLogger } from "../../log/logger.js";
import { loadMappingFile } from "../../mapping/index.js";
import { CosellError } from "../../shared/errors.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";

export function registerCrmCommands(program: Command, io: CliIo): void {
  const crm = program.command("crm").description("work with a pair's CRM");
  const check = crm
    .command("check")
    .description("check that the CRM has every field the pair's mapping writes and reads, and say what to create")
    .requiredOption("-p, --pair <name>", "the sync pair")
    .option("--fix", "create what is missing, where the CRM allows it through its API (HubSpot properties); shows the plan first")
    .addHelpText("after", "\nExit codes: 0 the CRM has everything (or --fix created it), 1 something is missing (listed), 78 bad config or mapping.");
  withJsonOption(withConfigOption(check)).action(async (options: ConfigOptions & JsonOptions & { pair: string; fix?: boolean }) => {
    const { config } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
    const pair = config.pairs.find((p) => p.name === options.pair);
    if (!pair) throw new CosellError("CLI_PAIR_UNKNOWN", `No pair "${options.pair}" in the config (known: ${config.pairs.map((p) => p.name).join(", ")}).`);
    const crmConfig = config.crms[pair.crm];
    if (!crmConfig) throw new CosellError("CLI_PAIR_UNKNOWN", `Pair "${pair.name}" names CRM "${pair.crm}", which the config does not define.`);
    const { mapping } = await loadMappingFile(pair.mapping, io.cwd);
    const logger = createLogger({ level: "warn", pretty: "never", destination: io.stderr as never });
    const opened = await openCrmConnector(pair.crm, crmConfig, logger);
    let report: SchemaReport;
    let created: string[] = [];
    try {
      report = await opened.connector.checkSchema(mapping.requirements());
      const fixer = opened.connector as { fixSchema?: (r: SchemaReport) => Promise<string[]> };
      if (options.fix && !report.ok) {
        if (!fixer.fixSchema) throw new CosellError("CRM_FIX_UNSUPPORTED", `${crmConfig.type} fields cannot be created through its API by this tool; create them as listed (connectors/${crmConfig.type}/README.md).`);
        if (!options.json) {
          io.stdout.write(`${pair.name}: will create in ${pair.crm}:\n`);
          for (const problem of report.problems.filter((p) => p.problem === "missing")) io.stdout.write(`  ${problem.object}.${problem.field}\n`);
        }
        created = await fixer.fixSchema(report);
        report = await opened.connector.checkSchema(mapping.requirements());
      }
    } finally {
      await opened.close();
    }
    if (options.json) printJson(io, { pair: pair.name, crm: pair.crm, ...report, ...(options.fix ? { created } : {}) });
    else if (report.ok) io.stdout.write(`${created.length > 0 ? `Created ${created.length}: ${created.join(", ")}\n` : options.fix ? "Nothing to do.\n" : ""}${pair.name}: ${pair.crm} has every field ${pair.mapping} needs.\n`);
    else {
      io.stdout.write(`${pair.name}: ${pair.crm} lacks ${report.problems.length} thing(s) ${pair.mapping} needs:\n`);
      for (const problem of report.problems) io.stdout.write(`  ${problem.object}${problem.field ? `.${problem.field}` : ""}: ${problem.message}\n`);
    }
    if (!report.ok) throw Object.assign(new CosellError("CRM_SCHEMA_INCOMPLETE", "The CRM lacks fields the mapping needs."), { alreadyReported: true });
  });
}
