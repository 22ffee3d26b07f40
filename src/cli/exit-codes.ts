import type { CosellError } from "../shared/errors.js";

/** Exit codes, after sysexits(3) where one fits, so service managers and scripts can tell causes apart. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** EX_UNAVAILABLE: a service we need (the store) did not answer. */
  unavailable: 69,
  /** EX_CONFIG: the config file is missing or invalid. */
  config: 78,
} as const;

export function exitCodeFor(error: CosellError): number {
  if (error.code.startsWith("CONFIG_") || error.code === "MAPPING_INVALID" || error.code === "MAPPING_NOT_FOUND") return EXIT.config;
  if (error.code === "STORE_UNAVAILABLE") return EXIT.unavailable;
  if (error.code === "CLI_USAGE") return EXIT.usage;
  return EXIT.failure;
}
