import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { Clock } from "../../../src/shared/clock.js";
import { systemClock } from "../../../src/shared/clock.js";
import { SeededRandom } from "../../../src/shared/seeded-random.js";
import { CRM_PEOPLE, PARTNER_SELLERS } from "../../sandbox-people.js";
import type { PropertySpec } from "../properties.js";
import { COSELL_GROUP, COSELL_PROPERTIES, LEAD_ASSOCIATION_TYPES, OBJECT_TYPE_IDS } from "../properties.js";
import { closeServer, listenLocal } from "../../../src/shared/local-server.js";

/**
 * A HubSpot portal on loopback that @hubspot/api-client talks to unchanged: objects (companies,
 * contacts, leads, deals) with batch create/read/update/upsert and HubSpot's `…WithErrors` partial
 * answers, search with one sort and the 10,000-result cap, v4 associations, the properties API with
 * unique values, property history with source fields, and rate limits with real 429 bodies (search
 * has its own, outside the ten-second window).
 */
export const OBJECT_TYPES = ["companies", "contacts", "leads", "deals", "tasks"] as const;
type ObjectType = (typeof OBJECT_TYPES)[number];

interface HistoryEntry {
  value: string;
  timestamp: string;
  sourceType: string;
  sourceId?: string;
  updatedByUserId?: number;
}

/** One write of a record: the stamp it left, for the change feed's search. */
interface WriteEntry {
  at: number;
  /** `at` as the record's hs_lastmodifieddate string. */
  stamp: string;
  record: StoredObject;
}

interface StoredObject {
  id: string;
  properties: Record<string, string | null>;
  history: Record<string, HistoryEntry[]>;
  associations: Array<{ toType: string; toId: string; typeId: number }>;
  createdAt: string;
  updatedAt: string;
}

interface Caller {
  kind: "app" | "user";
  appId?: string;
  userId?: number;
}

export interface HubSpotFaults {
  latencyMs: number;
  errorRate: number;
  /** Share of requests answered 429 as if the rolling window were full (a burst from another app). */
  throttleRate: number;
}

export interface HubSpotSandboxOptions {
  clock?: Clock;
  host?: string;
  port?: number;
  seed?: number | string;
  /** Requests allowed per rate window per token (HubSpot: 190 per 10 s on Professional). */
  rateLimit?: number;
  rateWindowMs?: number;
  /**
   * Search requests allowed per second for the whole account (HubSpot: 5). Search is exempt from
   * the window above: HubSpot's API spec marks it `x-hubspot-rate-limit-exemptions: ["ten-secondly"]`.
   */
  searchRateLimit?: number;
  /** false: the portal lacks the Co-sell properties (to test `crm check --fix`). */
  withCosellProperties?: boolean;
  faults?: Partial<HubSpotFaults>;
}

const STANDARD: Record<ObjectType, PropertySpec[]> = {
  companies: ["name", "domain", "address", "city", "state", "zip", "country", "numberofemployees", "industry"].map((name) => ({ name, label: name, type: name === "numberofemployees" ? "number" : "string", fieldType: name === "numberofemployees" ? "number" : "text" })),
  contacts: [{ name: "email", label: "Email", type: "string", fieldType: "text", hasUniqueValue: true }, ...["firstname", "lastname", "phone", "jobtitle", "company"].map((name): PropertySpec => ({ name, label: name, type: "string", fieldType: "text" }))],
  leads: [{ name: "hs_lead_name", label: "Lead name", type: "string", fieldType: "text" }, { name: "hubspot_owner_id", label: "Owner", type: "enumeration", fieldType: "select" }],
  deals: ["dealname", "amount", "closedate", "dealstage", "pipeline"].map((name): PropertySpec => ({ name, label: name, type: "string", fieldType: "text" })),
  tasks: [
    { name: "hs_timestamp", label: "Due date", type: "datetime", fieldType: "date" },
    { name: "hs_task_subject", label: "Task title", type: "string", fieldType: "text" },
    { name: "hs_task_body", label: "Notes", type: "string", fieldType: "textarea" },
    { name: "hs_task_status", label: "Task status", type: "enumeration", fieldType: "select", options: ["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"] },
    { name: "hs_task_priority", label: "Priority", type: "enumeration", fieldType: "select", options: ["NONE", "LOW", "MEDIUM", "HIGH"] },
    { name: "hs_task_type", label: "Task type", type: "enumeration", fieldType: "select", options: ["TODO", "CALL", "EMAIL", "LINKED_IN_CONNECT", "LINKED_IN_MESSAGE"] },
    { name: "hubspot_owner_id", label: "Assigned to", type: "enumeration", fieldType: "select" },
  ],
};
/** The unlabeled association each pair of types gets from the v4 "default" endpoint. */
const DEFAULT_ASSOCIATIONS: Record<string, number> = { "tasks/leads": 646, "leads/tasks": 647, "tasks/contacts": 204, "tasks/companies": 192, "tasks/deals": 216 };
const SYSTEM = ["hs_object_id", "hs_lastmodifieddate", "createdate", "hs_updated_by_user_id"];
const MAX_BATCH = 100;
const MAX_SEARCH_PAGE = 200;
const SEARCH_CAP = 10_000;

