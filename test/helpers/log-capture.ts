import { Writable } from "node:stream";
import type { Logger } from "../../src/log/logger.js";
import { createLogger } from "../../src/log/logger.js";

/** A JSON logger whose lines the test can read back. */
export function captureLogger(level = "trace"): { logger: Logger; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString("utf8"));
      callback();
    },
  });
  const logger = createLogger({ level, pretty: "never", destination });
  const text = () => chunks.join("");
  const lines = () =>
    text()
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, text };
}
