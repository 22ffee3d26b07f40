import { generateKeyPairSync, randomUUID, verify } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { Clock } from "../../../src/shared/clock.js";
import { systemClock } from "../../../src/shared/clock.js";
import { SeededRandom } from "../../../src/shared/seeded-random.js";
import { describeField } from "./lead-schema.js";
import type { RecordError, SfQueue, SfRecord, SfUser } from "./org.js";
import { CRM_PEOPLE, LEAD_QUEUE, PARTNER_SELLERS } from "../../sandbox-people.js";
import { SandboxOrg, SfError } from "./org.js";
import { closeServer, listenLocal } from "../../../src/shared/local-server.js";

export interface SalesforceFaults {
  latencyMs: number;
  /** Share of API calls answered 503. */
  errorRate: number;
  /** Answer every API call with REQUEST_LIMIT_EXCEEDED. */
  limitExceeded: boolean;
}

export interface SalesforceSandboxOptions {
  clock?: Clock;
  host?: string;
  port?: number;
  /** Daily API request allowance reported in Sforce-Limit-Info. */
  dailyLimit?: number;
  seed?: number | string;
  faults?: Partial<SalesforceFaults>;
}

const TOKEN_LIFETIME_MS = 2 * 60 * 60 * 1000;
const QUERY_BATCH = 2000;

interface Session {
  userId: string;
  expiresAt: number;
}

/**
 * A Salesforce org on loopback that jsforce talks to unchanged. Two users exist from the start:
 * the integration user (client credentials or JWT bearer) and a seller; tests and the seller
 * simulator act as the seller through `tokenFor`.
 */
export class SalesforceSandbox {
  readonly org: SandboxOrg;
  readonly integrationUser: SfUser;
  readonly seller: SfUser;
  readonly leadQueue: SfQueue;
  readonly connectedApp: { clientId: string; clientSecret: string; privateKeyPem: string };
  readonly faults: SalesforceFaults;
  readonly stats = { requests: 0, byRoute: {} as Record<string, number>, refused: 0 };
  readonly #clock: Clock;
  readonly #random: SeededRandom;
  readonly #sessions = new Map<string, Session>();
  readonly #cursors = new Map<string, { records: SfRecord[]; object: string }>();
  readonly #publicKeyPem: string;
  #dailyLimit: number;
  #used = 0;
  #server: Server | undefined;
  #url = "";

