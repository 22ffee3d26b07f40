import { sign } from "node:crypto";
import jsforce from "jsforce";
import type { Connection } from "jsforce";
import type { Logger } from "../../src/log/logger.js";
import { componentLogger } from "../../src/log/logger.js";
import type { Clock } from "../../src/shared/clock.js";
import { systemClock } from "../../src/shared/clock.js";
import { countCall } from "../../src/shared/call-meter.js";
import type { RateInfo } from "../../src/shared/rate-info.js";
import type { ChangePage, ChangesRequest, CrmConnector, CrmOwner, OwnerQuery, SchemaProblem, SchemaReport, SchemaRequirement, TaskRequest, TaskResult, UpsertRequest, UpsertResult } from "../types.js";
import { CrmError } from "../types.js";
import { userOwner } from "../crm-user.js";
import { isEcho, pushedFor } from "../echo.js";
import { crmErrorFrom, crmErrorFromThrown, REQUEST_LIMIT_PAUSE_MS } from "./errors.js";

export type SalesforceAuth =
  | { mode: "jwt"; clientId: string; username: string; privateKey: string }
  | { mode: "client-credentials"; clientId: string; clientSecret: string }
  | { mode: "access-token"; accessToken: string };

export interface SalesforceConnectorOptions {
  loginUrl: string;
  instanceUrl?: string;
  apiVersion: string;
  auth: SalesforceAuth;
  logger: Logger;
  clock?: Clock;
  /**
   * A call without a complete answer in this long fails as CRM_UNREACHABLE (retried). jsforce's own
   * timeout covers only the wait for headers; a connection that dies mid-body can leave its promise
   * pending for good.
   */
  timeoutMs?: number;
}

/** sObject Collections take at most 200 records per call. */
export const COLLECTION_SIZE = 200;
const JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** The outbox owns retries: jsforce must not retry behind its back. */
const NO_RETRY = { retry: { maxRetries: 0 } };

interface QueryAnswer {
  records: Array<Record<string, unknown> & { Id: string }>;
  done: boolean;
  nextRecordsUrl?: string;
}

interface DescribeAnswer {
  fields: Array<{ name: string; type: string; length: number; externalId: boolean; unique: boolean; updateable: boolean; createable: boolean; picklistValues: Array<{ value: string; active: boolean }> }>;
}

/**
 * Salesforce through jsforce: sObject Collections upserts on the external id, changes by SOQL on
 * SystemModstamp with a tie-safe (SystemModstamp, Id) cursor, our own writes recognised by the
 * integration user, and the org's API usage read from every answer.
 */
export class SalesforceConnector implements CrmConnector {
  readonly kind = "salesforce" as const;
  readonly upsertBatchLimit = COLLECTION_SIZE;
  readonly #options: SalesforceConnectorOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  #conn: Connection | undefined;
  #userId = "";
  #limitedUntil = 0;

  constructor(options: SalesforceConnectorOptions) {
    this.#options = options;
    this.#log = componentLogger(options.logger, "salesforce");
    this.#clock = options.clock ?? systemClock;
  }

  /** The integration user: writes by this user are ours. */
  get userId(): string {
    return this.#userId;
  }

