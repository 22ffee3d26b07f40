import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * `${NAME}`, `${NAME:-default}` and `${file:PATH}` references in config strings. A secret must be
 * exactly one reference without a default, so the clear value never sits in the file.
 */
const REFERENCE = /\$\{(?:file:(?<file>[^}]+)|(?<env>[A-Za-z_][A-Za-z0-9_]*)(?::-(?<fallback>[^}]*))?)\}/g;
const SINGLE_SECRET_REFERENCE = /^\$\{(?:file:[^}]+|[A-Za-z_][A-Za-z0-9_]*)\}$/;

export interface InterpolationContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The key holds a secret: a missing variable is then never "fixed" with a default in the file. */
  secret?: boolean;
}

export interface InterpolationProblem {
  code: "CONFIG_ENV_MISSING" | "CONFIG_SECRET_FILE_UNREADABLE";
  message: string;
}

export function hasReference(value: string): boolean {
  REFERENCE.lastIndex = 0;
  return REFERENCE.test(value);
}

export function isSingleSecretReference(value: string): boolean {
  return SINGLE_SECRET_REFERENCE.test(value.trim());
}

export function interpolate(
  value: string,
  context: InterpolationContext,
): { value: string; problems: InterpolationProblem[] } {
  const problems: InterpolationProblem[] = [];
  const replaced = value.replace(REFERENCE, (_match, file: string | undefined, env: string | undefined, fallback: string | undefined) => {
    if (file !== undefined) {
      const path = resolve(context.cwd, file.trim());
      try {
        // Secret files conventionally end in a newline that is not part of the secret.
        return readFileSync(path, "utf8").replace(/\r?\n$/, "");
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? "unreadable";
        problems.push({
          code: "CONFIG_SECRET_FILE_UNREADABLE",
          message: `cannot read secret file ${path} (${reason}); create it, or make it readable by the service user`,
        });
        return "";
      }
    }
    const name = env ?? "";
    const found = context.env[name];
    if (found !== undefined && found !== "") return found;
    if (fallback !== undefined) return fallback;
    const alternative = context.secret
      ? "or point the key at a secret file with ${file:PATH}"
      : `or give a default: \${${name}:-value}`;
    problems.push({
      code: "CONFIG_ENV_MISSING",
      message: `environment variable ${name} is not set; set it in the service's environment (${alternative})`,
    });
    return "";
  });
  return { value: replaced, problems };
}
