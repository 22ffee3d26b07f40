import { randomUUID } from "node:crypto";
import { ServiceHttpError } from "../../../src/shared/http-errors.js";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { EntraSandbox } from "../../../src/auth/sandbox/entra-sandbox.js";
import type { SandboxApp } from "../../../src/auth/sandbox/entra-sandbox.js";
import { createSandboxPki } from "../../../src/auth/sandbox/pki.js";
import type { Clock } from "../../../src/shared/clock.js";
import { systemClock } from "../../../src/shared/clock.js";
import { SeededRandom } from "../../../src/shared/seeded-random.js";
import { CRM_PEOPLE, LEAD_QUEUE, PARTNER_SELLERS } from "../../sandbox-people.js";
import type { BatchPart } from "../batch.js";
import { boundaryOf, decodeBatch, encodeBatch } from "../batch.js";
import { closeServer, listenLocal } from "../../../src/shared/local-server.js";

/** The lead table's columns: type and max length (connectors/dynamics/README.md). */
const COLUMNS: Record<string, { type: "String" | "Memo" | "Integer" | "Money" | "Boolean" | "DateTime" | "Picklist" | "Uniqueidentifier" | "Lookup"; maxLength?: number; options?: number[] }> = {
  leadid: { type: "Uniqueidentifier" },
  subject: { type: "String", maxLength: 300 },
  companyname: { type: "String", maxLength: 100 },
  firstname: { type: "String", maxLength: 50 },
  lastname: { type: "String", maxLength: 50 },
  emailaddress1: { type: "String", maxLength: 100 },
  telephone1: { type: "String", maxLength: 50 },
  jobtitle: { type: "String", maxLength: 100 },
  address1_line1: { type: "String", maxLength: 250 },
  address1_city: { type: "String", maxLength: 80 },
  address1_stateorprovince: { type: "String", maxLength: 50 },
  address1_postalcode: { type: "String", maxLength: 20 },
  address1_country: { type: "String", maxLength: 80 },
  numberofemployees: { type: "Integer" },
  description: { type: "Memo", maxLength: 2000 },
  modifiedon: { type: "DateTime" },
  _modifiedby_value: { type: "Lookup" },
  _ownerid_value: { type: "Lookup" },
  cosell_referralid: { type: "String", maxLength: 100 },
  cosell_engagementid: { type: "String", maxLength: 100 },
  cosell_status: { type: "Picklist", options: [100000000, 100000001, 100000002, 100000003, 100000004, 100000005, 100000006, 100000007] },
  cosell_qualifycomplete: { type: "Boolean" },
  cosell_evaluatecomplete: { type: "Boolean" },
  cosell_closereason: { type: "String", maxLength: 300 },
  cosell_dealvalue: { type: "Money" },
  cosell_dealcurrency: { type: "String", maxLength: 3 },
  cosell_closedate: { type: "DateTime" },
  cosell_solution: { type: "String", maxLength: 300 },
  cosell_acceptby: { type: "DateTime" },
  cosell_actby: { type: "DateTime" },
  cosell_substage: { type: "String", maxLength: 100 },
  cosell_urgency: { type: "String", maxLength: 20 },
  cosell_partnercenterlink: { type: "String", maxLength: 200 },
  cosell_microsoftseller: { type: "String", maxLength: 300 },
  cosell_lastsync: { type: "DateTime" },
  cosell_syncerror: { type: "Memo", maxLength: 4000 },
};
const READ_ONLY = new Set(["leadid", "modifiedon", "_modifiedby_value", "_ownerid_value"]);

/** The task activity's columns a reminder writes. */
const TASK_COLUMNS: Record<string, { type: "String" | "Memo" | "DateTime" | "Picklist"; maxLength?: number; options?: number[] }> = {
  subject: { type: "String", maxLength: 200 },
  description: { type: "Memo", maxLength: 2000 },
  scheduledend: { type: "DateTime" },
  prioritycode: { type: "Picklist", options: [0, 1, 2] },
};

/** A task activity as the sandbox keeps it. */
export interface DataverseTask {
  activityid: string;
  subject?: string;
  description?: string;
  scheduledend?: string;
  prioritycode?: number;
  statecode: number;
  regardingLeadId?: string;
  ownerId: string;
  ownerType: "systemuser" | "team";
  createdby: string;
  createdon: string;
}

interface Row {
  leadid: string;
  version: number;
  values: Record<string, unknown>;
  /** The table `_ownerid_value` points into. */
  ownerType: "systemuser" | "team";
}

/** A systemuser row: what owner lookups read. */
export interface DataverseUser {
  systemuserid: string;
  fullname: string;
  firstname: string | null;
  lastname: string | null;
  internalemailaddress: string | null;
  address1_telephone1: string | null;
  mobilephone: string | null;
  title: string | null;
  isdisabled: boolean;
  /** 0 read-write user, 4 non-interactive (an application user). */
  accessmode: number;
}

/** A team row: owner teams (teamtype 0) and Entra group teams (2, 3) can own records, access teams (1) cannot. */
export interface DataverseTeam {
  teamid: string;
  name: string;
  teamtype: number;
}