  async connect(): Promise<void> {
    const { auth, loginUrl, apiVersion } = this.#options;
    const version = apiVersion;
    try {
      if (auth.mode === "access-token") {
        if (!this.#options.instanceUrl) throw new CrmError("CRM_UNAUTHENTICATED", "instanceUrl is required with an access token.", { crm: "salesforce" });
        this.#conn = new jsforce.Connection({ instanceUrl: this.#options.instanceUrl, accessToken: auth.accessToken, version });
        const info = (await this.#conn.request({ method: "GET", url: `${this.#options.instanceUrl}/services/oauth2/userinfo` }, NO_RETRY)) as { user_id: string };
        this.#userId = info.user_id;
      } else {
        const grant = () => this.#grant();
        const conn = new jsforce.Connection({
          loginUrl,
          version,
          oauth2: { loginUrl, clientId: auth.clientId, ...(auth.mode === "client-credentials" ? { clientSecret: auth.clientSecret } : {}) },
          // Neither grant returns a refresh token: an expired session re-runs the grant.
          refreshFn: (_conn, callback) => {
            grant().then(
              (res) => callback(null, res.access_token, res as never),
              (error: unknown) => callback(error as Error),
            );
          },
        });
        this.#conn = conn;
        const userInfo = await this.#timed(() => conn.authorize(this.#grantParams()));
        this.#userId = userInfo.id;
      }
    } catch (error) {
      throw crmErrorFromThrown(error);
    }
    this.#log.info({ user: this.#userId, instance: this.#conn.instanceUrl }, "connected to Salesforce");
  }

  async upsert(request: UpsertRequest): Promise<UpsertResult[]> {
    const conn = this.#connection();
    const results: UpsertResult[] = [];
    for (let offset = 0; offset < request.records.length; offset += COLLECTION_SIZE) {
      const chunk = request.records.slice(offset, offset + COLLECTION_SIZE);
      const body = chunk.map((record) => ({ ...record.fields, [request.externalIdField]: record.key, attributes: { type: request.object } }));
      let answers: Array<{ id?: string; success: boolean; created?: boolean; errors: Array<{ statusCode: string; message: string; fields?: string[] }> }>;
      try {
        answers = (await this.#timed(() => conn.sobject(request.object).upsert(body as never, request.externalIdField, { allOrNone: false }))) as never;
      } catch (error) {
        const failure = this.#observe(crmErrorFromThrown(error));
        // A field the org lacks fails the whole call: every record of it fails the same way.
        if (!failure.retryable) {
          for (const record of chunk) results.push({ key: record.key, outcome: "failed", error: failure });
          continue;
        }
        throw failure;
      }
      chunk.forEach((record, index) => {
        const answer = answers[index];
        if (answer?.success && answer.id) results.push({ key: record.key, outcome: answer.created ? "created" : "updated", id: answer.id });
        else {
          const first = answer?.errors[0];
          results.push({ key: record.key, outcome: "failed", error: crmErrorFrom(first?.statusCode ?? "UNKNOWN", first?.message ?? "no result for this record", first?.fields ?? []) });
        }
      });
    }
    return results;
  }

  async *changes(request: ChangesRequest): AsyncGenerator<ChangePage> {
    const fields = [...new Set(["Id", request.externalIdField, "SystemModstamp", "LastModifiedById", ...request.fields])];
    const after = request.cursor
      ? `(SystemModstamp > ${request.cursor.modstamp} OR (SystemModstamp = ${request.cursor.modstamp} AND Id > '${escape(request.cursor.id)}'))`
      : request.since
        ? `SystemModstamp > ${request.since.toISOString()}`
        : undefined;
    const where = [`${request.externalIdField} != null`, after].filter(Boolean).join(" AND ");
    const soql = `SELECT ${fields.join(", ")} FROM ${request.object} WHERE ${where} ORDER BY SystemModstamp ASC, Id ASC`;
    let answer = await this.#get<QueryAnswer>(`/query?q=${encodeURIComponent(soql)}`);
    for (;;) {
      const last = answer.records[answer.records.length - 1];
      if (last) {
        const changes = [];
        const externalIdOf = (record: Record<string, unknown>) => (typeof record[request.externalIdField] === "string" ? (record[request.externalIdField] as string) : undefined);
        const pushed = await pushedFor(request, answer.records.filter((record) => record.LastModifiedById === this.#userId).map(externalIdOf));
        for (const record of answer.records) {
          const externalId = externalIdOf(record);
          if (record.LastModifiedById === this.#userId && isEcho(record, request.fields, externalId ? pushed.get(externalId) : undefined)) continue;
          changes.push({
            id: record.Id,
            ...(externalId ? { externalId } : {}),
            modifiedAt: String(record.SystemModstamp),
            modifiedBy: String(record.LastModifiedById),
            fields: Object.fromEntries(request.fields.map((field) => [field, record[field] ?? null])),
          });
        }
        yield { changes, cursor: { modstamp: toSoqlDate(String(last.SystemModstamp)), id: last.Id } };
      }
      if (answer.done || !answer.nextRecordsUrl) return;
      answer = await this.#get<QueryAnswer>(answer.nextRecordsUrl);
    }
  }

  async checkSchema(requirements: SchemaRequirement[]): Promise<SchemaReport> {
    const problems: SchemaProblem[] = [];
    for (const requirement of requirements) {
      let describe: DescribeAnswer;
      try {
        describe = await this.#get<DescribeAnswer>(`/sobjects/${requirement.object}/describe`);
      } catch (error) {
        if (error instanceof CrmError && error.code === "CRM_NOT_FOUND") {
          problems.push({ object: requirement.object, field: "", problem: "object-missing", message: `The ${requirement.object} object does not exist or the integration user cannot see it.` });
          continue;
        }
        throw error;
      }
      const byName = new Map(describe.fields.map((field) => [field.name.toLowerCase(), field]));
      const ext = byName.get(requirement.externalIdField.toLowerCase());
      if (!ext) {
        problems.push({ object: requirement.object, field: requirement.externalIdField, problem: "missing", message: `Create ${requirement.externalIdField} on ${requirement.object}: Text(64), External ID, Unique (case-insensitive).` });
      } else {
        if (!ext.externalId) problems.push({ object: requirement.object, field: ext.name, problem: "not-external-id", message: `Mark ${ext.name} as External ID; upserts key on it.` });
        if (!ext.unique) problems.push({ object: requirement.object, field: ext.name, problem: "not-unique", message: `Mark ${ext.name} as Unique; without it two records can carry one referral id and upserts fail.` });
      }
      for (const wanted of requirement.fields) {
        const field = byName.get(wanted.name.toLowerCase());
        if (!field) {
          problems.push({ object: requirement.object, field: wanted.name, problem: "missing", message: `Create ${wanted.name} on ${requirement.object} (see connectors/salesforce/README.md for its type).` });
          continue;
        }
        if (!field.updateable && !field.createable) problems.push({ object: requirement.object, field: field.name, problem: "not-updateable", message: `The integration user cannot write ${field.name}; grant edit access in its permission set.` });
        if (wanted.maxLength !== undefined && field.length > 0 && ["string", "textarea", "email", "phone", "url"].includes(field.type) && field.length < wanted.maxLength) {
          problems.push({ object: requirement.object, field: field.name, problem: "too-short", message: `${field.name} holds ${field.length} characters but the mapping writes up to ${wanted.maxLength}; lengthen the field or lower the mapping's truncate.` });
        }
        if (wanted.values && field.type === "picklist") {
          const offered = new Set(field.picklistValues.filter((v) => v.active).map((v) => v.value));
          const missing = wanted.values.filter((value) => !offered.has(value));
          if (missing.length > 0) problems.push({ object: requirement.object, field: field.name, problem: "picklist-value-missing", message: `Add ${missing.map((v) => `"${v}"`).join(", ")} to the ${field.name} picklist.` });
        }
      }
    }
    return { ok: problems.length === 0, problems };
  }

  /**
   * A Task on the record, assigned to its owner when a user owns it (a queue cannot own a task:
   * then it stays with the integration user). Leads and contacts are the task's WhoId, anything
   * else its WhatId. A retry finds the task an unanswered first try made (same record, subject).
   */
  async createTask(request: TaskRequest): Promise<TaskResult> {
    const subject = request.subject.slice(0, 255);
    const who = request.object === "Lead" || request.object === "Contact";
    const relation = who ? "WhoId" : "WhatId";
    const existing = await this.#get<QueryAnswer>(`/query?q=${encodeURIComponent(`SELECT Id, OwnerId FROM Task WHERE ${relation} = '${escape(request.recordId)}' AND Subject = '${escape(subject)}' LIMIT 1`)}`);
    const found = existing.records[0];
    if (found) return { id: found.Id, outcome: "existing", requests: 1, ...(typeof found.OwnerId === "string" ? { ownerId: found.OwnerId } : {}) };
    const record = await this.#get<Record<string, unknown>>(`/sobjects/${encodeURIComponent(request.object)}/${encodeURIComponent(request.recordId)}?fields=OwnerId`);
    const owner = typeof record.OwnerId === "string" && record.OwnerId.startsWith("005") ? record.OwnerId : undefined;
    const task = {
      Subject: subject,
      Description: request.body.slice(0, 32_000),
      ActivityDate: request.dueAt.toISOString().slice(0, 10),
      Status: "Not Started",
      Priority: "High",
      [relation]: request.recordId,
      ...(owner ? { OwnerId: owner } : {}),
    };
    let answer: { id?: string; success?: boolean; errors?: Array<{ statusCode?: string; errorCode?: string; message: string; fields?: string[] }> };
    try {
      answer = (await this.#timed(() => this.#connection().request({ method: "POST", url: "/sobjects/Task", body: JSON.stringify(task), headers: { "Content-Type": "application/json" } }, NO_RETRY))) as typeof answer;
    } catch (error) {
      throw this.#observe(crmErrorFromThrown(error));
    }
    if (!answer.id) {
      const first = answer.errors?.[0];
      throw crmErrorFrom(first?.statusCode ?? first?.errorCode ?? "UNKNOWN", first?.message ?? "Salesforce created no task", first?.fields ?? []);
    }
    return { id: answer.id, outcome: "created", requests: 3, ...(owner ? { ownerId: owner } : {}) };
  }

  /**
   * Users by email (Email is not unique in Salesforce: an active one is preferred), queues by name
   * or developer name, either by id (005… a user, 00G… a queue).
   */
  async findOwner(query: OwnerQuery): Promise<CrmOwner | undefined> {
    const userFields = "Id, FirstName, LastName, Name, Email, Phone, MobilePhone, Title, IsActive";
    const queue = async (where: string) => {
      const answer = await this.#get<QueryAnswer>(`/query?q=${encodeURIComponent(`SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue' AND ${where} LIMIT 1`)}`);
      const found = answer.records[0];
      return found ? { id: found.Id, kind: "team" as const, value: found.Id, name: String(found.Name ?? found.DeveloperName ?? found.Id), active: true } : undefined;
    };
    const user = async (where: string) => {
      const answer = await this.#get<QueryAnswer>(`/query?q=${encodeURIComponent(`SELECT ${userFields} FROM User WHERE ${where} LIMIT 10`)}`);
      const found = answer.records.find((record) => record.IsActive === true) ?? answer.records[0];
      return found ? salesforceUser(found) : undefined;
    };
    if ("email" in query) return user(`Email = '${escape(query.email)}'`);
    if ("team" in query) return queue(`(Name = '${escape(query.team)}' OR DeveloperName = '${escape(query.team)}')`);
    if (/^00G/.test(query.id)) return queue(`Id = '${escape(query.id)}'`);
    return /^005/.test(query.id) ? user(`Id = '${escape(query.id)}'`) : undefined;
  }

  recordUrl(object: string, id: string): string | undefined {
    const instance = this.#conn?.instanceUrl;
    return instance ? `${instance.replace(/\/+$/, "")}/lightning/r/${object}/${id}/view` : undefined;
  }

  rateInfo(): RateInfo {
    const usage = this.#conn?.limitInfo?.apiUsage;
    const wait = this.#limitedUntil - this.#clock.now().getTime();
    return { ...(usage ? { dailyUsed: usage.used, dailyLimit: usage.limit } : {}), ...(wait > 0 ? { retryAfterMs: wait } : {}) };
  }

  async close(): Promise<void> {
    this.#conn = undefined;
  }

  async #get<T>(url: string): Promise<T> {
    try {
      return (await this.#timed(() => this.#connection().request({ method: "GET", url }, NO_RETRY))) as T;
    } catch (error) {
      throw this.#observe(crmErrorFromThrown(error));
    }
  }

  /** Settles within the timeout, whatever the connection does. */
  async #timed<T>(work: () => Promise<T>): Promise<T> {
    const answered = await countCall();
    const limit = this.#options.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CrmError("CRM_UNREACHABLE", `Salesforce gave no complete answer within ${Math.round(limit / 1000)} s; the call is retried.`, { crm: "salesforce" })), limit);
    });
    try {
      return await Promise.race([work(), expired]);
    } finally {
      clearTimeout(timer);
      answered();
    }
  }

  #observe(error: CrmError): CrmError {
    if (error.code === "CRM_REQUEST_LIMIT") {
      this.#limitedUntil = this.#clock.now().getTime() + REQUEST_LIMIT_PAUSE_MS;
      this.#log.warn({ pauseMs: REQUEST_LIMIT_PAUSE_MS }, "Salesforce daily API limit reached; pausing this target");
    }
    return error;
  }

  #connection(): Connection {
    if (!this.#conn) throw new CrmError("CRM_UNAUTHENTICATED", "The Salesforce connector is not connected; call connect() first.", { crm: "salesforce" });
    return this.#conn;
  }

  #grantParams(): { grant_type: string; assertion?: string } {
    const auth = this.#options.auth;
    if (auth.mode === "jwt") return { grant_type: JWT_GRANT, assertion: this.#assertion(auth) };
    return { grant_type: "client_credentials" };
  }

  async #grant(): Promise<{ access_token: string }> {
    const conn = this.#connection();
    return (await conn.oauth2.requestToken(this.#grantParams())) as { access_token: string };
  }

  /** An RS256 JWT for the bearer flow: iss the connected app, sub the integration user, 3 minutes. */
  #assertion(auth: Extract<SalesforceAuth, { mode: "jwt" }>): string {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const exp = Math.floor(this.#clock.now().getTime() / 1000) + 180;
    const unsigned = `${encode({ alg: "RS256", typ: "JWT" })}.${encode({ iss: auth.clientId, sub: auth.username, aud: this.#options.loginUrl, exp })}`;
    return `${unsigned}.${sign("RSA-SHA256", Buffer.from(unsigned), auth.privateKey).toString("base64url")}`;
  }
}

function salesforceUser(record: Record<string, unknown> & { Id: string }): CrmOwner {
  return userOwner({ id: record.Id, value: record.Id, fullName: record.Name, firstName: record.FirstName, lastName: record.LastName, email: record.Email, phones: [record.Phone, record.MobilePhone], title: record.Title, active: record.IsActive === true });
}

function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
}

/** SystemModstamp comes back as 2026-11-24T10:00:00.000+0000; SOQL takes it as a literal. */
function toSoqlDate(stamp: string): string {
  const ms = Date.parse(stamp.replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
  return Number.isNaN(ms) ? stamp : new Date(ms).toISOString();
}
