import type { Document, Node } from "yaml";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";

/**
 * A YAML file kept with its positions, so that every problem found later (by zod, or by checks of
 * our own) can be reported as file:line:column with the key path. Shared by the config and mapping
 * loaders.
 */
export type KeyPath = Array<string | number>;

const MAX_SYNTAX_ERRORS = 3;

export interface SourceIssue {
  code: string;
  /** Dotted key path, e.g. `pairs[0].crm`. */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

export interface ScalarAt {
  path: KeyPath;
  node: { value: unknown; range?: [number, number, number] | null };
}

export class YamlSource {
  readonly doc: Document;
  readonly #lines: LineCounter;

  private constructor(doc: Document, lines: LineCounter) {
    this.doc = doc;
    this.#lines = lines;
  }

  /** Parses the text; syntax errors come back as issues instead of a document. */
  static parse(text: string): { source: YamlSource; issues: [] } | { source?: undefined; issues: SourceIssue[] } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      // One syntax error makes the parser stumble over everything after it; the first few say it all.
      const shown = doc.errors.slice(0, MAX_SYNTAX_ERRORS);
      const issues: SourceIssue[] = shown.map((error) => ({
        code: "YAML_SYNTAX",
        path: "",
        ...toLineColumn(lines.linePos(error.pos[0])),
        message: error.message.split("\n")[0] ?? error.message,
      }));
      const more = doc.errors.length - shown.length;
      if (more > 0) issues.push({ code: "YAML_SYNTAX", path: "", message: `and ${more} more syntax error${more === 1 ? "" : "s"}, most likely caused by the first one; fix it and check again` });
      return { issues };
    }
    const source = new YamlSource(doc, lines);
    try {
      // Resolving aliases can still fail (an alias to nothing, or an alias bomb past the limit).
      source.toJS();
    } catch (error) {
      return { issues: [{ code: "YAML_SYNTAX", path: "", message: `${(error as Error).message.split("\n")[0]}; YAML anchors and aliases must refer to a defined anchor` }] };
    }
    return { source, issues: [] };
  }

  /** The document as plain data, as it stands now (callers may rewrite scalars first). */
  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 100 }) ?? {};
  }

  /** Every scalar with its key path, in document order. */
  *scalars(node: unknown = this.doc.contents, path: KeyPath = []): Generator<ScalarAt> {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        yield* this.scalars(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      for (const [index, item] of node.items.entries()) yield* this.scalars(item, [...path, index]);
    } else if (isScalar(node)) {
      yield { path, node };
    }
  }

  positionOf(offset: number | undefined): { line?: number; column?: number } {
    return offset === undefined ? {} : toLineColumn(this.#lines.linePos(offset));
  }

  /** The line of the node at `path`, or of its closest existing parent when the key is missing. */
  locate(path: KeyPath): { line?: number; column?: number; missing?: boolean } {
    for (let depth = path.length; depth >= 0; depth -= 1) {
      const node = depth === 0 ? this.doc.contents : (this.doc.getIn(path.slice(0, depth), true) as Node | undefined);
      const offset = node && typeof node === "object" && "range" in node ? node.range?.[0] : undefined;
      if (offset !== undefined) return { ...this.positionOf(offset), ...(depth < path.length ? { missing: true } : {}) };
    }
    return { missing: true };
  }

  issueAt(path: KeyPath, code: string, message: string): SourceIssue {
    const { missing: _missing, ...at } = this.locate(path);
    return { code, path: formatPath(path), ...at, message };
  }

  /** zod's issues, placed on lines, with "did you mean" for unknown keys. */
  fromZod(issues: readonly z.core.$ZodIssue[], vocabulary: ReadonlySet<string>, codes: { unknownKey: string; invalid: string }): SourceIssue[] {
    const out: SourceIssue[] = [];
    for (const issue of issues) {
      const path = issue.path.filter((part): part is string | number => typeof part !== "symbol");
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          const suggestion = closest(key, vocabulary);
          out.push(this.issueAt([...path, key], codes.unknownKey, `is not a known option here${suggestion ? `; did you mean "${suggestion}"?` : ""}`));
        }
        continue;
      }
      const located = this.locate(path);
      let message = issue.message;
      if (issue.code === "invalid_type" && located.missing) message = "is required but missing";
      const { missing: _missing, ...at } = located;
      out.push({ code: codes.invalid, path: formatPath(path), ...at, message });
    }
    return out;
  }
}

export function formatPath(path: KeyPath): string {
  return path.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${part}` : part), "");
}

export function sortIssues<T extends SourceIssue>(issues: readonly T[]): T[] {
  return [...issues].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || a.path.localeCompare(b.path));
}

export function formatIssues(file: string, issues: readonly SourceIssue[]): string {
  return issues.map((issue) => `  ${file}:${issue.line ?? "?"}${issue.column ? `:${issue.column}` : ""} ${issue.path || "(file)"}: ${issue.message}`).join("\n");
}

function toLineColumn(pos: { line?: number; col?: number }): { line?: number; column?: number } {
  return pos.line === undefined ? {} : { line: pos.line, ...(pos.col === undefined ? {} : { column: pos.col }) };
}

/** The vocabulary word within two edits of `word` (or sharing a long prefix), if any. */
export function closest(word: string, vocabulary: ReadonlySet<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  let bestPrefix = 0;
  const lower = word.toLowerCase();
  for (const candidate of vocabulary) {
    const other = candidate.toLowerCase();
    const distance = editDistance(lower, other);
    // On a tie, the word that starts the same way is the likelier typo ("mapin": mapping, not mail).
    const prefix = commonPrefix(lower, other);
    if (distance < bestDistance || (distance === bestDistance && prefix > bestPrefix)) {
      bestDistance = distance;
      bestPrefix = prefix;
      best = candidate;
    }
  }
  const limit = word.length <= 4 ? 1 : word.length <= 8 ? 2 : 3;
  return best !== undefined && bestDistance <= limit ? best : undefined;
}

function commonPrefix(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n += 1;
  return n;
}

/** Edit distance where swapping two neighbouring letters is one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = Array.from({ length: rows * cols }, (_, i) => (i < cols ? i : i % cols === 0 ? i / cols : 0));
  const at = (i: number, j: number) => d[i * cols + j] as number;
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/** Every object key a zod schema knows, for "did you mean". */
export function schemaVocabulary(schema: z.ZodType): Set<string> {
  const words = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (node: unknown): void => {
    if (!node || typeof node !== "object" || seen.has(node)) return;
    seen.add(node);
    const def = (node as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return;
    if (def.type === "object" && def.shape && typeof def.shape === "object") {
      for (const [key, value] of Object.entries(def.shape as Record<string, unknown>)) {
        words.add(key);
        walk(value);
      }
    }
    for (const key of ["innerType", "in", "out", "element", "valueType", "keyType", "schema"]) walk(def[key]);
    if (Array.isArray(def.options)) for (const option of def.options) walk(option);
  };
  walk(schema);
  return words;
}
