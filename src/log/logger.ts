import type { DestinationStream, Logger, LoggerOptions } from "pino";
import { pino, stdSerializers } from "pino";
import pretty from "pino-pretty";
import { redactionPaths } from "../shared/secrets.js";

export type { Logger } from "pino";

export interface CreateLoggerOptions {
  level?: string;
  /** `auto`: human-readable only when the output is a terminal. */
  pretty?: "auto" | "always" | "never";
  /** Where lines go; stdout by default. Tests pass a stream to read the lines back. */
  destination?: DestinationStream & { isTTY?: boolean };
  name?: string;
}

export const REDACTED = "[redacted]";

/** The root logger: pino JSON lines, secrets censored at any common depth. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stdout;
  const isTty = Boolean((destination as { isTTY?: boolean }).isTTY);
  const usePretty = options.pretty === "always" || (options.pretty !== "never" && isTty);
  const settings: LoggerOptions = {
    name: options.name ?? "cosell-sync",
    level: options.level ?? "info",
    redact: { paths: redactionPaths(), censor: REDACTED },
    serializers: { err: stdSerializers.err, error: stdSerializers.err },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const stream = usePretty
    ? pretty({ destination, colorize: isTty, translateTime: "SYS:standard", ignore: "pid,hostname", sync: true })
    : destination;
  return pino(settings, stream);
}

/** A log file (created with its directory), written synchronously so a stop loses no line. */
export function fileDestination(path: string): NodeJS.WritableStream {
  return pino.destination({ dest: path, mkdir: true, sync: true }) as unknown as NodeJS.WritableStream;
}

export interface LogContext {
  pair?: string;
  leadId?: string;
  job?: string | number;
}

/** A child logger for one component, carrying the pair / lead / job it works on. */
export function componentLogger(parent: Logger, component: string, context: LogContext = {}): Logger {
  const bindings: Record<string, unknown> = { component };
  for (const [key, value] of Object.entries(context)) if (value !== undefined) bindings[key] = value;
  return parent.child(bindings);
}

/** A logger that drops everything: for library callers and tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
