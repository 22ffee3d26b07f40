import type { FSWatcher } from "node:fs";
import { watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import { CosellError, toCosellError } from "../shared/errors.js";
import type { CompiledMapping } from "./compile.js";
import { parseMappingText } from "./load.js";

export async function loadMappingFile(file: string, cwd = process.cwd()): Promise<ReturnType<typeof parseMappingText>> {
  const absolute = resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(absolute, "utf8");
  } catch (error) {
    throw new CosellError("MAPPING_NOT_FOUND", `Cannot read mapping file ${file} (${(error as NodeJS.ErrnoException).code ?? "unreadable"}). Check pairs[].mapping in the config.`, { cause: error });
  }
  return parseMappingText(text, file);
}

interface Entry {
  file: string;
  current: CompiledMapping;
  lastError?: CosellError;
  watcher?: FSWatcher;
  timer?: NodeJS.Timeout;
}

export type ReloadOutcome = { file: string; outcome: "reloaded" } | { file: string; outcome: "kept-last-good"; error: CosellError };

/**
 * The loaded mapping of every pair. A file is compiled once; on change it is reloaded, and a broken
 * edit leaves the last good version in service (and says so) until the file is fixed.
 */
export class MappingRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #log: Logger;
  readonly #cwd: string;
  readonly #listeners: Array<(outcome: ReloadOutcome) => void> = [];

  constructor(logger: Logger, cwd = process.cwd()) {
    this.#log = componentLogger(logger, "mapping");
    this.#cwd = cwd;
  }

  /** Loads a file the first time; a bad file here is fatal (there is no last good version yet). */
  async load(file: string): Promise<CompiledMapping> {
    const existing = this.#entries.get(file);
    if (existing) return existing.current;
    const { mapping, warnings } = await loadMappingFile(file, this.#cwd);
    for (const warning of warnings) this.#log.warn({ file, line: warning.line, path: warning.path, code: warning.code }, warning.message);
    this.#entries.set(file, { file, current: mapping });
    this.#log.info({ file, crm: mapping.crm }, "mapping loaded");
    return mapping;
  }

  get(file: string): CompiledMapping {
    const entry = this.#entries.get(file);
    if (!entry) throw new CosellError("MAPPING_NOT_LOADED", `Mapping ${file} was never loaded.`);
    return entry.current;
  }

  /** The last reload error of a file still served from its last good version, if any. */
  lastError(file: string): CosellError | undefined {
    return this.#entries.get(file)?.lastError;
  }

  onReload(listener: (outcome: ReloadOutcome) => void): void {
    this.#listeners.push(listener);
  }

  async reload(file: string): Promise<ReloadOutcome> {
    const entry = this.#entries.get(file);
    if (!entry) throw new CosellError("MAPPING_NOT_LOADED", `Mapping ${file} was never loaded.`);
    let outcome: ReloadOutcome;
    try {
      const { mapping, warnings } = await loadMappingFile(file, this.#cwd);
      entry.current = mapping;
      delete entry.lastError;
      for (const warning of warnings) this.#log.warn({ file, line: warning.line, path: warning.path, code: warning.code }, warning.message);
      this.#log.info({ file }, "mapping reloaded");
      outcome = { file, outcome: "reloaded" };
    } catch (error) {
      const failure = toCosellError(error, "MAPPING_INVALID");
      entry.lastError = failure;
      this.#log.error({ file, code: failure.code, issues: failure.details.issues }, `mapping change rejected; still using the last good version: ${failure.message}`);
      outcome = { file, outcome: "kept-last-good", error: failure };
    }
    for (const listener of this.#listeners) listener(outcome);
    return outcome;
  }

  /** Reloads each file shortly after it changes on disk (editors save in several writes). */
  watch(debounceMs = 200): void {
    for (const entry of this.#entries.values()) {
      if (entry.watcher) continue;
      entry.watcher = watch(resolve(this.#cwd, entry.file), () => {
        if (entry.timer) clearTimeout(entry.timer);
        entry.timer = setTimeout(() => void this.reload(entry.file), debounceMs);
        entry.timer.unref();
      });
      entry.watcher.unref();
    }
  }

  close(): void {
    for (const entry of this.#entries.values()) {
      entry.watcher?.close();
      if (entry.timer) clearTimeout(entry.timer);
      delete entry.watcher;
    }
  }
}