const USER_COLUMNS = ["systemuserid", "fullname", "firstname", "lastname", "internalemailaddress", "address1_telephone1", "mobilephone", "title", "isdisabled", "accessmode"];
const TEAM_COLUMNS = ["teamid", "name", "teamtype"];


export interface DataverseSandboxOptions {
  clock?: Clock;
  /** The clock tokens are issued and checked on (real time when the sandbox clock runs fast). */
  authClock?: Clock;
  host?: string;
  /** Requests per user per window before 429 (Dataverse: 6,000 per 5 minutes). */
  requestLimit?: number;
  windowMs?: number;
  seed?: number | string;
  /** false: the lead table has change tracking off, so only $filter polling works. */
  changeTracking?: boolean;
  faults?: Partial<DataverseFaults>;
}

export interface DataverseFaults {
  latencyMs: number;
  /** Share of requests answered 503. */
  errorRate: number;
  /** Share of requests answered 429 (service protection) with Retry-After. */
  throttleRate: number;
}

/** Service protection: concurrent requests per user. */
const CONCURRENCY_LIMIT = 52;

/**
 * A Dataverse organisation on loopback speaking the Web API v9.2 for the lead table. Tokens come
 * from a sandbox Entra ID (client credentials, audience = the org URL); each app or user is its own
 * systemuser, which is what lets the connector tell its own writes from a seller's.
 */
export class DataverseSandbox {
  readonly entra: EntraSandbox;
  readonly app: SandboxApp;
  readonly applicationUserId: string;
  readonly sellerUserId: string;
  /** The organisation's users: the application user and the partner's people. */
  readonly users: DataverseUser[];
  readonly teams: DataverseTeam[];
  readonly stats = { requests: 0, throttled: 0, byRoute: {} as Record<string, number> };
  readonly faults: DataverseFaults;
  readonly #changeTracking: boolean;
  readonly #inFlight = new Map<string, number>();
  readonly #rows = new Map<string, Row>();
  #keyIndex: Map<string, string> | undefined;
  /** Task activities, by activityid. */
  readonly tasks = new Map<string, DataverseTask>();
  readonly #tombstones: Array<{ leadid: string; version: number }> = [];
  readonly #windows = new Map<string, number[]>();
  readonly #clock: Clock;
  readonly #random: SeededRandom;
  readonly #limit: number;
  readonly #windowMs: number;
  #version = 1;
  #expiredBefore = 0;
  #server: Server | undefined;
  #url = "";