class HubSpotError extends Error {
  constructor(
    readonly status: number,
    readonly category: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class HubSpotSandbox {
  readonly appId = "1234567";
  readonly portalId = 48_151_623;
  readonly appToken: string;
  readonly sellerUserId = 7001;
  readonly sellerToken: string;
  readonly faults: HubSpotFaults;
  /**
   * Search requests allowed per second for the account (HubSpot: 5). Settable, as faults are: a test
   * that runs the daemon on a manual clock cannot pace it, and lifts it.
   */
  readonly limits: { searchesPerSecond: number };
  readonly stats = { requests: 0, throttled: 0, byRoute: {} as Record<string, number> };
  /** The account's owners (its users as record owners); a deactivated user's owner is archived. */
  readonly owners: SandboxOwner[];
  readonly #objects = new Map<ObjectType, Map<string, StoredObject>>();
  /** Lookup indexes by "type\0property": value → id. */
  readonly #indexes = new Map<string, Map<string, string>>();
  /** Per type, each write's stamp and record, in stamp order (see #modifiedSince). */
  readonly #modifiedLog = new Map<ObjectType, WriteEntry[]>();
  readonly #types = new WeakMap<StoredObject, ObjectType>();
  readonly #properties = new Map<ObjectType, PropertySpec[]>();
  readonly #groups = new Map<ObjectType, Set<string>>();
  readonly #tokens = new Map<string, Caller>();
  readonly #windows = new Map<string, number[]>();
  readonly #clock: Clock;
  readonly #random: SeededRandom;
  readonly #rateLimit: number;
  readonly #rateWindowMs: number;
  /** When each search of the last second came in (one window for the account, whatever the token). */
  #searches: number[] = [];
  #nextId = 1000;
  #lastStamp = 0;
  #server: Server | undefined;
  #url = "";

  private constructor(options: HubSpotSandboxOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#random = new SeededRandom(options.seed ?? "hubspot");
    this.#rateLimit = options.rateLimit ?? 190;
    this.#rateWindowMs = options.rateWindowMs ?? 10_000;
    this.limits = { searchesPerSecond: options.searchRateLimit ?? 5 };
    this.faults = { latencyMs: 0, errorRate: 0, throttleRate: 0, ...options.faults };
    this.appToken = `pat-na1-${this.#random.uuid()}`;
    this.sellerToken = `user-${this.#random.uuid()}`;
    this.#tokens.set(this.appToken, { kind: "app", appId: this.appId });
    this.#tokens.set(this.sellerToken, { kind: "user", userId: this.sellerUserId });
    // The partner's people (connectors/sandbox-people.ts); the first seller is the one who edits.
    const created = new Date(Date.UTC(2025, 0, 6)).toISOString();
    this.owners = CRM_PEOPLE.map((person, index) => ({
      id: String(81_000_000 + index),
      userId: person.email === PARTNER_SELLERS[0]?.email ? this.sellerUserId : 7_100 + index,
      email: person.email,
      firstName: person.firstName,
      lastName: person.lastName,
      archived: !person.active,
      teams: [{ id: "4100", name: "Joint Planning", primary: true }],
      createdAt: created,
      updatedAt: created,
    }));
    for (const type of OBJECT_TYPES) {
      this.#objects.set(type, new Map());
      const custom = options.withCosellProperties === false ? [] : (COSELL_PROPERTIES[type] ?? []);
      this.#properties.set(type, [...STANDARD[type], ...custom]);
      this.#groups.set(type, new Set(custom.length > 0 ? ["contactinformation", COSELL_GROUP.name] : ["contactinformation"]));
    }
  }

  static async start(options: HubSpotSandboxOptions = {}): Promise<HubSpotSandbox> {
    const sandbox = new HubSpotSandbox(options);
    sandbox.#server = createServer((req, res) => void sandbox.#handle(req, res));
    const host = options.host ?? "127.0.0.1";
    sandbox.#url = await listenLocal(sandbox.#server, { host, ...(options.port !== undefined ? { port: options.port } : {}) });
    return sandbox;
  }

  get url(): string {
    return this.#url;
  }

  /** The owner id of the user who edits as the seller. */
  get sellerOwnerId(): string {
    return (this.owners.find((o) => o.userId === this.sellerUserId) as SandboxOwner).id;
  }

  count(type: ObjectType): number {
    return this.#objects.get(type)?.size ?? 0;
  }

  get(type: ObjectType, id: string): StoredObject | undefined {
    return this.#objects.get(type)?.get(id);
  }

  all(type: ObjectType): StoredObject[] {
    return [...(this.#objects.get(type)?.values() ?? [])];
  }

  properties(type: ObjectType): PropertySpec[] {
    return [...(this.#properties.get(type) ?? [])];
  }

  /** A seller (or a mass edit) changing records in the HubSpot UI, all with one timestamp. */
  editAsSeller(type: ObjectType, ids: string[], properties: Record<string, string>): void {
    const stamp = this.#stamp();
    for (const id of ids) {
      const record = this.get(type, id);
      if (record) this.#write(record, properties, { kind: "user", userId: this.sellerUserId }, stamp);
    }
  }

  async close(): Promise<void> {
    await closeServer(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.#url);
    try {
      const caller = this.#tokens.get(String(req.headers.authorization ?? "").replace(/^Bearer\s+/i, ""));
      if (!caller) throw new HubSpotError(401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication.");
      const search = req.method === "POST" && /^\/crm\/v3\/objects\/\w+\/search$/.test(url.pathname);
      const rate = search ? this.#searchRate() : this.#rate(String(req.headers.authorization));
      this.stats.requests += 1;
      const route = `${req.method} ${url.pathname.replace(/\/\d+(?=\/|$)/g, "/{id}")}`;
      this.stats.byRoute[route] = (this.stats.byRoute[route] ?? 0) + 1;
      if (this.faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.faults.latencyMs));
      if (this.#random.chance(this.faults.errorRate)) throw new HubSpotError(502, "BAD_GATEWAY", "Bad gateway", {}, rate);
      if (this.#random.chance(this.faults.throttleRate)) {
        this.stats.throttled += 1;
        throw new HubSpotError(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.", { errorType: "RATE_LIMIT", policyName: "TEN_SECONDLY_ROLLING" }, { ...rate, "X-HubSpot-RateLimit-Remaining": "0" });
      }
      const body = req.method === "GET" ? {} : ((JSON.parse((await readBody(req)) || "{}") as Record<string, unknown>) ?? {});
      const [status, payload] = this.#route(req.method ?? "GET", url, body, caller);
      const text = JSON.stringify(payload);
      res.writeHead(status, { "Content-Type": "application/json;charset=utf-8", "Content-Length": String(Buffer.byteLength(text)), ...rate });
      res.end(text);
    } catch (error) {
      const known = error instanceof HubSpotError ? error : error instanceof SyntaxError ? new HubSpotError(400, "VALIDATION_ERROR", `Invalid input JSON: ${error.message}`) : new HubSpotError(500, "INTERNAL_ERROR", (error as Error).message);
      const text = JSON.stringify({ status: "error", message: known.message, correlationId: this.#random.uuid(), category: known.category, ...known.extra });
      res.writeHead(known.status, { "Content-Type": "application/json;charset=utf-8", ...known.headers });
      res.end(text);
    }
  }

  /** A rolling window per token; past it, HubSpot's 429 with its policy name. */
  #rate(token: string): Record<string, string> {
    const now = Date.now();
    const window = (this.#windows.get(token) ?? []).filter((at) => at > now - this.#rateWindowMs);
    const headers = {
      "X-HubSpot-RateLimit-Max": String(this.#rateLimit),
      "X-HubSpot-RateLimit-Interval-Milliseconds": String(this.#rateWindowMs),
      "X-HubSpot-RateLimit-Remaining": String(Math.max(0, this.#rateLimit - window.length - 1)),
    };
    if (window.length >= this.#rateLimit) {
      this.stats.throttled += 1;
      this.#windows.set(token, window);
      const policy = this.#rateWindowMs >= 10_000 ? "TEN_SECONDLY_ROLLING" : "SECONDLY";
      throw new HubSpotError(429, "RATE_LIMITS", `You have reached your ${policy.toLowerCase()} limit.`, { errorType: "RATE_LIMIT", policyName: policy }, { ...headers, "X-HubSpot-RateLimit-Remaining": "0" });
    }
    window.push(now);
    this.#windows.set(token, window);
    return headers;
  }

  /**
   * Search's own limit, per second for the account. Its answers carry no X-HubSpot-RateLimit
   * headers (those describe the ten-second window, which search does not count in), and its 429
   * says the secondly limit, which is what the SDK's retry looks for.
   */
  #searchRate(): Record<string, string> {
    const now = Date.now();
    this.#searches = this.#searches.filter((at) => at > now - 1_000);
    if (this.#searches.length >= this.limits.searchesPerSecond) {
      this.stats.throttled += 1;
      throw new HubSpotError(429, "RATE_LIMITS", "You have reached your secondly limit.", { errorType: "RATE_LIMIT", policyName: "SECONDLY" });
    }
    this.#searches.push(now);
    return {};
  }

  #route(method: string, url: URL, body: Record<string, unknown>, caller: Caller): [number, unknown] {
    const path = url.pathname;
    if (method === "GET" && path === "/account-info/v3/details") {
      return [200, { portalId: this.portalId, accountType: "STANDARD", timeZone: "Europe/Berlin", companyCurrency: "EUR", additionalCurrencies: [], utcOffset: "+01:00", utcOffsetMilliseconds: 3_600_000, uiDomain: "app-eu1.hubspot.com", dataHostingLocation: "eu1" }];
    }
    // The SDK asks with a trailing slash (/crm/v3/owners/), as HubSpot documents the path.
    if (method === "GET" && (path === "/crm/v3/owners" || path === "/crm/v3/owners/")) return [200, this.#ownerPage(url)];
    let match = /^\/crm\/v3\/owners\/([^/]+)$/.exec(path);
    if (match && method === "GET") {
      const by = url.searchParams.get("idProperty") ?? "id";
      if (by !== "id" && by !== "userId") throw new HubSpotError(400, "VALIDATION_ERROR", `idProperty must be id or userId, not ${by}`);
      const archived = url.searchParams.get("archived") === "true";
      const owner = this.owners.find((o) => String(by === "id" ? o.id : o.userId) === match?.[1] && o.archived === archived);
      if (!owner) throw new HubSpotError(404, "OBJECT_NOT_FOUND", `Owner ${match[1]} not found`);
      return [200, presentOwner(owner)];
    }
    match = /^\/crm\/v3\/objects\/(\w+)$/.exec(path);
    if (match && method === "POST") return [201, this.#createOne(this.#type(match[1] as string), body, caller)];
    match = /^\/crm\/v4\/objects\/(\w+)\/(\d+)\/associations\/default\/(\w+)\/(\d+)$/.exec(path);
    if (match && method === "PUT") return [200, this.#associateDefault(this.#type(match[1] as string), match[2] as string, this.#type(match[3] as string), match[4] as string)];
    match = /^\/crm\/v3\/objects\/(\w+)\/batch\/(upsert|create|update|read)$/.exec(path);
    if (match && method === "POST") return this.#batch(this.#type(match[1] as string), match[2] as string, body, caller);
    match = /^\/crm\/v3\/objects\/(\w+)\/search$/.exec(path);
    if (match && method === "POST") return [200, this.#search(this.#type(match[1] as string), body)];
    match = /^\/crm\/v3\/objects\/(\w+)\/(\d+)$/.exec(path);
    if (match) {
      const type = this.#type(match[1] as string);
      const record = this.get(type, match[2] as string);
      if (!record) throw new HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found");
      if (method === "PATCH") {
        this.#validate(type, (body.properties ?? {}) as Record<string, unknown>);
        this.#write(record, stringify((body.properties ?? {}) as Record<string, unknown>), caller, this.#stamp());
      }
      const withHistory = url.searchParams.get("propertiesWithHistory")?.split(",").filter(Boolean) ?? [];
      return [200, this.#present(record, url.searchParams.get("properties")?.split(","), withHistory)];
    }
    match = /^\/crm\/v4\/objects\/(\w+)\/(\d+)\/associations\/(\w+)$/.exec(path);
    if (match && method === "GET") {
      const record = this.get(this.#type(match[1] as string), match[2] as string);
      const results = (record?.associations ?? []).filter((a) => a.toType === match?.[3]).map((a) => ({ toObjectId: Number(a.toId), associationTypes: [{ category: "HUBSPOT_DEFINED", typeId: a.typeId, label: null }] }));
      return [200, { results }];
    }
    match = /^\/crm\/v3\/properties\/(\w+)(\/groups)?$/.exec(path);
    if (match) {
      const type = this.#type(match[1] as string);
      if (match[2]) {
        if (method === "POST") {
          const name = String(body.name ?? "");
          if (this.#groups.get(type)?.has(name)) throw new HubSpotError(409, "CONFLICT", `A property group named '${name}' already exists.`);
          this.#groups.get(type)?.add(name);
          return [201, { name, label: body.label, displayOrder: -1, archived: false }];
        }
        return [200, { results: [...(this.#groups.get(type) ?? [])].map((name) => ({ name, label: name, archived: false })) }];
      }
      if (method === "POST") return [201, this.#createProperty(type, body)];
      return [200, { results: this.properties(type).map(describeProperty) }];
    }
    throw new HubSpotError(404, "OBJECT_NOT_FOUND", `No route for ${method} ${path}`);
  }

  #batch(type: ObjectType, action: string, body: Record<string, unknown>, caller: Caller): [number, unknown] {
    const inputs = Array.isArray(body.inputs) ? (body.inputs as Array<Record<string, unknown>>) : [];
    if (inputs.length > MAX_BATCH) throw new HubSpotError(400, "VALIDATION_ERROR", `Batch size ${inputs.length} exceeds the limit of ${MAX_BATCH}.`);
    const started = this.#clock.now().toISOString();
    const results: unknown[] = [];
    const errors: unknown[] = [];
    const stamp = this.#stamp();
    if (action === "read") {
      const idProperty = typeof body.idProperty === "string" ? body.idProperty : "hs_object_id";
      const props = Array.isArray(body.properties) ? (body.properties as string[]) : undefined;
      for (const input of inputs) {
        const found = this.#findBy(type, idProperty, String(input.id));
        if (found) results.push(this.#present(found, props, Array.isArray(body.propertiesWithHistory) ? (body.propertiesWithHistory as string[]) : []));
        else errors.push({ status: "error", category: "OBJECT_NOT_FOUND", message: "Could not get some objects, they may be deleted or not exist.", context: { ids: [String(input.id)] } });
      }
    } else if (action === "upsert") {
      for (const input of inputs) {
        const idProperty = String(input.idProperty ?? "");
        const spec = this.#property(type, idProperty);
        if (!spec?.hasUniqueValue) throw new HubSpotError(400, "VALIDATION_ERROR", `Property ${idProperty} is not a unique value property; upsert needs one.`);
      }
      for (const input of inputs) {
        const key = String(input.id);
        const idProperty = String(input.idProperty);
        const properties = stringify({ ...((input.properties ?? {}) as Record<string, unknown>), [idProperty]: key });
        const problem = this.#check(type, properties);
        if (problem) {
          errors.push({ status: "error", category: "VALIDATION_ERROR", message: problem, context: { id: [key] } });
          continue;
        }
        const existing = this.#findBy(type, idProperty, key);
        if (!existing && type === "leads") {
          errors.push({ status: "error", category: "VALIDATION_ERROR", message: "Leads must be associated with a contact when created; create them with associations.", context: { id: [key] } });
          continue;
        }
        const record = existing ?? this.#create(type, caller, stamp);
        this.#write(record, properties, caller, stamp);
        results.push({ ...this.#present(record), new: !existing });
      }
    } else if (action === "create") {
      for (const input of inputs) {
        const properties = stringify((input.properties ?? {}) as Record<string, unknown>);
        const problem = this.#check(type, properties) ?? this.#uniqueClash(type, properties);
        const associations = Array.isArray(input.associations) ? (input.associations as Array<{ to?: { id?: unknown }; types?: Array<{ associationTypeId?: number }> }>) : [];
        const links = associations.map((a) => ({ toId: String(a.to?.id ?? ""), typeId: Number(a.types?.[0]?.associationTypeId ?? 0) }));
        const contact = links.find((l) => l.typeId === LEAD_ASSOCIATION_TYPES.contacts && this.get("contacts", l.toId));
        const leadProblem = type === "leads" && !contact ? "Leads must be associated with an existing contact when created." : undefined;
        if (problem || leadProblem) {
          // Batch create is all or nothing: one bad input fails the call.
          throw new HubSpotError(problem?.startsWith("Duplicate") ? 409 : 400, problem?.startsWith("Duplicate") ? "CONFLICT" : "VALIDATION_ERROR", (problem ?? leadProblem) as string);
        }
      }
      for (const input of inputs) {
        const record = this.#create(type, caller, stamp);
        this.#write(record, stringify((input.properties ?? {}) as Record<string, unknown>), caller, stamp);
        for (const association of (input.associations ?? []) as Array<{ to: { id: unknown }; types: Array<{ associationTypeId: number }> }>) {
          const typeId = association.types[0]?.associationTypeId ?? 0;
          const toType = Object.entries(LEAD_ASSOCIATION_TYPES).find(([, id]) => id === typeId)?.[0] ?? "contacts";
          record.associations.push({ toType, toId: String(association.to.id), typeId });
        }
        results.push(this.#present(record));
      }
      return [201, { status: "COMPLETE", results, startedAt: started, completedAt: this.#clock.now().toISOString() }];
    } else {
      for (const input of inputs) {
        const record = this.get(type, String(input.id));
        const properties = stringify((input.properties ?? {}) as Record<string, unknown>);
        const problem = record ? this.#check(type, properties) : "Object not found";
        if (problem || !record) {
          errors.push({ status: "error", category: record ? "VALIDATION_ERROR" : "OBJECT_NOT_FOUND", message: problem, context: { id: [String(input.id)] } });
          continue;
        }
        this.#write(record, properties, caller, stamp);
        results.push(this.#present(record));
      }
    }
    const answer = { status: "COMPLETE", results, startedAt: started, completedAt: this.#clock.now().toISOString(), ...(errors.length > 0 ? { numErrors: errors.length, errors } : {}) };
    return [errors.length > 0 ? 207 : 200, answer];
  }

  /** Single create; a task needs its due date (hs_timestamp), as HubSpot requires. */
  #createOne(type: ObjectType, body: Record<string, unknown>, caller: Caller): unknown {
    if (type === "leads") throw new HubSpotError(400, "VALIDATION_ERROR", "Leads must be associated with an existing contact when created.");
    const properties = stringify((body.properties ?? {}) as Record<string, unknown>);
    const problem = this.#check(type, properties) ?? this.#uniqueClash(type, properties);
    if (problem) throw new HubSpotError(400, "VALIDATION_ERROR", problem);
    if (type === "tasks" && !properties.hs_timestamp) throw new HubSpotError(400, "VALIDATION_ERROR", "Property values were not valid: hs_timestamp is required to create a task");
    const associations = (Array.isArray(body.associations) ? (body.associations as Array<{ to?: { id?: unknown }; types?: Array<{ associationTypeId?: number }> }>) : []).map((a) => {
      const typeId = Number(a.types?.[0]?.associationTypeId ?? 0);
      const toType = Object.entries(DEFAULT_ASSOCIATIONS).find(([pair, id]) => id === typeId && pair.startsWith(`${type}/`))?.[0].split("/")[1] as ObjectType | undefined;
      if (!toType) throw new HubSpotError(400, "VALIDATION_ERROR", `${typeId} is not a valid association type from ${type}.`);
      if (!this.get(toType, String(a.to?.id ?? ""))) throw new HubSpotError(400, "VALIDATION_ERROR", `No ${toType} with id ${String(a.to?.id)} to associate.`);
      return { toType, toId: String(a.to?.id) };
    });
    const record = this.#create(type, caller, this.#stamp());
    this.#write(record, properties, caller, record.createdAt);
    for (const association of associations) this.#associateDefault(type, record.id, association.toType, association.toId);
    return this.#present(record);
  }

  #associateDefault(fromType: ObjectType, fromId: string, toType: ObjectType, toId: string): unknown {
    const from = this.get(fromType, fromId);
    const to = this.get(toType, toId);
    if (!from || !to) throw new HubSpotError(404, "OBJECT_NOT_FOUND", `No ${from ? toType : fromType} with id ${from ? toId : fromId}`);
    const typeId = DEFAULT_ASSOCIATIONS[`${fromType}/${toType}`];
    const back = DEFAULT_ASSOCIATIONS[`${toType}/${fromType}`];
    if (typeId === undefined || back === undefined) throw new HubSpotError(400, "VALIDATION_ERROR", `No default association from ${fromType} to ${toType}.`);
    if (!from.associations.some((a) => a.toType === toType && a.toId === toId)) from.associations.push({ toType, toId, typeId });
    if (!to.associations.some((a) => a.toType === fromType && a.toId === fromId)) to.associations.push({ toType: fromType, toId: fromId, typeId: back });
    return {
      status: "COMPLETE",
      results: [{ fromObjectTypeId: OBJECT_TYPE_IDS[fromType], fromObjectId: Number(fromId), toObjectTypeId: OBJECT_TYPE_IDS[toType], toObjectId: Number(toId), associationTypes: [{ category: "HUBSPOT_DEFINED", typeId, label: null }] }],
      startedAt: this.#clock.now().toISOString(),
      completedAt: this.#clock.now().toISOString(),
    };
  }

  /** Adds a write to its type's log, kept in stamp order (stamps never go back, see #stamp). */
  #logWrite(type: ObjectType, entry: WriteEntry): void {
    let log = this.#modifiedLog.get(type) ?? [];
    // Entries a later write replaced pile up; past twice the records, the log keeps only the last.
    if (log.length > 2 * this.count(type) + 1_000) log = log.filter((kept) => this.#isLastWrite(type, kept));
    if ((log[log.length - 1]?.at ?? entry.at) <= entry.at) log.push(entry);
    else log.splice(log.findIndex((kept) => kept.at > entry.at), 0, entry);
    this.#modifiedLog.set(type, log);
  }

  /** Whether a log entry is its record's last write, and the record is still there. */
  #isLastWrite(type: ObjectType, { stamp, record }: WriteEntry): boolean {
    return stamp === record.properties.hs_lastmodifieddate && this.get(type, record.id) === record;
  }

  /**
   * A change feed's search (one filter group with hs_lastmodifieddate GT/GTE a time) looks only at
   * the records written since, found in the write log: a scan of every record per page made the
   * poll beside a 100,000-lead backfill the sandbox's heaviest work. Undefined: scan everything.
   */
  #modifiedSince(type: ObjectType, groups: Array<{ filters?: Array<{ propertyName: string; operator: string; value?: string }> }>): { records: StoredObject[]; onlyFilter: boolean } | undefined {
    if (groups.length !== 1) return undefined;
    const filters = groups[0]?.filters ?? [];
    const since = filters.find((filter) => filter.propertyName === "hs_lastmodifieddate" && (filter.operator === "GT" || filter.operator === "GTE") && filter.value !== undefined);
    if (!since) return undefined;
    const from = ordered(since.value ?? null);
    const strictly = since.operator === "GT";
    const log = this.#modifiedLog.get(type) ?? [];
    let low = 0;
    let high = log.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((log[middle]?.at ?? 0) < from) low = middle + 1;
      else high = middle;
    }
    const seen = new Set<StoredObject>();
    const found: StoredObject[] = [];
    for (let index = low; index < log.length; index += 1) {
      const entry = log[index] as WriteEntry;
      // An entry a later write replaced, or a record gone since, is passed over.
      if (seen.has(entry.record) || !this.#isLastWrite(type, entry)) continue;
      // The entry is its record's last write, so `at` is the record's stamp: GT is checked here.
      if (strictly && entry.at <= from) continue;
      seen.add(entry.record);
      found.push(entry.record);
    }
    return { records: found, onlyFilter: filters.length === 1 };
  }

  #search(type: ObjectType, body: Record<string, unknown>): unknown {
    const sorts = Array.isArray(body.sorts) ? (body.sorts as Array<{ propertyName: string; direction?: string }>) : [];
    if (sorts.length > 1) throw new HubSpotError(400, "VALIDATION_ERROR", "There was a problem with the request: only one sort is supported.");
    const limit = Math.min(Number(body.limit ?? 10), MAX_SEARCH_PAGE);
    const after = Number(body.after ?? 0);
    if (after + limit > SEARCH_CAP) throw new HubSpotError(400, "VALIDATION_ERROR", `There was a problem with the request: paging past ${SEARCH_CAP} results is not allowed.`);
    const groups = Array.isArray(body.filterGroups) ? (body.filterGroups as Array<{ filters?: Array<{ propertyName: string; operator: string; value?: string; values?: string[] }> }>) : [];
    const matches = (record: StoredObject) =>
      groups.length === 0 || groups.some((group) => (group.filters ?? []).every((filter) => compare(record.properties[filter.propertyName] ?? null, filter.operator, filter.value, filter.values)));
    const sort = sorts[0];
    const sortBy = sort?.propertyName ?? "hs_object_id";
    const descending = sort?.direction === "DESCENDING";
    // Ties keep HubSpot's own order, which is not the id order a client would need to page on.
    // Each record's sort value is read once, not once per comparison.
    // The change feed's search (its one filter a stamp the write log already applied) needs no
    // filter pass: every record found matches.
    const since = this.#modifiedSince(type, groups);
    const candidates = since ? (since.onlyFilter ? since.records : since.records.filter(matches)) : this.all(type).filter(matches);
    const keyed = candidates.map((record) => ({ record, key: ordered(record.properties[sortBy] ?? null), tie: sortBy === "hs_object_id" ? 0 : hashOrder(record.id) }));
    keyed.sort((a, b) => {
      const difference = a.key - b.key;
      return descending ? -difference : difference || a.tie - b.tie;
    });
    const found = keyed.map(({ record }) => record);
    const props = Array.isArray(body.properties) ? (body.properties as string[]) : undefined;
    const page = found.slice(after, after + limit).map((record) => this.#present(record, props));
    const next = after + limit < found.length ? { paging: { next: { after: String(after + limit), link: "" } } } : {};
    return { total: found.length, results: page, ...next };
  }

  #createProperty(type: ObjectType, body: Record<string, unknown>): unknown {
    const name = String(body.name ?? "");
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new HubSpotError(400, "VALIDATION_ERROR", `Property name ${name} is not valid.`);
    if (this.#property(type, name)) throw new HubSpotError(409, "CONFLICT", `Property named '${name}' already exists.`);
    if (!this.#groups.get(type)?.has(String(body.groupName ?? ""))) throw new HubSpotError(400, "VALIDATION_ERROR", `Property group ${String(body.groupName)} does not exist.`);
    const options = Array.isArray(body.options) ? (body.options as Array<{ value: string }>).map((o) => o.value) : undefined;
    const spec: PropertySpec = { name, label: String(body.label ?? name), type: body.type as PropertySpec["type"], fieldType: body.fieldType as PropertySpec["fieldType"], ...(body.hasUniqueValue === true ? { hasUniqueValue: true } : {}), ...(options ? { options } : {}) };
    this.#properties.get(type)?.push(spec);
    return describeProperty(spec);
  }

  #type(raw: string): ObjectType {
    if ((OBJECT_TYPES as readonly string[]).includes(raw)) return raw as ObjectType;
    throw new HubSpotError(400, "VALIDATION_ERROR", `Unable to infer object type from: ${raw}`);
  }

  #property(type: ObjectType, name: string): PropertySpec | undefined {
    return this.#properties.get(type)?.find((p) => p.name === name);
  }

  #check(type: ObjectType, properties: Record<string, string | null>): string | undefined {
    for (const [name, value] of Object.entries(properties)) {
      const spec = this.#property(type, name);
      if (!spec) return `Property values were not valid: Property "${name}" does not exist`;
      if (value === null || value === "") continue;
      if ((spec.type === "number" || spec.type === "datetime" || spec.type === "date") && !/^-?\d+(\.\d+)?$/.test(value)) return `Property values were not valid: ${value} is not a valid ${spec.type} for "${name}"`;
      if (spec.type === "date" && Number(value) % 86_400_000 !== 0) return `Property values were not valid: ${value} is not midnight UTC for date property "${name}"`;
      if (name === "hubspot_owner_id" && !this.owners.some((o) => o.id === value && !o.archived)) return `Property values were not valid: ${value} is not a valid owner id for "hubspot_owner_id"`;
      if ((spec.type === "enumeration" || spec.type === "bool") && spec.options && !spec.options.includes(value)) return `Property values were not valid: ${value} was not one of the allowed options for "${name}"`;
    }
    return undefined;
  }

  /** GET /crm/v3/owners: by email or all, active (default) or archived, paged by `after`. */
  #ownerPage(url: URL): Record<string, unknown> {
    const email = url.searchParams.get("email")?.toLowerCase();
    const archived = url.searchParams.get("archived") === "true";
    const limit = Math.min(Number(url.searchParams.get("limit") ?? 100) || 100, 500);
    const after = Number(url.searchParams.get("after") ?? 0) || 0;
    const matching = this.owners.filter((o) => o.archived === archived && (!email || o.email.toLowerCase() === email));
    const page = matching.slice(after, after + limit);
    const next = after + limit < matching.length ? { paging: { next: { after: String(after + limit), link: `${this.#url}/crm/v3/owners?after=${after + limit}` } } } : {};
    return { results: page.map(presentOwner), ...next };
  }

  #validate(type: ObjectType, properties: Record<string, unknown>): void {
    const problem = this.#check(type, stringify(properties));
    if (problem) throw new HubSpotError(400, "VALIDATION_ERROR", problem);
  }

  #uniqueClash(type: ObjectType, properties: Record<string, string | null>): string | undefined {
    for (const spec of this.#properties.get(type) ?? []) {
      const value = properties[spec.name];
      if (spec.hasUniqueValue && value && this.#findBy(type, spec.name, value)) return `Duplicate value ${value} for unique property ${spec.name}`;
    }
    return undefined;
  }

  /**
   * Lookups by a property (idProperty, unique values) go through an index per (object, property),
   * built on first use and kept by every write: a scan per record made a 100,000-lead backfill
   * quadratic here.
   */
  #findBy(type: ObjectType, property: string, value: string): StoredObject | undefined {
    if (property === "hs_object_id") return this.get(type, value);
    const key = `${type}\u0000${property}`;
    let index = this.#indexes.get(key);
    if (!index) {
      index = new Map();
      for (const record of this.all(type)) {
        const own = record.properties[property];
        if (own) index.set(own, record.id);
      }
      this.#indexes.set(key, index);
    }
    const id = index.get(value);
    const record = id === undefined ? undefined : this.get(type, id);
    return record?.properties[property] === value ? record : undefined;
  }

  #create(type: ObjectType, caller: Caller, stamp: string): StoredObject {
    const id = String((this.#nextId += 1));
    const record: StoredObject = { id, properties: { hs_object_id: id, createdate: stamp }, history: {}, associations: [], createdAt: stamp, updatedAt: stamp };
    void caller;
    this.#objects.get(type)?.set(id, record);
    this.#types.set(record, type);
    return record;
  }

  #write(record: StoredObject, properties: Record<string, string | null>, caller: Caller, stamp: string): void {
    const ms = String(Date.parse(stamp));
    for (const [name, value] of Object.entries(properties)) {
      if (SYSTEM.includes(name)) continue;
      const index = this.#indexes.get(`${this.#types.get(record) ?? ""}\u0000${name}`);
      if (index) {
        const before = record.properties[name];
        if (before && index.get(before) === record.id) index.delete(before);
        if (value) index.set(value, record.id);
      }
      record.properties[name] = value;
      const entry: HistoryEntry = { value: value ?? "", timestamp: stamp, sourceType: caller.kind === "app" ? "INTEGRATION" : "CRM_UI", ...(caller.kind === "app" ? { sourceId: caller.appId ?? "" } : { updatedByUserId: caller.userId ?? 0 }) };
      (record.history[name] ??= []).unshift(entry);
    }
    record.properties.hs_lastmodifieddate = ms;
    const type = this.#types.get(record);
    if (type) this.#logWrite(type, { at: Number(ms), stamp: ms, record });
    record.properties.hs_updated_by_user_id = caller.kind === "user" ? String(caller.userId) : null;
    record.updatedAt = stamp;
  }

  #present(record: StoredObject, properties?: string[], withHistory: string[] = []): Record<string, unknown> {
    const wanted = properties ?? Object.keys(record.properties);
    const shown: Record<string, string | null> = { hs_object_id: record.id, hs_lastmodifieddate: record.properties.hs_lastmodifieddate ?? null, createdate: record.properties.createdate ?? null };
    for (const name of wanted) shown[name] = record.properties[name] ?? null;
    return {
      id: record.id,
      properties: shown,
      ...(withHistory.length > 0 ? { propertiesWithHistory: Object.fromEntries(withHistory.map((name) => [name, record.history[name] ?? []])) } : {}),
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      archived: false,
    };
  }

  #stamp(): string {
    const now = Math.max(this.#clock.now().getTime(), this.#lastStamp);
    this.#lastStamp = now;
    return new Date(now).toISOString();
  }
}

function describeProperty(spec: PropertySpec): Record<string, unknown> {
  return {
    name: spec.name,
    label: spec.label,
    type: spec.type,
    fieldType: spec.fieldType,
    groupName: spec.name.startsWith("cosell_") ? COSELL_GROUP.name : "contactinformation",
    hasUniqueValue: spec.hasUniqueValue ?? false,
    options: (spec.options ?? []).map((value, displayOrder) => ({ value, label: value, displayOrder, hidden: false })),
    calculated: false,
    externalOptions: false,
    hidden: false,
    modificationMetadata: { archivable: true, readOnlyDefinition: !spec.name.startsWith("cosell_"), readOnlyValue: false },
    formField: true,
  };
}

function stringify(properties: Record<string, unknown>): Record<string, string | null> {
  return Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, value === null || value === undefined ? null : typeof value === "object" ? JSON.stringify(value) : String(value)]));
}

function ordered(value: string | null): number {
  if (value === null) return Number.NEGATIVE_INFINITY;
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** A stable but scrambled order for ties, so clients cannot rely on ties coming back by id. */
function hashOrder(id: string): number {
  let h = 2166136261;
  for (const ch of id) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

function compare(value: string | null, operator: string, expected: string | undefined, values: string[] | undefined): boolean {
  switch (operator) {
    case "HAS_PROPERTY":
      return value !== null && value !== "";
    case "NOT_HAS_PROPERTY":
      return value === null || value === "";
    case "IN":
      return value !== null && (values ?? []).includes(value);
    case "EQ":
      return value === expected || (value !== null && expected !== undefined && Number(value) === Number(expected) && /^-?\d/.test(value));
    case "NEQ":
      return value !== expected;
    default: {
      if (value === null || expected === undefined) return false;
      const a = ordered(value);
      const b = ordered(expected);
      return operator === "GT" ? a > b : operator === "GTE" ? a >= b : operator === "LT" ? a < b : operator === "LTE" ? a <= b : false;
    }
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** An owner as the sandbox keeps it. */
export interface SandboxOwner {
  id: string;
  userId: number;
  email: string;
  firstName: string;
  lastName: string;
  archived: boolean;
  teams: Array<{ id: string; name: string; primary: boolean }>;
  createdAt: string;
  updatedAt: string;
}

function presentOwner(owner: SandboxOwner): Record<string, unknown> {
  return { id: owner.id, email: owner.email, type: "PERSON", firstName: owner.firstName, lastName: owner.lastName, userId: owner.userId, userIdIncludingInactive: owner.userId, createdAt: owner.createdAt, updatedAt: owner.updatedAt, archived: owner.archived, teams: owner.teams };
}