  private constructor(options: SalesforceSandboxOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#random = new SeededRandom(options.seed ?? "salesforce");
    this.org = new SandboxOrg(this.#clock);
    this.integrationUser = this.org.addUser("cosell-integration@partner.example", "Co-sell", "Integration");
    // The partner's people (connectors/sandbox-people.ts): the admin, the sellers (one has left), a lead queue.
    const people = CRM_PEOPLE.map((p) => this.org.addUser(p.email, p.firstName, p.lastName, { phone: p.phone, title: p.title, active: p.active }));
    this.seller = people.find((user) => user.Email === PARTNER_SELLERS[0]?.email) as SfUser;
    this.leadQueue = this.org.addQueue(LEAD_QUEUE);
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.#publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
    this.connectedApp = { clientId: `3MVG9sandbox${this.#random.uuid().replace(/-/g, "")}`, clientSecret: this.#random.uuid(), privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
    this.faults = { latencyMs: 0, errorRate: 0, limitExceeded: false, ...options.faults };
    this.#dailyLimit = options.dailyLimit ?? 100_000;
  }

  static async start(options: SalesforceSandboxOptions = {}): Promise<SalesforceSandbox> {
    const sandbox = new SalesforceSandbox(options);
    const host = options.host ?? "127.0.0.1";
    sandbox.#server = createServer((req, res) => void sandbox.#handle(req, res));
    sandbox.#url = await listenLocal(sandbox.#server, { host, ...(options.port !== undefined ? { port: options.port } : {}) });
    return sandbox;
  }

  /** Instance and login URL (one server plays both). */
  get url(): string {
    return this.#url;
  }

  get apiUsage(): { used: number; limit: number } {
    return { used: this.#used, limit: this.#dailyLimit };
  }

  setDailyLimit(limit: number): void {
    this.#dailyLimit = limit;
  }

  /** An access token for a user, as if that user had signed in (the seller simulator uses it). */
  tokenFor(userId: string): string {
    const token = `00D!sandbox.${this.#random.uuid()}`;
    this.#sessions.set(token, { userId, expiresAt: this.#clock.now().getTime() + TOKEN_LIFETIME_MS });
    return token;
  }

  async close(): Promise<void> {
    await closeServer(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.#url);
    try {
      if (url.pathname === "/services/oauth2/token" && req.method === "POST") return this.#json(res, 200, this.#token(new URLSearchParams(await body(req))));
      if (url.pathname === "/services/oauth2/userinfo") {
        const user = this.#authenticate(req);
        return this.#json(res, 200, { user_id: user.Id, organization_id: this.org.orgId, preferred_username: user.Username, email: user.Email, name: `${user.FirstName} ${user.LastName}` });
      }
      const match = /^\/services\/data\/v(\d+\.\d)(\/.*)?$/.exec(url.pathname);
      if (!match) throw new SfError(404, "NOT_FOUND", "The requested resource does not exist");
      const user = this.#authenticate(req);
      this.stats.requests += 1;
      this.#used += 1;
      const rest = match[2] ?? "/";
      const route = `${req.method} ${rest.replace(/\/(00Q|005|00T)\w{15}/g, "/{id}").replace(/\/query\/[\w-]+/, "/query/{locator}").replace(/\/sobjects\/Lead\/(\w+)\/[^/]+$/, "/sobjects/Lead/$1/{value}")}`;
      this.stats.byRoute[route] = (this.stats.byRoute[route] ?? 0) + 1;
      if (this.faults.limitExceeded || this.#used > this.#dailyLimit) throw new SfError(403, "REQUEST_LIMIT_EXCEEDED", `TotalRequests Limit exceeded.`);
      if (this.faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.faults.latencyMs));
      if (this.#random.chance(this.faults.errorRate)) throw new SfError(503, "SERVER_UNAVAILABLE", "Salesforce is temporarily unavailable. Try again later.");
      const version = match[1] as string;
      return await this.#api(req, res, rest, url, user, version);
    } catch (error) {
      this.#fail(res, error);
    }
  }

  async #api(req: IncomingMessage, res: ServerResponse, path: string, url: URL, user: SfUser, version: string): Promise<void> {
    const base = `/services/data/v${version}`;
    if (req.method === "GET" && path === "/sobjects/Lead/describe") {
      return this.#json(res, 200, { name: "Lead", label: "Lead", custom: false, createable: true, updateable: true, queryable: true, fields: this.org.fields.map(describeField) });
    }
    if (req.method === "GET" && path === "/query") {
      const soql = url.searchParams.get("q");
      if (!soql) throw new SfError(400, "MALFORMED_QUERY", "A query string (q) is required");
      const { records, object } = this.org.query(soql);
      const batch = Number(/batchSize=(\d+)/.exec(String(req.headers["sforce-query-options"] ?? ""))?.[1] ?? QUERY_BATCH);
      return this.#json(res, 200, this.#page(records, object, 0, Math.max(200, Math.min(batch, QUERY_BATCH)), base));
    }
    const more = /^\/query\/([\w]+)-(\d+)$/.exec(path);
    if (req.method === "GET" && more) {
      const cursor = this.#cursors.get(more[1] as string);
      if (!cursor) throw new SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
      return this.#json(res, 200, this.#page(cursor.records, cursor.object, Number(more[2]), QUERY_BATCH, base, more[1]));
    }
    const collection = /^\/composite\/sobjects\/Lead\/(\w+)$/.exec(path);
    if (req.method === "PATCH" && collection) return this.#json(res, 200, this.#upsertCollection(collection[1] as string, JSON.parse(await body(req)) as { allOrNone?: boolean; records?: Array<Record<string, unknown>> }, user));
    const single = /^\/sobjects\/Lead\/(\w+)\/([^/]+)$/.exec(path);
    if (req.method === "PATCH" && single) return this.#upsertSingle(res, single[1] as string, decodeURIComponent(single[2] as string), JSON.parse(await body(req)) as Record<string, unknown>, user, base);
    const byId = /^\/sobjects\/Lead\/(00Q\w{15})$/.exec(path);
    if (byId && req.method === "GET") {
      const record = this.org.leads.get(byId[1] as string);
      if (!record) throw new SfError(404, "NOT_FOUND", "The requested resource does not exist");
      return this.#json(res, 200, { attributes: { type: "Lead", url: `${base}/sobjects/Lead/${record.Id}` }, ...record });
    }
    if (byId && req.method === "PATCH") {
      const errors = this.org.update(byId[1] as string, JSON.parse(await body(req)) as Record<string, unknown>, user.Id);
      if (errors.length > 0) throw new SfError(400, errors[0]?.statusCode ?? "INVALID", errors[0]?.message ?? "", errors[0]?.fields ?? [], errors.map((e) => ({ errorCode: e.statusCode, message: e.message, fields: e.fields })));
      res.writeHead(204, this.#headers()).end();
      return;
    }
    if (req.method === "POST" && path === "/sobjects/Task") {
      const created = this.org.createTask(JSON.parse(await body(req)) as Record<string, unknown>, user.Id);
      if ("errors" in created) throw new SfError(400, created.errors[0]?.statusCode ?? "INVALID", created.errors[0]?.message ?? "", created.errors[0]?.fields ?? [], created.errors.map((e) => ({ errorCode: e.statusCode, message: e.message, fields: e.fields })));
      return this.#json(res, 201, { id: created.id, success: true, errors: [] });
    }
    if (req.method === "POST" && path === "/sobjects/Lead") {
      const created = this.org.create(JSON.parse(await body(req)) as Record<string, unknown>, user.Id);
      if ("errors" in created) throw new SfError(400, created.errors[0]?.statusCode ?? "INVALID", created.errors[0]?.message ?? "", created.errors[0]?.fields ?? [], created.errors.map((e) => ({ errorCode: e.statusCode, message: e.message, fields: e.fields })));
      return this.#json(res, 201, { id: created.id, success: true, errors: [] });
    }
    throw new SfError(404, "NOT_FOUND", `The requested resource does not exist: ${req.method} ${path}`);
  }

  #page(records: SfRecord[], object: string, offset: number, size: number, base: string, locator?: string): Record<string, unknown> {
    const slice = records.slice(offset, offset + size).map((record) => ({ attributes: { type: object, url: `${base}/sobjects/${object}/${record.Id}` }, ...record }));
    const done = offset + size >= records.length;
    let next: string | undefined;
    if (!done) {
      const id = locator ?? `01g${this.#random.uuid().replace(/-/g, "").slice(0, 15)}`;
      this.#cursors.set(id, { records, object });
      next = `${base}/query/${id}-${offset + size}`;
    }
    return { totalSize: records.length, done, records: slice, ...(next ? { nextRecordsUrl: next } : {}) };
  }

  #upsertCollection(extField: string, payload: { allOrNone?: boolean; records?: Array<Record<string, unknown>> }, user: SfUser): unknown[] {
    const field = this.org.checkExternalIdField(extField);
    const records = payload.records ?? [];
    if (records.length > 200) throw new SfError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call");
    const seen = new Map<string, number>();
    const plans = records.map((record) => {
      const { attributes, [field.name]: key, ...fields } = record as { attributes?: { type?: string } } & Record<string, unknown>;
      if (attributes?.type !== "Lead") return { error: { statusCode: "INVALID_TYPE", message: "sObject type must be specified in attributes.type as Lead", fields: [] } as RecordError };
      if (typeof key !== "string" || key === "") return { error: { statusCode: "MISSING_ARGUMENT", message: `${field.name} not specified`, fields: [field.name] } as RecordError };
      const lower = field.caseSensitive ? key : key.toLowerCase();
      seen.set(lower, (seen.get(lower) ?? 0) + 1);
      return { key, fields };
    });
    const results = plans.map((plan) => {
      if ("error" in plan) return { success: false, errors: [plan.error] };
      if ((seen.get(field.caseSensitive ? plan.key : plan.key.toLowerCase()) ?? 0) > 1) {
        return { success: false, errors: [{ statusCode: "DUPLICATE_EXTERNAL_ID", message: `Duplicate external id specified: ${plan.key}`, fields: [field.name] }] };
      }
      const matches = this.org.findByExternalId(field.name, plan.key);
      if (matches.length > 1) {
        return { success: false, errors: [{ statusCode: "DUPLICATE_EXTERNAL_ID", message: `The external ID provided matches more than one record: ${matches.map((m) => m.Id).join(", ")}`, fields: [field.name] }] };
      }
      if (matches.length === 1) {
        const target = matches[0] as SfRecord;
        const errors = this.org.update(target.Id, plan.fields, user.Id);
        return errors.length > 0 ? { success: false, errors } : { id: target.Id, success: true, errors: [], created: false };
      }
      const created = this.org.create({ ...plan.fields, [field.name]: plan.key }, user.Id);
      return "errors" in created ? { success: false, errors: created.errors } : { id: created.id, success: true, errors: [], created: true };
    });
    return results;
  }

  #upsertSingle(res: ServerResponse, extField: string, value: string, fields: Record<string, unknown>, user: SfUser, base: string): void {
    const field = this.org.checkExternalIdField(extField);
    if (Object.keys(fields).some((key) => key.toLowerCase() === field.name.toLowerCase() || key === "Id")) {
      throw new SfError(400, "INVALID_FIELD", `The external ID field ${field.name} and Id cannot be in the request body; the URL names the record.`, [field.name]);
    }
    const matches = this.org.findByExternalId(field.name, value);
    if (matches.length > 1) {
      res.writeHead(300, this.#headers({ "Content-Type": "application/json" }));
      res.end(JSON.stringify(matches.map((m) => `${base}/sobjects/Lead/${m.Id}`)));
      return;
    }
    if (matches.length === 1) {
      const target = matches[0] as SfRecord;
      const errors = this.org.update(target.Id, fields, user.Id);
      if (errors.length > 0) throw new SfError(400, errors[0]?.statusCode ?? "INVALID", errors[0]?.message ?? "", errors[0]?.fields ?? []);
      return this.#json(res, 200, { id: target.Id, success: true, errors: [], created: false });
    }
    const created = this.org.create({ ...fields, [field.name]: value }, user.Id);
    if ("errors" in created) throw new SfError(400, created.errors[0]?.statusCode ?? "INVALID", created.errors[0]?.message ?? "", created.errors[0]?.fields ?? []);
    return this.#json(res, 201, { id: created.id, success: true, errors: [], created: true });
  }

  #token(params: URLSearchParams): Record<string, unknown> {
    const grant = params.get("grant_type");
    let user: SfUser | undefined;
    if (grant === "client_credentials") {
      if (params.get("client_id") !== this.connectedApp.clientId || params.get("client_secret") !== this.connectedApp.clientSecret) {
        throw Object.assign(new SfError(400, "invalid_client", "invalid client credentials"), { oauth: true });
      }
      user = this.integrationUser;
    } else if (grant === "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      user = this.#jwtUser(params.get("assertion") ?? "");
    } else {
      throw Object.assign(new SfError(400, "unsupported_grant_type", "grant type not supported"), { oauth: true });
    }
    const token = this.tokenFor(user.Id);
    return {
      access_token: token,
      instance_url: this.#url,
      id: `${this.#url}/id/${this.org.orgId}/${user.Id}`,
      token_type: "Bearer",
      issued_at: String(this.#clock.now().getTime()),
      signature: Buffer.from(randomUUID()).toString("base64"),
      scope: "api",
    };
  }

  /** Checks a JWT bearer assertion: RS256 by the connected app's key, iss, sub, aud and exp. */
  #jwtUser(assertion: string): SfUser {
    const refuse = (why: string) => Object.assign(new SfError(400, "invalid_grant", why), { oauth: true });
    const [header, claims, signature] = assertion.split(".");
    if (!header || !claims || !signature) throw refuse("invalid assertion");
    const valid = verify("RSA-SHA256", Buffer.from(`${header}.${claims}`), this.#publicKeyPem, Buffer.from(signature, "base64url"));
    if (!valid) throw refuse("invalid assertion: signature does not match the connected app's certificate");
    const body = JSON.parse(Buffer.from(claims, "base64url").toString("utf8")) as { iss?: string; sub?: string; aud?: string; exp?: number };
    if (body.iss !== this.connectedApp.clientId) throw refuse("invalid_client_id: client identifier invalid");
    if (body.aud !== this.#url && body.aud !== "https://login.salesforce.com" && body.aud !== "https://test.salesforce.com") throw refuse("audience is invalid");
    if (!body.exp || body.exp * 1000 < this.#clock.now().getTime()) throw refuse("expired authorization code");
    const user = [...this.org.users.values()].find((u) => u.Username === body.sub);
    if (!user || !user.IsActive) throw refuse("user hasn't approved this consumer");
    return user;
  }

  #authenticate(req: IncomingMessage): SfUser {
    const token = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(String(req.headers.authorization ?? ""))?.[1];
    const session = token ? this.#sessions.get(token) : undefined;
    const user = session && session.expiresAt > this.#clock.now().getTime() ? this.org.users.get(session.userId) : undefined;
    if (!user) throw new SfError(401, "INVALID_SESSION_ID", "Session expired or invalid");
    return user;
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return { "Sforce-Limit-Info": `api-usage=${this.#used}/${this.#dailyLimit}`, ...extra };
  }

  #json(res: ServerResponse, status: number, payload: unknown): void {
    const text = JSON.stringify(payload);
    res.writeHead(status, this.#headers({ "Content-Type": "application/json;charset=UTF-8", "Content-Length": String(Buffer.byteLength(text)) }));
    res.end(text);
  }

  #fail(res: ServerResponse, error: unknown): void {
    this.stats.refused += 1;
    if (error instanceof SyntaxError) error = new SfError(400, "JSON_PARSER_ERROR", `Unexpected character in the request body: ${error.message}`);
    const known = error instanceof SfError ? error : new SfError(500, "UNKNOWN_EXCEPTION", (error as Error).message);
    if ((known as SfError & { oauth?: boolean }).oauth) return this.#json(res, known.status, { error: known.errorCode, error_description: known.message });
    this.#json(res, known.status, known.body ?? [{ message: known.message, errorCode: known.errorCode, ...(known.fields.length ? { fields: known.fields } : {}) }]);
  }
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
