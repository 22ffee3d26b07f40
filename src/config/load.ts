import { readFile } from "node:fs/promises";
import { relative, resolve } from "node:path";
import type { Document, Node } from "yaml";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { CosellError } from "../shared/errors.js";
import { isSecretKey } from "../shared/secrets.js";
import { hasReference, interpolate, isSingleSecretReference } from "./interpolate.js";
import type { Config } from "./schema.js";
import { configSchema } from "./schema.js";

export const DEFAULT_CONFIG_PATH = "config/default.yaml";

export interface ConfigIssue {
  code: string;
  /** Dotted key path, e.g. `pairs[0].crm`. */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  file: string;
  config: Config;
}

type Path = Array<string | number>;

/**
 * Reads, interpolates and validates a config file. Either the whole file is good and a typed config
 * comes back, or a CONFIG_INVALID error lists every problem with its key path and line: nothing is
 * half-applied.
 */
export async function loadConfig(file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const absolute = resolve(cwd, file);
  const fromCwd = relative(cwd, absolute);
  const shown = fromCwd && !fromCwd.startsWith("..") ? fromCwd : absolute;
  let text: string;
  try {
    text = await readFile(absolute, "utf8");
  } catch (error) {
    throw new CosellError(
      "CONFIG_NOT_FOUND",
      `Cannot read config file ${shown} (${(error as NodeJS.ErrnoException).code ?? "unreadable"}). Pass --config PATH, or copy config/example.yaml to start one.`,
      { details: { file: shown }, cause: error },
    );
  }
  return { file: absolute, config: parseConfigText(text, shown, { env: options.env ?? process.env, cwd }) };
}

export function parseConfigText(text: string, shownName: string, options: Required<LoadOptions>): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number | undefined) => (offset === undefined ? {} : lineCounter.linePos(offset));

  if (doc.errors.length > 0) {
    const issues = doc.errors.map((error) => ({
      code: "CONFIG_YAML_INVALID",
      path: "",
      ...toLineColumn(position(error.pos[0])),
      message: error.message.split("\n")[0] ?? error.message,
    }));
    throw invalid(shownName, issues);
  }

  const issues: ConfigIssue[] = [];
  for (const { path, node } of scalars(doc.contents, [])) {
    if (typeof node.value !== "string") continue;
    const raw = node.value;
    const key = path[path.length - 1];
    const at = toLineColumn(position(node.range?.[0]));
    const secret = typeof key === "string" && isSecretKey(key);
    if (secret && raw.trim() !== "" && !isSingleSecretReference(raw)) {
      issues.push({ code: "CONFIG_SECRET_IN_CLEAR", path: formatPath(path), ...at, message: clearSecretMessage(path) });
      continue;
    }
    const urlPassword = literalUrlPassword(raw);
    if (urlPassword) {
      issues.push({
        code: "CONFIG_SECRET_IN_CLEAR",
        path: formatPath(path),
        ...at,
        message: `holds a password in clear inside a URL; write the password as \${${envNameFor(path)}_PASSWORD} and set that variable in the service's environment`,
      });
      continue;
    }
    if (!hasReference(raw)) continue;
    const result = interpolate(raw, { ...options, secret });
    for (const problem of result.problems) issues.push({ code: problem.code, path: formatPath(path), ...at, message: problem.message });
    node.value = result.value;
  }

  const parsed = configSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    // A key whose reference failed already has its issue; the schema's "is empty" would repeat it.
    const reported = new Set(issues.map((issue) => issue.path));
    for (const issue of parsed.error.issues) {
      issues.push(...fromZodIssue(doc, issue, position).filter((found) => !reported.has(found.path)));
    }
  }
  if (issues.length > 0 || !parsed.success) throw invalid(shownName, sortIssues(issues));
  return parsed.data;
}

function* scalars(node: unknown, path: Path): Generator<{ path: Path; node: { value: unknown; range?: [number, number, number] | null } }> {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      yield* scalars(pair.value, [...path, key]);
    }
  } else if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) yield* scalars(item, [...path, index]);
  } else if (isScalar(node)) {
    yield { path, node };
  }
}

function fromZodIssue(doc: Document, issue: z.core.$ZodIssue, position: (offset?: number) => { line?: number; col?: number }): ConfigIssue[] {
  const path = issue.path.filter((part): part is string | number => typeof part !== "symbol");
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      code: "CONFIG_UNKNOWN_KEY",
      path: formatPath([...path, key]),
      ...locate(doc, [...path, key], position),
      message: `is not a known option here; check its spelling against config/example.yaml`,
    }));
  }
  const located = locate(doc, path, position);
  let message = issue.message;
  if (issue.code === "invalid_type" && located.missing) message = `is required but missing`;
  else if (issue.code === "invalid_union" && path[path.length - 1] !== "mode") message = `${issue.message}; check the mode and the options it needs`;
  const { missing: _missing, ...at } = located;
  return [{ code: "CONFIG_INVALID_VALUE", path: formatPath(path), ...at, message }];
}

/** The line of the node at `path`, or of its closest existing parent when the key is missing. */
function locate(doc: Document, path: Path, position: (offset?: number) => { line?: number; col?: number }): { line?: number; column?: number; missing?: boolean } {
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node = depth === 0 ? doc.contents : (doc.getIn(path.slice(0, depth), true) as Node | undefined);
    const offset = node && typeof node === "object" && "range" in node ? node.range?.[0] : undefined;
    if (offset !== undefined) return { ...toLineColumn(position(offset)), ...(depth < path.length ? { missing: true } : {}) };
  }
  return { missing: true };
}

function toLineColumn(pos: { line?: number; col?: number }): { line?: number; column?: number } {
  return pos.line === undefined ? {} : { line: pos.line, ...(pos.col === undefined ? {} : { column: pos.col }) };
}

export function formatPath(path: Path): string {
  return path.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${part}` : part), "");
}

function envNameFor(path: Path): string {
  return ["COSELL", ...path.map(String)]
    .join("_")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9_]/g, "_")
    .toUpperCase();
}

function clearSecretMessage(path: Path): string {
  const variable = envNameFor(path);
  const key = String(path[path.length - 1]);
  return `is a secret written in clear. Move it out of the file: write \`${key}: \${${variable}}\` and set ${variable} in the service's environment, or \`${key}: \${file:/run/secrets/${key}}\` to read it from a secret file`;
}

function literalUrlPassword(value: string): boolean {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/@:\s]*:(?<password>[^@/\s]+)@/i.exec(value.trim());
  const password = match?.groups?.password;
  return password !== undefined && !isSingleSecretReference(password);
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || a.path.localeCompare(b.path));
}

function invalid(file: string, issues: ConfigIssue[]): CosellError {
  const lines = issues.map((issue) => `  ${file}:${issue.line ?? "?"}${issue.column ? `:${issue.column}` : ""} ${issue.path || "(file)"}: ${issue.message}`);
  return new CosellError(
    "CONFIG_INVALID",
    `Config ${file} has ${issues.length} problem${issues.length === 1 ? "" : "s"}; nothing was started:\n${lines.join("\n")}`,
    { details: { file, issues } },
  );
}
