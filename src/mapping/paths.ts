import { closest } from "../shared/yaml-source.js";
import type { ShapeNode } from "./source.js";
import { KNOWN_PATHS } from "./source.js";

export type Segment = string | number;
export type Getter = (source: unknown) => unknown;

export function parsePath(path: string): Segment[] {
  const segments: Segment[] = [];
  // List items: `contacts[0]`, or `contacts.0`, which stays plain text inside a YAML flow map.
  for (const match of path.matchAll(/([A-Za-z_$][\w$]*)|\[(\d+)\]|\.(\d+)/g)) {
    if (match[1] !== undefined) segments.push(match[1]);
    else segments.push(Number(match[2] ?? match[3]));
  }
  return segments;
}

/** A closure that walks the path; a missing step gives undefined, never an exception. */
export function compileGetter(path: string): Getter {
  const segments = parsePath(path);
  return (source) => {
    let value: unknown = source;
    for (const segment of segments) {
      if (value === null || value === undefined) return undefined;
      value = (value as Record<string | number, unknown>)[segment];
    }
    return value;
  };
}

/**
 * Checks a `lead.*` or `sync.*` path against the known shape and explains the first unknown step;
 * `referral.*` paths are open, since Partner Center sends fields we do not know.
 */
export function checkPath(path: string): string | undefined {
  const segments = parsePath(path);
  const root = segments[0];
  if (root === "referral") return undefined;
  if (root !== "lead" && root !== "sync") return `must start with referral., lead. or sync.`;
  let shape: ShapeNode = KNOWN_PATHS[root];
  const walked: string[] = [root];
  for (const segment of segments.slice(1)) {
    // A leaf may hold a list of plain values (industries, solutions): an index is fine, a name is not.
    if (shape === null && typeof segment === "number") {
      walked.push(`[${segment}]`);
      continue;
    }
    if (shape === null) return `${walked.join(".")} has no parts`;
    if (typeof segment === "number") {
      const element: ShapeNode | undefined = shape["[]"];
      if (element === undefined) return `${walked.join(".")} is not a list`;
      shape = element;
      walked.push(`[${segment}]`);
      continue;
    }
    if (!(segment in shape)) {
      const known = new Set(Object.keys(shape).filter((key) => key !== "[]"));
      const suggestion = closest(segment, known);
      return `${walked.join(".")} has no "${segment}"${suggestion ? `; did you mean "${suggestion}"?` : ` (known: ${[...known].join(", ")})`}`;
    }
    shape = shape[segment] ?? null;
    walked.push(segment);
  }
  return undefined;
}

/** The `{path}` placeholders of a template, in order. */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(/\{([^{}]+)\}/g)].map((match) => (match[1] ?? "").trim());
}
