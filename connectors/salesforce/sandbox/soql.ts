/**
 * The SOQL the connector needs, parsed properly: SELECT fields FROM object [WHERE …] [ORDER BY …]
 * [LIMIT n], with AND / OR / NOT, parentheses, = != <> < <= > >= LIKE IN and NOT IN, and string,
 * number, boolean, null, date and date-time literals. Anything else is refused the way Salesforce
 * refuses it (MALFORMED_QUERY).
 */
export class SoqlError extends Error {
  constructor(
    readonly errorCode: "MALFORMED_QUERY" | "INVALID_FIELD" | "INVALID_TYPE",
    message: string,
  ) {
    super(message);
  }
}

export type Literal = string | number | boolean | null | { date: number };

export type Condition =
  | { kind: "and" | "or"; left: Condition; right: Condition }
  | { kind: "not"; inner: Condition }
  | { kind: "compare"; field: string; op: "=" | "!=" | "<" | "<=" | ">" | ">=" | "like"; value: Literal }
  | { kind: "in"; field: string; negated: boolean; values: Literal[] };

export interface SoqlQuery {
  fields: string[];
  object: string;
  where?: Condition;
  orderBy: Array<{ field: string; descending: boolean }>;
  limit?: number;
}

interface Token {
  type: "word" | "string" | "number" | "datetime" | "op" | "punct";
  text: string;
  at: number;
}

const TOKENS: Array<[Token["type"], RegExp]> = [
  ["datetime", /\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))?(?![\w])/y],
  ["number", /-?\d+(?:\.\d+)?(?![\w])/y],
  ["string", /'(?:[^'\\]|\\.)*'/y],
  ["op", /!=|<>|<=|>=|=|<|>/y],
  ["punct", /[(),]/y],
  ["word", /[A-Za-z_][\w.]*/y],
];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    if (/\s/.test(text[at] as string)) {
      at += 1;
      continue;
    }
    let matched = false;
    for (const [type, pattern] of TOKENS) {
      pattern.lastIndex = at;
      const match = pattern.exec(text);
      if (match) {
        tokens.push({ type, text: match[0], at });
        at += match[0].length;
        matched = true;
        break;
      }
    }
    if (!matched) throw new SoqlError("MALFORMED_QUERY", `unexpected token: '${text.slice(at, at + 10)}'`);
  }
  return tokens;
}

