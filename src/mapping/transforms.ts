import type { TransformStep } from "./schema.js";

/**
 * The fixed transform library: every step compiles to a plain function once, so applying a mapping
 * is a walk over closures. Steps never throw; a value they cannot handle becomes undefined, which
 * `default` or `required` then deal with.
 */
export type Step = (value: unknown) => unknown;

const CURRENCY = /^[A-Z]{3}$/;

function asDate(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === "number" && Number.isFinite(value)) return new Date(value);
  if (typeof value === "string" && value.trim() !== "") {
    const parsed = /^\d{10,}$/.test(value.trim()) ? new Date(Number(value)) : new Date(value);
    return Number.isNaN(parsed.getTime()) ? undefined : parsed;
  }
  return undefined;
}

function asNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && value.trim() !== "") {
    const parsed = Number(value.replace(/[,\s]/g, ""));
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

function text(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Date) return value.toISOString();
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** yyyy-mm-dd and offset-stamped local time in a time zone, with one formatter per zone. */
function zonedFormatter(timeZone: string): (date: Date) => { date: string; datetime: string } {
  const formatter = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  return (date) => {
    const parts: Record<string, string> = {};
    for (const part of formatter.formatToParts(date)) parts[part.type] = part.value;
    const day = `${parts.year}-${parts.month}-${parts.day}`;
    const local = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
    const offsetMinutes = Math.round((local - Math.floor(date.getTime() / 1000) * 1000) / 60_000);
    const sign = offsetMinutes >= 0 ? "+" : "-";
    const abs = Math.abs(offsetMinutes);
    const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
    return { date: day, datetime: `${day}T${parts.hour}:${parts.minute}:${parts.second}${offset}` };
  };
}

function dateStep(format: NonNullable<TransformStep["date"]>, timeZone: string | undefined): Step {
  const zoned = timeZone && timeZone !== "UTC" ? zonedFormatter(timeZone) : undefined;
  return (value) => {
    const date = asDate(value);
    if (!date) return undefined;
    switch (format) {
      case "iso":
        return date.toISOString();
      case "date":
        return zoned ? zoned(date).date : date.toISOString().slice(0, 10);
      case "datetime":
        return zoned ? zoned(date).datetime : `${date.toISOString().slice(0, 19)}+00:00`;
      case "epoch-ms":
        return date.getTime();
      case "epoch-ms-date": {
        // HubSpot date properties want midnight UTC of the calendar date.
        const day = zoned ? zoned(date).date : date.toISOString().slice(0, 10);
        return Date.parse(`${day}T00:00:00Z`);
      }
    }
  };
}

function titleCase(value: string): string {
  return value.toLowerCase().replace(/(^|[\s\-'’])(\p{L})/gu, (_match, gap: string, letter: string) => `${gap}${letter.toUpperCase()}`);
}

export function compileStep(step: TransformStep, tables: Record<string, Record<string, unknown>>): Step {
  if (step.map !== undefined) {
    const table = step.map;
    return (value) => {
      const key = text(value);
      return key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
    };
  }
  if (step.date !== undefined) return dateStep(step.date, step.timeZone);
  if (step.truncate !== undefined) {
    const max = step.truncate;
    return (value) => {
      const s = text(value);
      // At most `max` UTF-16 units means at most `max` characters: no need to count code points.
      if (s === undefined || s.length <= max) return s;
      const chars = [...s];
      return chars.length <= max ? s : `${chars.slice(0, Math.max(0, max - 1)).join("")}…`;
    };
  }
  if (step.case !== undefined) {
    const mode = step.case;
    return (value) => {
      const s = text(value);
      if (s === undefined) return undefined;
      return mode === "upper" ? s.toUpperCase() : mode === "lower" ? s.toLowerCase() : titleCase(s);
    };
  }
  if (step.splitName !== undefined) {
    const part = step.splitName;
    return (value) => {
      const words = (text(value) ?? "").trim().split(/\s+/).filter(Boolean);
      if (words.length === 0) return undefined;
      if (words.length === 1) return part === "last" ? words[0] : undefined;
      return part === "first" ? words.slice(0, -1).join(" ") : words[words.length - 1];
    };
  }
  if (step.round !== undefined) {
    const factor = 10 ** step.round;
    return (value) => {
      const n = asNumber(value);
      return n === undefined ? undefined : Math.round(n * factor) / factor;
    };
  }
  if (step.currencyCode !== undefined) {
    return (value) => {
      const code = text(value)?.trim().toUpperCase();
      return code && CURRENCY.test(code) ? code : undefined;
    };
  }
  if (step.lookup !== undefined) {
    const table = tables[step.lookup] ?? {};
    return (value) => {
      const key = text(value);
      return key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
    };
  }
  if (step.join !== undefined) {
    const separator = step.join;
    return (value) => (Array.isArray(value) ? value.map(text).filter((s): s is string => s !== undefined && s !== "").join(separator) || undefined : value);
  }
  if (step.pluck !== undefined) {
    const key = step.pluck;
    return (value) => (Array.isArray(value) ? value.map((item) => (item && typeof item === "object" ? (item as Record<string, unknown>)[key] : undefined)).filter((v) => v !== undefined) : undefined);
  }
  if (step.first !== undefined) return (value) => (Array.isArray(value) ? value[0] : value);
  if (step.trim !== undefined) return (value) => (typeof value === "string" ? value.trim() || undefined : value);
  if (step.equals !== undefined) {
    const expected = step.equals;
    return (value) => value === expected || (value !== undefined && value !== null && text(value) === text(expected));
  }
  if (step.parseDate !== undefined) return (value) => asDate(value);
  if (step.parseNumber !== undefined) return (value) => asNumber(value);
  return (value) => value;
}

export function compilePipeline(steps: readonly TransformStep[], tables: Record<string, Record<string, unknown>>): Step {
  const compiled = steps.map((step) => compileStep(step, tables));
  if (compiled.length === 0) return (value) => value;
  if (compiled.length === 1) return compiled[0] as Step;
  return (value) => {
    let current = value;
    for (const step of compiled) {
      if (current === undefined) return undefined;
      current = step(current);
    }
    return current;
  };
}

/** Fill a template's {path} placeholders; missing values become empty text. */
export function compileTemplate(template: string, getters: ReadonlyMap<string, (source: unknown) => unknown>): (source: unknown) => string | undefined {
  const parts: Array<string | ((source: unknown) => unknown)> = [];
  let last = 0;
  for (const match of template.matchAll(/\{([^{}]+)\}/g)) {
    parts.push(template.slice(last, match.index));
    const getter = getters.get((match[1] ?? "").trim());
    if (getter) parts.push(getter);
    last = (match.index ?? 0) + match[0].length;
  }
  parts.push(template.slice(last));
  return (source) => {
    let out = "";
    for (const part of parts) out += typeof part === "string" ? part : (text(part(source)) ?? "");
    const trimmed = out.trim();
    return trimmed === "" ? undefined : trimmed;
  };
}

export { asDate, asNumber, text as asText };
