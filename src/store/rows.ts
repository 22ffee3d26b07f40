/** Column value conversions shared by the repositories (SQLite gives numbers, PostgreSQL Dates). */
export function toDate(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === "number") return new Date(value);
  if (typeof value === "string") return /^\d+$/.test(value) ? new Date(Number(value)) : new Date(value);
  throw new TypeError(`not a stored time: ${String(value)}`);
}

export function toOptionalDate(value: unknown): Date | undefined {
  return value === null || value === undefined ? undefined : toDate(value);
}

export function toOptional<T>(value: T | null | undefined): T | undefined {
  return value === null ? undefined : value;
}

/** PostgreSQL returns counts and bigint ids as strings. */
export function toNumber(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

export function parseJson(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  return typeof value === "string" ? (JSON.parse(value) as unknown) : value;
}
