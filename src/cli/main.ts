import { Command, CommanderError } from "commander";
import { isCosellError, toCosellError } from "../shared/errors.js";
import { registerConfigCheck } from "./commands/config-check.js";
import { registerCrmCommands } from "./commands/crm.js";
import { registerDbMigrate } from "./commands/db-migrate.js";
import { registerDeadlinesCommand } from "./commands/deadlines.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerLeadsCommands } from "./commands/leads.js";
import { registerMappingCommands } from "./commands/mapping.js";
import { registerOutboxCommands } from "./commands/outbox.js";
import { registerRoutingCommands } from "./commands/routing.js";
import { registerRun } from "./commands/run.js";
import { registerSync } from "./commands/sync.js";
import { registerSandboxCommands } from "./commands/sandbox.js";
import { registerWebhookCommands } from "./commands/webhook.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import type { CliIo } from "./io.js";
import { defaultIo, printError } from "./io.js";
import { packageInfo } from "../shared/package-info.js";

export function buildProgram(io: CliIo): Command {
  const info = packageInfo();
  const program = new Command()
    .name("cosell-sync")
    .description(info.description)
    .version(info.version, "-V, --version", "print the version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .exitOverride();

  program
    .command("version")
    .description("print the version (with --json: name, version and Node.js version)")
    .option("--json", "print as JSON")
    .action((options: { json?: boolean }) => {
      io.stdout.write(
        options.json ? `${JSON.stringify({ name: info.name, version: info.version, node: process.version })}\n` : `${info.version}\n`,
      );
    });

  const config = program.command("config").description("work with config files");
  registerConfigCheck(config, io);

  const db = program.command("db").description("work with the store");
  registerDbMigrate(db, io);

  registerRun(program, io);
  registerWebhookCommands(program, io);
  registerOutboxCommands(program, io);
  registerLeadsCommands(program, io);
  registerDeadlinesCommand(program, io);
  registerDoctor(program, io);
  registerSync(program, io);
  registerMappingCommands(program, io);
  registerCrmCommands(program, io);
  registerRoutingCommands(program, io);
  registerSandboxCommands(program, io);

  for (const command of [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)]) {
    command.exitOverride().configureOutput({ writeOut: (t) => io.stdout.write(t), writeErr: (t) => io.stderr.write(t) });
  }
  return program;
}

/** Runs the CLI and returns the exit code; never calls process.exit itself. */
export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv]);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const cosell = isCosellError(error) ? error : toCosellError(error);
    const json = argv.includes("--json");
    // A command that already printed its own report (mapping validate) only sets the exit code.
    if (!(error as { alreadyReported?: boolean }).alreadyReported) printError(io, cosell, json);
    return exitCodeFor(cosell);
  }
}
