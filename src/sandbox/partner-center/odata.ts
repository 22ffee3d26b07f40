import type { WireReferral } from "../../partner-center/wire.js";
import { invalidRequest } from "./sandbox-error.js";

/**
 * The slice of OData the referral API documents: `$filter` with eq/ne/gt/ge/lt/le joined by
 * and/or, parentheses, string and date-time literals, and `team/any(t:t/email eq '…')`; `$orderby`
 * on createdDateTime or updatedDateTime. Anything else is refused as the real API refuses it.
 */
type Predicate = (referral: WireReferral) => boolean;

const FIELDS: Record<string, (r: WireReferral) => unknown> = {
  id: (r) => r.id,
  status: (r) => r.status,
  substatus: (r) => r.substatus,
  engagementId: (r) => r.engagementId,
  direction: (r) => r.direction,
  type: (r) => r.type,
  qualification: (r) => r.qualification,
  referralProgram: (r) => r.referralProgram,
  externalReferenceId: (r) => r.externalReferenceId,
  createdDateTime: (r) => r.createdDateTime,
  updatedDateTime: (r) => r.updatedDateTime,
};
const DATE_FIELDS = new Set(["createdDateTime", "updatedDateTime"]);
export const ORDERABLE = new Set(["createdDateTime", "updatedDateTime"]);

const TOKEN = /\s*(\(|\)|'(?:[^']|'')*'|[A-Za-z_][\w/]*(?:\([A-Za-z_]\w*:)?|-?\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2})|-?\d+(?:\.\d+)?)\s*/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let position = 0;
  while (position < text.length) {
    TOKEN.lastIndex = position;
    const match = TOKEN.exec(text);
    if (!match?.[1]) throw invalidRequest(`Invalid $filter near "${text.slice(position, position + 20)}".`, "$filter");
    tokens.push(match[1]);
    position = TOKEN.lastIndex;
  }
  return tokens;
}

export function parseFilter(text: string | null): Predicate {
  if (!text || text.trim() === "") return () => true;
  const tokens = tokenize(text);
  let index = 0;
  const peek = () => tokens[index];
  const take = () => {
    const token = tokens[index];
    if (token === undefined) throw invalidRequest("The $filter expression ends too early.", "$filter");
    index += 1;
    return token;
  };

  const literal = (token: string): string | number | null | boolean => {
    if (token.startsWith("'")) return token.slice(1, -1).replace(/''/g, "'");
    if (/^-?\d{4}-\d{2}-\d{2}T/.test(token)) return token;
    if (/^-?\d/.test(token)) return Number(token);
    if (token === "null") return null;
    if (token === "true" || token === "false") return token === "true";
    throw invalidRequest(`"${token}" is not a literal in $filter.`, "$filter");
  };

  const comparison = (field: string): Predicate => {
    const read = FIELDS[field];
    if (!read) throw invalidRequest(`Filtering on "${field}" is not supported.`, "$filter");
    const op = take().toLowerCase();
    const value = literal(take());
    if (DATE_FIELDS.has(field)) {
      if (typeof value !== "string" || Number.isNaN(Date.parse(value))) throw invalidRequest(`"${field}" needs a date-time literal such as 2026-01-31T00:00:00Z.`, "$filter");
      const at = Date.parse(value);
      return compareWith(op, (r) => {
        const own = read(r);
        return typeof own === "string" ? Date.parse(own) - at : Number.NaN;
      });
    }
    return compareWith(op, (r) => {
      const own = read(r);
      if (own === undefined || own === null || value === null) return own === value || (own === undefined && value === null) ? 0 : Number.NaN;
      return String(own).toLowerCase().localeCompare(String(value).toLowerCase());
    });
  };

  const primary = (): Predicate => {
    const token = take();
    if (token === "(") {
      const inner = orExpression();
      if (take() !== ")") throw invalidRequest("Unbalanced parentheses in $filter.", "$filter");
      return inner;
    }
    if (token.toLowerCase() === "not") {
      const inner = primary();
      return (r) => !inner(r);
    }
    const any = /^team\/any\(([A-Za-z_]\w*):$/.exec(token);
    if (any) {
      const variable = any[1];
      const path = take();
      if (path !== `${variable}/email`) throw invalidRequest("Only team/any(t:t/email eq '…') is supported.", "$filter");
      const op = take().toLowerCase();
      const value = literal(take());
      if (op !== "eq" || typeof value !== "string") throw invalidRequest("Only team/any(t:t/email eq '…') is supported.", "$filter");
      if (take() !== ")") throw invalidRequest("Unbalanced parentheses in $filter.", "$filter");
      return (r) => (r.team ?? []).some((member) => member.email?.toLowerCase() === value.toLowerCase());
    }
    return comparison(token);
  };

  const andExpression = (): Predicate => {
    let left = primary();
    while (peek()?.toLowerCase() === "and") {
      take();
      const right = primary();
      const prev = left;
      left = (r) => prev(r) && right(r);
    }
    return left;
  };

  const orExpression = (): Predicate => {
    let left = andExpression();
    while (peek()?.toLowerCase() === "or") {
      take();
      const right = andExpression();
      const prev = left;
      left = (r) => prev(r) || right(r);
    }
    return left;
  };

  const predicate = orExpression();
  if (index !== tokens.length) throw invalidRequest(`Unexpected "${tokens[index]}" in $filter.`, "$filter");
  return predicate;
}

function compareWith(op: string, difference: (r: WireReferral) => number): Predicate {
  switch (op) {
    case "eq":
      return (r) => difference(r) === 0;
    case "ne":
      return (r) => difference(r) !== 0;
    case "gt":
      return (r) => difference(r) > 0;
    case "ge":
      return (r) => difference(r) >= 0;
    case "lt":
      return (r) => difference(r) < 0;
    case "le":
      return (r) => difference(r) <= 0;
    default:
      throw invalidRequest(`Operator "${op}" is not supported in $filter.`, "$filter");
  }
}

export interface OrderBy {
  field: "createdDateTime" | "updatedDateTime";
  descending: boolean;
}

export function parseOrderBy(text: string | null): OrderBy {
  if (!text) return { field: "createdDateTime", descending: false };
  const match = /^\s*(\w+)(?:\s+(asc|desc))?\s*$/i.exec(text);
  const field = match?.[1];
  if (!field || !ORDERABLE.has(field)) throw invalidRequest(`Ordering by "${text}" is not supported; use createdDateTime or updatedDateTime.`, "$orderby");
  return { field: field as OrderBy["field"], descending: match?.[2]?.toLowerCase() === "desc" };
}
