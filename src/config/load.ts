import { readFile } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { CosellError } from "../shared/errors.js";
import { isSecretKey } from "../shared/secrets.js";
import type { KeyPath, SourceIssue } from "../shared/yaml-source.js";
import { formatIssues, formatPath, schemaVocabulary, sortIssues, YamlSource } from "../shared/yaml-source.js";
import { hasReference, interpolate, isSingleSecretReference } from "./interpolate.js";
import type { Config } from "./schema.js";
import { configSchema } from "./schema.js";

export const DEFAULT_CONFIG_PATH = "config/default.yaml";

export type ConfigIssue = SourceIssue;

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  file: string;
  config: Config;
}

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
  const parsed = YamlSource.parse(text);
  if (!parsed.source) throw invalid(shownName, parsed.issues.map((issue) => ({ ...issue, code: "CONFIG_YAML_INVALID" })));
  const source = parsed.source;

  const issues: ConfigIssue[] = [];
  for (const { path, node } of source.scalars()) {
    if (typeof node.value !== "string") continue;
    const raw = node.value;
    const key = path[path.length - 1];
    const at = source.positionOf(node.range?.[0]);
    const secret = typeof key === "string" && isSecretKey(key);
    if (secret && raw.trim() !== "" && !isSingleSecretReference(raw)) {
      issues.push({ code: "CONFIG_SECRET_IN_CLEAR", path: formatPath(path), ...at, message: clearSecretMessage(path) });
      continue;
    }
    if (literalUrlPassword(raw)) {
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

  const validated = configSchema.safeParse(source.toJS());
  if (!validated.success) {
    // A key whose reference failed already has its issue; the schema's "is empty" would repeat it.
    const reported = new Set(issues.map((issue) => issue.path));
    const found = source.fromZod(validated.error.issues, vocabulary(), { unknownKey: "CONFIG_UNKNOWN_KEY", invalid: "CONFIG_INVALID_VALUE" });
    issues.push(...found.filter((issue) => !reported.has(issue.path)));
  }
  if (issues.length > 0 || !validated.success) throw invalid(shownName, sortIssues(issues));
  return validated.data;
}

let configVocabulary: Set<string> | undefined;
function vocabulary(): Set<string> {
  configVocabulary ??= schemaVocabulary(configSchema);
  return configVocabulary;
}

function envNameFor(path: KeyPath): string {
  return ["COSELL", ...path.map(String)]
    .join("_")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9_]/g, "_")
    .toUpperCase();
}

function clearSecretMessage(path: KeyPath): string {
  const variable = envNameFor(path);
  const key = String(path[path.length - 1]);
  return `is a secret written in clear. Move it out of the file: write \`${key}: \${${variable}}\` and set ${variable} in the service's environment, or \`${key}: \${file:/run/secrets/${key}}\` to read it from a secret file`;
}

function literalUrlPassword(value: string): boolean {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/@:\s]*:(?<password>[^@/\s]+)@/i.exec(value.trim());
  const password = match?.groups?.password;
  return password !== undefined && !isSingleSecretReference(password);
}

function invalid(file: string, issues: ConfigIssue[]): CosellError {
  return new CosellError(
    "CONFIG_INVALID",
    `Config ${file} has ${issues.length} problem${issues.length === 1 ? "" : "s"}; nothing was started:\n${formatIssues(file, issues)}`,
    { details: { file, issues } },
  );
}