export function parseSoql(text: string): SoqlQuery {
  const tokens = tokenize(text);
  let index = 0;
  const peek = (offset = 0) => tokens[index + offset];
  const isWord = (word: string, offset = 0) => peek(offset)?.type === "word" && peek(offset)?.text.toUpperCase() === word;
  const fail = (expected: string): never => {
    const token = peek();
    throw new SoqlError("MALFORMED_QUERY", token ? `unexpected token: '${token.text}' (expecting ${expected})` : `unexpected end of query (expecting ${expected})`);
  };
  const expectWord = (word: string) => (isWord(word) ? (index += 1) : fail(word));
  const take = (type: Token["type"], expected: string): Token => {
    const token = peek();
    if (token?.type !== type) return fail(expected);
    index += 1;
    return token;
  };

  expectWord("SELECT");
  const fields = [take("word", "a field name").text];
  while (peek()?.text === ",") {
    index += 1;
    fields.push(take("word", "a field name").text);
  }
  expectWord("FROM");
  const object = take("word", "an object name").text;

  const literal = (): Literal => {
    const token = peek();
    if (!token) return fail("a value");
    index += 1;
    if (token.type === "string") return token.text.slice(1, -1).replace(/\\(.)/g, "$1");
    if (token.type === "number") return Number(token.text);
    if (token.type === "datetime") {
      const iso = token.text.replace(/([+-]\d{2})(\d{2})$/, "$1:$2");
      const ms = Date.parse(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
      if (Number.isNaN(ms)) throw new SoqlError("MALFORMED_QUERY", `invalid date: ${token.text}`);
      return { date: ms };
    }
    if (token.type === "word") {
      const upper = token.text.toUpperCase();
      if (upper === "NULL") return null;
      if (upper === "TRUE" || upper === "FALSE") return upper === "TRUE";
    }
    index -= 1;
    return fail("a value");
  };

  const comparison = (): Condition => {
    if (peek()?.text === "(") {
      index += 1;
      const inner = orExpression();
      if (peek()?.text !== ")") fail("')'");
      index += 1;
      return inner;
    }
    if (isWord("NOT") && !isWord("IN", 1)) {
      index += 1;
      return { kind: "not", inner: comparison() };
    }
    const field = take("word", "a field name").text;
    if (isWord("IN") || (isWord("NOT") && isWord("IN", 1))) {
      const negated = isWord("NOT");
      index += negated ? 2 : 1;
      if (peek()?.text !== "(") fail("'('");
      index += 1;
      const values = [literal()];
      while (peek()?.text === ",") {
        index += 1;
        values.push(literal());
      }
      if (peek()?.text !== ")") fail("')'");
      index += 1;
      return { kind: "in", field, negated, values };
    }
    if (isWord("LIKE")) {
      index += 1;
      return { kind: "compare", field, op: "like", value: literal() };
    }
    const op = take("op", "a comparison operator").text;
    return { kind: "compare", field, op: (op === "<>" ? "!=" : op) as "=", value: literal() };
  };
  const andExpression = (): Condition => {
    let left = comparison();
    while (isWord("AND")) {
      index += 1;
      left = { kind: "and", left, right: comparison() };
    }
    return left;
  };
  const orExpression = (): Condition => {
    let left = andExpression();
    while (isWord("OR")) {
      index += 1;
      left = { kind: "or", left, right: andExpression() };
    }
    return left;
  };

  const query: SoqlQuery = { fields, object, orderBy: [] };
  if (isWord("WHERE")) {
    index += 1;
    query.where = orExpression();
  }
  if (isWord("ORDER")) {
    index += 1;
    expectWord("BY");
    do {
      if (peek()?.text === ",") index += 1;
      const field = take("word", "a field name").text;
      let descending = false;
      if (isWord("ASC") || isWord("DESC")) {
        descending = isWord("DESC");
        index += 1;
      }
      if (isWord("NULLS")) {
        index += 1;
        if (!isWord("FIRST") && !isWord("LAST")) fail("FIRST or LAST");
        index += 1;
      }
      query.orderBy.push({ field, descending });
    } while (peek()?.text === ",");
  }
  if (isWord("LIMIT")) {
    index += 1;
    const limit = Number(take("number", "a number").text);
    if (!Number.isInteger(limit) || limit < 0) throw new SoqlError("MALFORMED_QUERY", "LIMIT must be a non-negative integer");
    query.limit = limit;
  }
  if (index < tokens.length) fail("end of query");
  return query;
}

/** Compiles a WHERE clause to a predicate over records keyed by canonical field name. */
export function compileCondition(condition: Condition | undefined, canonical: (field: string) => string, types: (field: string) => string): (record: Record<string, unknown>) => boolean {
  if (!condition) return () => true;
  switch (condition.kind) {
    case "and": {
      const left = compileCondition(condition.left, canonical, types);
      const right = compileCondition(condition.right, canonical, types);
      return (r) => left(r) && right(r);
    }
    case "or": {
      const left = compileCondition(condition.left, canonical, types);
      const right = compileCondition(condition.right, canonical, types);
      return (r) => left(r) || right(r);
    }
    case "not": {
      const inner = compileCondition(condition.inner, canonical, types);
      return (r) => !inner(r);
    }
    case "in": {
      const field = canonical(condition.field);
      const set = condition.values.map((v) => normalise(v));
      return (r) => {
        const value = normalise(r[field] as Literal);
        const found = set.some((v) => v === value);
        return condition.negated ? !found : found;
      };
    }
    case "compare": {
      const field = canonical(condition.field);
      const type = types(field);
      const expected = condition.value;
      if (condition.op === "like") {
        if (typeof expected !== "string") throw new SoqlError("MALFORMED_QUERY", "LIKE needs a string");
        const pattern = new RegExp(`^${expected.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/%/g, ".*").replace(/_/g, ".")}$`, "i");
        return (r) => typeof r[field] === "string" && pattern.test(r[field] as string);
      }
      if ((type === "datetime" || type === "date") && expected !== null && typeof expected !== "object") {
        throw new SoqlError("MALFORMED_QUERY", `value of filter criterion for field '${field}' must be of type ${type} and should not be enclosed in quotes`);
      }
      const right = normalise(expected);
      return (r) => {
        const left = normalise(r[field] as Literal);
        if (condition.op === "=") return left === right;
        if (condition.op === "!=") return left !== right;
        if (left === null || right === null) return false;
        const order = compareValues(left, right);
        return condition.op === "<" ? order < 0 : condition.op === "<=" ? order <= 0 : condition.op === ">" ? order > 0 : order >= 0;
      };
    }
  }
}

/** Byte order for text (as ids sort), numeric order otherwise. */
export function compareValues(left: string | number | boolean | null, right: string | number | boolean | null): number {
  if (left === right) return 0;
  if (left === null) return -1;
  if (right === null) return 1;
  if (typeof left === "string" && typeof right === "string") return left < right ? -1 : 1;
  return Number(left) - Number(right);
}

/** Dates compare as epoch ms; stored date-times are ISO text. */
export function normalise(value: Literal | undefined): string | number | boolean | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "object") return value.date;
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const ms = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
    return Number.isNaN(ms) ? value : ms;
  }
  return value;
}