  private constructor(options: DataverseSandboxOptions, entra: EntraSandbox) {
    this.#clock = options.clock ?? systemClock;
    this.#random = new SeededRandom(options.seed ?? "dataverse");
    this.#limit = options.requestLimit ?? 6_000;
    this.#windowMs = options.windowMs ?? 300_000;
    this.#changeTracking = options.changeTracking ?? true;
    this.faults = { latencyMs: 0, errorRate: 0, throttleRate: 0, ...options.faults };
    this.entra = entra;
    this.app = entra.registerApp();
    this.applicationUserId = this.#random.uuid();
    this.sellerUserId = this.#random.uuid();
    // The partner's people (connectors/sandbox-people.ts); the seller who edits is the first of them.
    this.users = [
      { systemuserid: this.applicationUserId, fullname: "# cosell-sync", firstname: null, lastname: "# cosell-sync", internalemailaddress: null, address1_telephone1: null, mobilephone: null, title: null, isdisabled: false, accessmode: 4 },
      ...CRM_PEOPLE.map((p) => ({
        systemuserid: p.email === PARTNER_SELLERS[0]?.email ? this.sellerUserId : this.#random.uuid(),
        fullname: `${p.firstName} ${p.lastName}`,
        firstname: p.firstName,
        lastname: p.lastName,
        internalemailaddress: p.email,
        address1_telephone1: p.phone,
        mobilephone: null,
        title: p.title,
        isdisabled: !p.active,
        accessmode: 0,
      })),
    ];
    this.teams = [
      { teamid: this.#random.uuid(), name: LEAD_QUEUE, teamtype: 0 },
      { teamid: this.#random.uuid(), name: "Joint Planning reviewers", teamtype: 1 },
    ];
  }

  static async start(options: DataverseSandboxOptions = {}): Promise<DataverseSandbox> {
    const clock = options.clock ?? systemClock;
    const entra = new EntraSandbox({ clock: options.authClock ?? clock, random: new SeededRandom(`${options.seed ?? "dataverse"}-entra`), pki: createSandboxPki() });
    await entra.start();
    const sandbox = new DataverseSandbox(options, entra);
    sandbox.#server = createServer((req, res) => void sandbox.#handle(req, res));
    const host = options.host ?? "127.0.0.1";
    sandbox.#url = await listenLocal(sandbox.#server, { host });
    return sandbox;
  }

  /** Assigns a lead to a user, as the Assign button does (tests of owner-bound work use it). */
  assign(leadid: string, systemuserId: string): void {
    const row = this.#rows.get(leadid);
    if (!row) throw new Error(`no lead ${leadid}`);
    this.#apply(row, { "ownerid@odata.bind": `/systemusers(${systemuserId})` }, systemuserId);
  }

  /** The owner of a lead, with the table it is in. */
  ownerOf(leadid: string): { id: string; type: "systemuser" | "team" } | undefined {
    const row = this.#rows.get(leadid);
    return row ? { id: String(row.values._ownerid_value), type: row.ownerType } : undefined;
  }

  /** The organisation URL (and token audience). */
  get url(): string {
    return this.#url;
  }

  /** A systemuser by email (as a test names a person). */
  userByEmail(email: string): DataverseUser | undefined {
    return this.users.find((user) => user.internalemailaddress?.toLowerCase() === email.toLowerCase());
  }

  /** How many leads the table holds (without copying them, as `rows` does). */
  get rowCount(): number {
    return this.#rows.size;
  }

  get rows(): Array<Record<string, unknown>> {
    return [...this.#rows.values()].map((row) => ({ leadid: row.leadid, ...row.values }));
  }

  /** One lead as `rows` shows it, by id (a checker reading every lead one by one would copy the table each time). */
  row(leadid: string): Record<string, unknown> | undefined {
    const row = this.#rows.get(leadid);
    return row ? { leadid: row.leadid, ...row.values } : undefined;
  }

  /** A seller editing a lead in the Dynamics UI. */
  editAsSeller(leadid: string, values: Record<string, unknown>): void {
    const row = this.#rows.get(leadid);
    if (row) this.#apply(row, values, this.sellerUserId);
  }

  deleteAsSeller(leadid: string): void {
    if (this.#rows.delete(leadid)) this.#tombstones.push({ leadid, version: (this.#version += 1) });
    this.#keyIndex = undefined;
  }

  /** Expires every delta token issued so far, as Dataverse does after 7 days. */
  expireDeltaTokens(): void {
    this.#expiredBefore = this.#version + 1;
  }

  async close(): Promise<void> {
    await closeServer(this.#server);
    await this.entra.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const token = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ""))?.[1];
      const grant = token ? this.entra.validate(token, this.#url) : undefined;
      if (!grant) throw new ServiceHttpError(401, "0x80072560", "The user is not a member of the organization, or the token is not valid for it.");
      const caller = grant.kind === "app" ? this.applicationUserId : this.sellerUserId;
      this.#protect(caller);
      const running = (this.#inFlight.get(caller) ?? 0) + 1;
      if (running > CONCURRENCY_LIMIT) {
        this.stats.throttled += 1;
        throw new ServiceHttpError(429, "0x80072326", `Number of concurrent requests exceeded the limit of ${CONCURRENCY_LIMIT}.`, { "Retry-After": "1" });
      }
      this.#inFlight.set(caller, running);
      try {
        await this.#serve(req, res, caller);
      } finally {
        this.#inFlight.set(caller, (this.#inFlight.get(caller) ?? 1) - 1);
      }
    } catch (error) {
      const known = error instanceof ServiceHttpError ? error : new ServiceHttpError(500, "0x80040216", (error as Error).message);
      send(res, { status: known.status, headers: known.headers, body: JSON.stringify({ error: { code: known.code, message: known.message } }) });
    }
  }

  async #serve(req: IncomingMessage, res: ServerResponse, caller: string): Promise<void> {
    if (this.faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.faults.latencyMs));
    if (this.#random.chance(this.faults.errorRate)) throw new ServiceHttpError(503, "0x80040216", "The service is temporarily unavailable.");
    if (this.#random.chance(this.faults.throttleRate)) {
      this.stats.throttled += 1;
      throw new ServiceHttpError(429, "0x80072322", `Number of requests exceeded the limit of ${this.#limit} over time window of ${this.#windowMs / 1000} seconds.`, { "Retry-After": "1" });
    }
    const url = new URL(req.url ?? "/", this.#url);
    const path = url.pathname.replace(/^\/api\/data\/v9\.2/, "");
    this.stats.requests += 1;
    const route = `${req.method} ${path.replace(/\(.*\)/, "(…)")}`;
    this.stats.byRoute[route] = (this.stats.byRoute[route] ?? 0) + 1;
    const body = await readBody(req);
    if (req.method === "POST" && path === "/$batch") return this.#batch(req, res, body, caller);
    send(res, this.#operation(req.method ?? "GET", `${path}${url.search}`, headerMap(req), body, caller));
  }

  /** Service protection: a rolling request count per user. */
  #protect(caller: string): void {
    const now = Date.now();
    const window = (this.#windows.get(caller) ?? []).filter((at) => at > now - this.#windowMs);
    if (window.length >= this.#limit) {
      this.stats.throttled += 1;
      const retry = Math.max(1, Math.ceil(((window[0] as number) + this.#windowMs - now) / 1000));
      throw new ServiceHttpError(429, "0x80072322", `Number of requests exceeded the limit of ${this.#limit} over time window of ${this.#windowMs / 1000} seconds.`, { "Retry-After": String(retry) });
    }
    window.push(now);
    this.#windows.set(caller, window);
  }

  #batch(req: IncomingMessage, res: ServerResponse, body: string, caller: string): void {
    const boundary = boundaryOf(req.headers["content-type"]);
    if (!boundary) throw new ServiceHttpError(400, "0x80048d19", "The batch request must have a multipart/mixed content type with a boundary.");
    const parts = decodeBatch(body, boundary);
    if (parts.length > 1000) throw new ServiceHttpError(400, "0x80048d19", "The number of requests in a batch exceeds the limit of 1000.");
    const continueOnError = /odata\.continue-on-error/.test(String(req.headers.prefer ?? ""));
    const answers: BatchPart[] = [];
    for (const part of parts) {
      if (part.changeset) {
        // A change set is one transaction: any failure undoes every operation in it.
        const snapshot = { rows: new Map([...this.#rows].map(([id, row]) => [id, { ...row, values: { ...row.values } }])), version: this.#version };
        try {
          const inner = part.changeset.map((op) => {
            const answer = this.#operation(op.method ?? "GET", (op.url ?? "").replace(/^.*\/api\/data\/v9\.2/, ""), op.headers, op.body ?? "", caller);
            return { status: answer.status, headers: { ...answer.headers, ...(op.headers["content-id"] ? { "Content-ID": op.headers["content-id"] } : {}) }, ...(answer.body ? { body: answer.body } : {}) };
          });
          answers.push({ headers: {}, changeset: inner });
        } catch (error) {
          this.#rows.clear();
          for (const [id, row] of snapshot.rows) this.#rows.set(id, row);
          this.#keyIndex = undefined;
          this.#version = snapshot.version;
          const known = error instanceof ServiceHttpError ? error : new ServiceHttpError(500, "0x80040216", (error as Error).message);
          answers.push({ status: known.status, headers: { "Content-Type": "application/json; odata.metadata=minimal" }, body: JSON.stringify({ error: { code: known.code, message: known.message } }) });
          if (!continueOnError) break;
        }
        continue;
      }
      try {
        const answer = this.#operation(part.method ?? "GET", (part.url ?? "").replace(/^.*\/api\/data\/v9\.2/, ""), part.headers, part.body ?? "", caller);
        answers.push({ status: answer.status, headers: { ...answer.headers, ...(part.headers["content-id"] ? { "Content-ID": part.headers["content-id"] } : {}) }, ...(answer.body ? { body: answer.body } : {}) });
      } catch (error) {
        const known = error instanceof ServiceHttpError ? error : new ServiceHttpError(500, "0x80040216", (error as Error).message);
        answers.push({ status: known.status, headers: { "Content-Type": "application/json; odata.metadata=minimal", ...(part.headers["content-id"] ? { "Content-ID": part.headers["content-id"] } : {}) }, body: JSON.stringify({ error: { code: known.code, message: known.message } }) });
        if (!continueOnError) break;
      }
    }
    const responseBoundary = `batchresponse_${randomUUID()}`;
    send(res, { status: 200, headers: { "Content-Type": `multipart/mixed; boundary=${responseBoundary}` }, body: encodeBatch(responseBoundary, answers, "response") });
  }

  #operation(method: string, pathAndQuery: string, headers: Record<string, string>, body: string, caller: string): { status: number; headers: Record<string, string>; body?: string } {
    const url = new URL(pathAndQuery, "http://org");
    const path = url.pathname;
    const json = { "Content-Type": "application/json; odata.metadata=minimal", "OData-Version": "4.0" };
    if (method === "GET" && path === "/WhoAmI") return { status: 200, headers: json, body: JSON.stringify({ UserId: caller, BusinessUnitId: this.#random.uuid(), OrganizationId: this.#random.uuid() }) };
    if (method === "GET" && path === "/EntityDefinitions(LogicalName='lead')/Attributes") {
      // Lookups are columns named without the Web API's _…_value wrapping; the owner is of type Owner.
      const attribute = (name: string, type: string) => (name === "_ownerid_value" ? { LogicalName: "ownerid", AttributeType: "Owner" } : { LogicalName: name.replace(/^_(.+)_value$/, "$1"), AttributeType: type });
      return { status: 200, headers: json, body: JSON.stringify({ value: Object.entries(COLUMNS).map(([name, c]) => ({ ...attribute(name, c.type), ...(c.maxLength ? { MaxLength: c.maxLength } : {}) })) }) };
    }
    if (method === "GET" && path === "/EntityDefinitions(LogicalName='lead')/Keys") {
      return { status: 200, headers: json, body: JSON.stringify({ value: [{ LogicalName: "cosell_referralid_key", KeyAttributes: ["cosell_referralid"], EntityKeyIndexStatus: "Active" }] }) };
    }
    if (method === "POST" && path === "/leads/Microsoft.Dynamics.CRM.UpsertMultiple") {
      const targets = (JSON.parse(body || "{}") as { Targets?: Array<Record<string, unknown>> }).Targets ?? [];
      // All or nothing on standard tables: validate every target before writing any.
      for (const target of targets) this.#validate(Object.fromEntries(Object.entries(target).filter(([k]) => !k.startsWith("@odata"))));
      const ids = targets.map((target) => {
        const key = String(target.cosell_referralid ?? "");
        const values = Object.fromEntries(Object.entries(target).filter(([k]) => !k.startsWith("@odata")));
        const row = this.#byKey(key) ?? this.#insert(caller);
        this.#apply(row, values, caller);
        return row.leadid;
      });
      return { status: 200, headers: json, body: JSON.stringify({ Ids: ids }) };
    }
    const keyed = /^\/leads\((?:cosell_referralid='((?:[^']|'')*)'|([0-9a-f-]{36}))\)$/.exec(path);
    if (keyed) {
      const key = keyed[1]?.replace(/''/g, "'");
      const row = key !== undefined ? this.#byKey(key) : this.#rows.get(keyed[2] as string);
      if (method === "GET") {
        if (!row) throw new ServiceHttpError(404, "0x80040217", `lead With Id = ${key ?? keyed[2]} Does Not Exist`);
        const presented = this.#present(row, url.searchParams.get("$select"));
        // Lookups name their table only when asked (Prefer: odata.include-annotations).
        if (/include-annotations="[^"]*(\*|lookuplogicalname)/.test(headers.prefer ?? "") && "_ownerid_value" in presented) presented["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = row.ownerType;
        return { status: 200, headers: json, body: JSON.stringify(presented) };
      }
      if (method === "PATCH") {
        const values = JSON.parse(body || "{}") as Record<string, unknown>;
        if (key !== undefined && "cosell_referralid" in values) throw new ServiceHttpError(400, "0x80048d19", "The alternate key attribute cannot be in the body of an upsert addressed by that key.");
        this.#validate(values);
        const ifMatch = headers["if-match"];
        const ifNoneMatch = headers["if-none-match"];
        if (row && ifNoneMatch === "*") throw new ServiceHttpError(412, "0x80040237", "A record with matching key values already exists.");
        if (!row && ifMatch === "*") throw new ServiceHttpError(404, "0x80040217", "lead With Id Does Not Exist");
        const created = !row;
        const target = row ?? this.#insert(caller, key);
        this.#apply(target, values, caller);
        const entity = `${this.#url}/api/data/v9.2/leads(${target.leadid})`;
        if (/return=representation/.test(headers.prefer ?? "")) return { status: created ? 201 : 200, headers: { ...json, "OData-EntityId": entity }, body: JSON.stringify(this.#present(target, url.searchParams.get("$select"))) };
        return { status: 204, headers: { "OData-EntityId": entity, "OData-Version": "4.0" } };
      }
    }
    if (method === "GET" && path === "/leads") return this.#list(url, headers, json);
    const directory = /^\/(systemusers|teams)(?:\(([0-9a-f-]{36})\))?$/.exec(path);
    if (directory && method === "GET") return this.#directory(directory[1] as "systemusers" | "teams", directory[2], url, json);
    const task = /^\/tasks\(([0-9a-f-]{36})\)$/.exec(path);
    if (task && method === "PATCH") return this.#upsertTask(task[1] as string, JSON.parse(body || "{}") as Record<string, unknown>, headers, caller);
    if (task && method === "GET") {
      const found = this.tasks.get(task[1] as string);
      if (!found) throw new ServiceHttpError(404, "0x80040217", `task With Id = ${task[1]} Does Not Exist`);
      return { status: 200, headers: json, body: JSON.stringify({ activityid: found.activityid, subject: found.subject ?? null, scheduledend: found.scheduledend ?? null, _ownerid_value: found.ownerId, _regardingobjectid_value: found.regardingLeadId ?? null, statecode: found.statecode }) };
    }
    throw new ServiceHttpError(404, "0x80060888", `Resource not found for the segment '${path}'.`);
  }

  /** Upsert by primary key, as Dataverse allows for activities: If-None-Match: * makes it create-only. */
  #upsertTask(id: string, values: Record<string, unknown>, headers: Record<string, string>, caller: string): { status: number; headers: Record<string, string> } {
    const existing = this.tasks.get(id);
    if (existing && headers["if-none-match"] === "*") throw new ServiceHttpError(412, "0x80040237", "A record with matching key values already exists.");
    if (existing && existing.statecode !== 0) throw new ServiceHttpError(400, "0x80040203", "This task is closed and cannot be edited; reopen it first.");
    const task: DataverseTask = existing ?? { activityid: id, statecode: 0, ownerId: caller, ownerType: "systemuser", createdby: caller, createdon: this.#clock.now().toISOString() };
    for (const [name, value] of Object.entries(values)) {
      if (name === "regardingobjectid_lead_task@odata.bind") {
        const lead = /^\/?leads\(([0-9a-f-]{36})\)$/.exec(String(value))?.[1];
        if (!lead || !this.#rows.has(lead)) throw new ServiceHttpError(404, "0x80040217", `lead With Id = ${lead ?? String(value)} Does Not Exist`);
        task.regardingLeadId = lead;
        continue;
      }
      if (name === "ownerid@odata.bind") {
        const owner = /^\/?(systemusers|teams)\(([0-9a-f-]{36})\)$/.exec(String(value));
        if (!owner) throw new ServiceHttpError(400, "0x80048d19", `Cannot bind ownerid to '${String(value)}'; use /systemusers(id) or /teams(id).`);
        const known = owner[1] === "systemusers" ? this.users.some((u) => u.systemuserid === owner[2] && !u.isdisabled) : this.teams.some((t) => t.teamid === owner[2] && t.teamtype !== 1);
        if (!known) throw new ServiceHttpError(404, "0x80040217", `${owner[1] === "teams" ? "team" : "systemuser"} With Id = ${owner[2]} Does Not Exist`);
        task.ownerId = owner[2] as string;
        task.ownerType = owner[1] === "teams" ? "team" : "systemuser";
        continue;
      }
      const column = TASK_COLUMNS[name];
      if (!column) throw new ServiceHttpError(400, "0x80060891", `An undeclared property '${name}' which only has property annotations in the payload but no property value was found in the payload.`);
      if (value === null) continue;
      if ((column.type === "String" || column.type === "Memo") && (typeof value !== "string" || (column.maxLength !== undefined && value.length > column.maxLength))) {
        throw new ServiceHttpError(400, "0x80044331", `A validation error occurred. The length of the '${name}' attribute of the 'task' entity exceeded the maximum allowed length of '${column.maxLength}'.`);
      }
      if (column.type === "DateTime" && (typeof value !== "string" || Number.isNaN(Date.parse(value)))) throw new ServiceHttpError(400, "0x80048d19", `Cannot convert the literal '${String(value)}' to the expected type 'Edm.DateTimeOffset'.`);
      if (column.type === "Picklist" && !column.options?.includes(Number(value))) throw new ServiceHttpError(400, "0x8004431a", `${String(value)} is not a valid value for the '${name}' option set.`);
      (task as unknown as Record<string, unknown>)[name] = value;
    }
    this.tasks.set(id, task);
    return { status: 204, headers: { "OData-EntityId": `${this.#url}/api/data/v9.2/tasks(${id})`, "OData-Version": "4.0" } };
  }

  /** systemusers and teams: one by id, or a filtered list ($filter, $select, $top). */
  #directory(set: "systemusers" | "teams", id: string | undefined, url: URL, json: Record<string, string>): { status: number; headers: Record<string, string>; body: string } {
    const columns = set === "systemusers" ? USER_COLUMNS : TEAM_COLUMNS;
    const rows = (set === "systemusers" ? this.users : this.teams) as unknown as Array<Record<string, unknown>>;
    const key = set === "systemusers" ? "systemuserid" : "teamid";
    const select = url.searchParams.get("$select")?.split(",").map((c) => c.trim()) ?? columns;
    for (const column of select) if (!columns.includes(column)) throw new ServiceHttpError(400, "0x80060888", `Could not find a property named '${column}' on type 'Microsoft.Dynamics.CRM.${set === "systemusers" ? "systemuser" : "team"}'.`);
    const present = (row: Record<string, unknown>) => ({ "@odata.etag": 'W/"1"', [key]: row[key], ...Object.fromEntries(select.map((c) => [c, row[c] ?? null])) });
    if (id) {
      const row = rows.find((r) => r[key] === id);
      if (!row) throw new ServiceHttpError(404, "0x80040217", `${set === "systemusers" ? "systemuser" : "team"} With Id = ${id} Does Not Exist`);
      return { status: 200, headers: json, body: JSON.stringify(present(row)) };
    }
    const filter = compileFilter(url.searchParams.get("$filter"), columns);
    const top = Number(url.searchParams.get("$top") ?? 5000);
    const value = rows.filter((row) => filter(row)).slice(0, top).map(present);
    return { status: 200, headers: json, body: JSON.stringify({ "@odata.context": `${this.#url}/api/data/v9.2/$metadata#${set}`, value }) };
  }

  #list(url: URL, headers: Record<string, string>, json: Record<string, string>): { status: number; headers: Record<string, string>; body: string } {
    const tracking = this.#changeTracking && /odata\.track-changes/.test(headers.prefer ?? "");
    const deltatoken = url.searchParams.get("$deltatoken");
    if ((tracking || deltatoken) && (url.searchParams.has("$filter") || url.searchParams.has("$orderby") || url.searchParams.has("$top"))) {
      throw new ServiceHttpError(400, "0x80048d19", "$filter, $orderby and $top cannot be used with change tracking.");
    }
    const select = url.searchParams.get("$select");
    const pageSize = Number(/odata\.maxpagesize=(\d+)/.exec(headers.prefer ?? "")?.[1] ?? 5000);
    let since = 0;
    if (deltatoken) {
      since = Number(deltatoken);
      if (!Number.isFinite(since) || since < this.#expiredBefore) throw new ServiceHttpError(400, "0x80044352", "Version stamp associated with the client has expired. Please perform a full sync.");
    }
    const skip = Number(url.searchParams.get("$skiptoken") ?? 0);
    const upTo = Number(url.searchParams.get("$upto") ?? this.#version);
    const filter = compileFilter(url.searchParams.get("$filter"));
    const orderBy = url.searchParams.get("$orderby");
    let changed = [...this.#rows.values()].filter((row) => row.version > since && row.version <= upTo && filter({ leadid: row.leadid, ...row.values })).sort((a, b) => a.version - b.version);
    if (orderBy) {
      const keys = orderBy.split(",").map((part) => part.trim().split(/\s+/)[0] as string);
      changed = changed.sort((a, b) => {
        for (const key of keys) {
          const left = String(key === "leadid" ? a.leadid : (a.values[key] ?? ""));
          const right = String(key === "leadid" ? b.leadid : (b.values[key] ?? ""));
          if (left !== right) return left < right ? -1 : 1;
        }
        return 0;
      });
    }
    const deleted = deltatoken ? this.#tombstones.filter((t) => t.version > since && t.version <= upTo) : [];
    const all: Array<Record<string, unknown>> = [...changed.map((row) => this.#present(row, select)), ...deleted.map((t) => ({ "@odata.context": `${this.#url}/api/data/v9.2/$metadata#leads/$deletedEntity`, id: t.leadid, reason: "deleted" }))];
    const page = all.slice(skip, skip + pageSize);
    const base = `${this.#url}/api/data/v9.2/leads?${select ? `$select=${select}&` : ""}`;
    const more = skip + pageSize < all.length;
    const link = more
      ? { "@odata.nextLink": `${base}${deltatoken ? `$deltatoken=${deltatoken}&` : ""}${url.searchParams.has("$filter") ? `$filter=${encodeURIComponent(url.searchParams.get("$filter") ?? "")}&` : ""}${orderBy ? `$orderby=${encodeURIComponent(orderBy)}&` : ""}$upto=${upTo}&$skiptoken=${skip + pageSize}` }
      : tracking || deltatoken
        ? { "@odata.deltaLink": `${base}$deltatoken=${upTo}` }
        : {};
    return { status: 200, headers: { ...json, ...(tracking ? { "Preference-Applied": "odata.track-changes" } : {}) }, body: JSON.stringify({ "@odata.context": `${this.#url}/api/data/v9.2/$metadata#leads`, value: page, ...link }) };
  }

  #validate(values: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(values)) {
      if (name === "ownerid@odata.bind") {
        this.#owner(value);
        continue;
      }
      const column = COLUMNS[name];
      if (!column) throw new ServiceHttpError(400, "0x80060891", `An undeclared property '${name}' which only has property annotations in the payload but no property value was found in the payload.`);
      if (READ_ONLY.has(name)) throw new ServiceHttpError(400, "0x80048d19", `The property '${name}' cannot be set.`);
      if (value === null) continue;
      if ((column.type === "String" || column.type === "Memo") && (typeof value !== "string" || (column.maxLength !== undefined && value.length > column.maxLength))) {
        throw new ServiceHttpError(400, "0x80044331", `A validation error occurred. The length of the '${name}' attribute of the 'lead' entity exceeded the maximum allowed length of '${column.maxLength}'.`);
      }
      if (column.type === "Picklist" && !column.options?.includes(Number(value))) throw new ServiceHttpError(400, "0x8004431a", `${String(value)} is not a valid value for the '${name}' option set.`);
      if (column.type === "Boolean" && typeof value !== "boolean") throw new ServiceHttpError(400, "0x80048d19", `Cannot convert the literal '${String(value)}' to the expected type 'Edm.Boolean'.`);
      if ((column.type === "Integer" || column.type === "Money") && typeof value !== "number") throw new ServiceHttpError(400, "0x80048d19", `Cannot convert the literal '${String(value)}' to a number for '${name}'.`);
    }
  }

  /** What `ownerid@odata.bind` names: an enabled user, or a team that can own records. */
  #owner(value: unknown): { id: string; type: "systemuser" | "team" } {
    const bound = /^(?:.*\/api\/data\/v9\.2)?\/?(systemusers|teams)\(([0-9a-f-]{36})\)$/.exec(String(value));
    if (!bound) throw new ServiceHttpError(400, "0x80048d19", `Cannot bind ownerid to '${String(value)}'; use /systemusers(id) or /teams(id).`);
    const id = bound[2] as string;
    if (bound[1] === "teams") {
      const team = this.teams.find((t) => t.teamid === id);
      if (!team) throw new ServiceHttpError(404, "0x80040217", `team With Id = ${id} Does Not Exist`);
      if (team.teamtype === 1) throw new ServiceHttpError(400, "0x80041d4b", `The team ${team.name} is an access team and cannot own records.`);
      return { id, type: "team" };
    }
    const user = this.users.find((u) => u.systemuserid === id);
    if (!user) throw new ServiceHttpError(404, "0x80040217", `systemuser With Id = ${id} Does Not Exist`);
    if (user.isdisabled) throw new ServiceHttpError(400, "0x80040225", `The specified user (Id = ${id}) is disabled. Records cannot be assigned to a disabled user.`);
    return { id, type: "systemuser" };
  }

  /**
   * The alternate key as Dataverse has it, an index: a scan per record made a 100,000-lead
   * backfill quadratic here. Built on first use, kept by inserts and writes, dropped when rows
   * are deleted or a change set is rolled back (rebuilt at the next lookup).
   */
  #byKey(key: string): Row | undefined {
    if (!this.#keyIndex) {
      this.#keyIndex = new Map();
      for (const row of this.#rows.values()) if (typeof row.values.cosell_referralid === "string") this.#keyIndex.set(row.values.cosell_referralid, row.leadid);
    }
    const id = this.#keyIndex.get(key);
    const row = id === undefined ? undefined : this.#rows.get(id);
    return row?.values.cosell_referralid === key ? row : undefined;
  }

  #indexKey(row: Row, before: unknown): void {
    if (!this.#keyIndex || before === row.values.cosell_referralid) return;
    if (typeof before === "string" && this.#keyIndex.get(before) === row.leadid) this.#keyIndex.delete(before);
    if (typeof row.values.cosell_referralid === "string") this.#keyIndex.set(row.values.cosell_referralid, row.leadid);
  }

  #insert(caller: string, key?: string): Row {
    const row: Row = { leadid: this.#random.uuid(), version: 0, values: { _ownerid_value: caller, ...(key !== undefined ? { cosell_referralid: key } : {}) }, ownerType: "systemuser" };
    this.#rows.set(row.leadid, row);
    this.#indexKey(row, undefined);
    return row;
  }

  #apply(row: Row, values: Record<string, unknown>, caller: string): void {
    const before = row.values.cosell_referralid;
    const { "ownerid@odata.bind": bind, ...plain } = values;
    if (bind !== undefined) {
      const owner = this.#owner(bind);
      plain._ownerid_value = owner.id;
      row.ownerType = owner.type;
    }
    Object.assign(row.values, plain, { modifiedon: this.#clock.now().toISOString(), _modifiedby_value: caller });
    this.#indexKey(row, before);
    row.version = this.#version += 1;
  }

  #present(row: Row, select: string | null): Record<string, unknown> {
    const fields = select ? select.split(",") : Object.keys(COLUMNS);
    return { "@odata.etag": `W/"${row.version}"`, leadid: row.leadid, ...Object.fromEntries(fields.filter((f) => f !== "leadid").map((f) => [f, row.values[f] ?? null])) };
  }
}

/**
 * The $filter subset a poller uses: comparisons (eq ne gt ge lt le) on columns with quoted text,
 * GUIDs or ISO dates, joined by and / or with parentheses. Anything else is refused.
 */
function compileFilter(text: string | null, columns: readonly string[] = Object.keys(COLUMNS)): (row: Record<string, unknown>) => boolean {
  if (!text) return () => true;
  const tokens = text.match(/\(|\)|'(?:[^']|'')*'|[\w.:+-]+/g) ?? [];
  let index = 0;
  const fail = (): never => {
    throw new ServiceHttpError(400, "0x80060888", `The query parameter $filter '${text}' is not supported here.`);
  };
  const primary = (): ((row: Record<string, unknown>) => boolean) => {
    if (tokens[index] === "(") {
      index += 1;
      const inner = orExpression();
      if (tokens[index] !== ")") fail();
      index += 1;
      return inner;
    }
    const field = tokens[index] ?? fail();
    const op = tokens[index + 1] ?? fail();
    const raw = tokens[index + 2] ?? fail();
    index += 3;
    if (!columns.includes(field) || !["eq", "ne", "gt", "ge", "lt", "le"].includes(op)) fail();
    const quoted = raw.startsWith("'");
    // Dataverse compares text case-insensitively (the database's collation).
    const value = quoted ? raw.slice(1, -1).replace(/''/g, "'").toLowerCase() : raw;
    return (row) => {
      const text = row[field] === undefined || row[field] === null ? "" : String(row[field]);
      const own = quoted ? text.toLowerCase() : text;
      const [a, b] = /^\d{4}-\d{2}-\d{2}T/.test(value) ? [Date.parse(own) || 0, Date.parse(value)] : [own, value];
      return op === "eq" ? a === b : op === "ne" ? a !== b : op === "gt" ? a > b : op === "ge" ? a >= b : op === "lt" ? a < b : a <= b;
    };
  };
  const andExpression = () => {
    let left = primary();
    while (tokens[index] === "and") {
      index += 1;
      const right = primary();
      const prev = left;
      left = (row) => prev(row) && right(row);
    }
    return left;
  };
  const orExpression = (): ((row: Record<string, unknown>) => boolean) => {
    let left = andExpression();
    while (tokens[index] === "or") {
      index += 1;
      const right = andExpression();
      const prev = left;
      left = (row) => prev(row) || right(row);
    }
    return left;
  };
  const predicate = orExpression();
  if (index !== tokens.length) fail();
  return predicate;
}

function headerMap(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(",") : String(v ?? "")]));
}

function send(res: ServerResponse, answer: { status: number; headers: Record<string, string>; body?: string }): void {
  res.writeHead(answer.status, { ...answer.headers, ...(answer.body ? { "Content-Length": String(Buffer.byteLength(answer.body)) } : {}) });
  res.end(answer.body ?? "");
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
