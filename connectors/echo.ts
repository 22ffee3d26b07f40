import type { ChangesRequest } from "./types.js";

const NONE: ReadonlyMap<string, Record<string, unknown>> = new Map();

/** What we last wrote to a page's records our integration user touched last: one lookup per page. */
export async function pushedFor(request: ChangesRequest, externalIds: Array<string | undefined>): Promise<ReadonlyMap<string, Record<string, unknown>>> {
  const ids = [...new Set(externalIds.filter((id): id is string => Boolean(id)))];
  return ids.length > 0 && request.lastPushed ? request.lastPushed(ids) : NONE;
}

/**
 * Our write is the record's last one. It hides nothing unless it left a seller's value different
 * from what we pushed (a seller edit we then wrote other fields over): then it is kept as a change.
 */
export function isEcho(record: Record<string, unknown>, fields: string[], pushed: Record<string, unknown> | undefined): boolean {
  if (!pushed) return true;
  return fields.every((field) => !(field in pushed) || JSON.stringify(pushed[field] ?? null) === JSON.stringify(record[field] ?? null));
}
