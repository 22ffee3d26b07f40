import type { Command } from "commander";
import { Option } from "commander";
import { DEFAULT_CONFIG_PATH } from "../config/index.js";

export interface ConfigOptions {
  config: string;
}

export interface JsonOptions {
  json?: boolean;
}

export function withConfigOption(command: Command): Command {
  return command.addOption(
    new Option("-c, --config <path>", "config file").env("COSELL_CONFIG").default(DEFAULT_CONFIG_PATH),
  );
}

export function withJsonOption(command: Command): Command {
  return command.option("--json", "print the result as JSON on stdout (for scripts)");
}
