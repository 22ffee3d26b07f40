import { createHash, randomUUID } from "node:crypto";
import type { TokenProvider } from "../../src/auth/token-provider.js";
import type { Logger } from "../../src/log/logger.js";
import { componentLogger } from "../../src/log/logger.js";
import { countCall } from "../../src/shared/call-meter.js";
import type { RateInfo } from "../../src/shared/rate-info.js";
import type { ChangePage, ChangesRequest, CrmChange, CrmConnector, CrmErrorCode, CrmOwner, OwnerQuery, SchemaProblem, SchemaReport, SchemaRequirement, TaskRequest, TaskResult, UpsertRequest, UpsertResult } from "../types.js";
import { CrmError } from "../types.js";
import { userOwner } from "../crm-user.js";
import { isEcho, pushedFor } from "../echo.js";
import { readErrorEnvelope } from "../../src/shared/http-errors.js";
import { boundaryOf, decodeBatch, encodeBatch } from "./batch.js";

export interface DynamicsConnectorOptions {
  /** The organisation URL, e.g. https://contoso.crm.dynamics.com */
  url: string;
  apiVersion: string;
  tokens: TokenProvider;
  logger: Logger;
  /** Records per change-tracking page. */
  pageSize?: number;
}

/** Dataverse takes up to 1,000 operations in one $batch. */
export const BATCH_LIMIT = 1000;
const EXPIRED_TOKEN = "0x80044352";
/** Cursor token marking a table without change tracking: changes are polled on modifiedon. */
export const POLL_TOKEN = "poll:modifiedon";

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/**
 * Dataverse over its Web API with plain fetch: upserts by alternate key in one `$batch` per 1,000
 * records with `odata.continue-on-error` (each operation stands alone, so one bad record fails
 * alone), changes through change tracking with the delta link as the cursor, and our own writes
 * recognised by `_modifiedby_value`.
 */
export class DynamicsConnector implements CrmConnector {
  readonly kind = "dynamics" as const;
  readonly upsertBatchLimit = BATCH_LIMIT;
  readonly #options: DynamicsConnectorOptions;
  readonly #log: Logger;
  readonly #api: string;
  #userId = "";
  #rate: RateInfo = {};

  constructor(options: DynamicsConnectorOptions) {
    this.#options = options;
    this.#log = componentLogger(options.logger, "dynamics");
    this.#api = `${options.url.replace(/\/+$/, "")}/api/data/v${options.apiVersion}`;
  }

  get userId(): string {
    return this.#userId;
  }

  async connect(): Promise<void> {
    const answer = await this.#send("GET", `${this.#api}/WhoAmI`);
    this.#userId = (JSON.parse(answer.text) as { UserId: string }).UserId;
    this.#log.info({ user: this.#userId }, "connected to Dataverse");
  }

  async upsert(request: UpsertRequest): Promise<UpsertResult[]> {
    const set = entitySet(request.object);
    const results: UpsertResult[] = [];
    for (let offset = 0; offset < request.records.length; offset += BATCH_LIMIT) {
      const chunk = request.records.slice(offset, offset + BATCH_LIMIT);
      const boundary = `batch_${randomUUID()}`;
      const body = encodeBatch(
        boundary,
        chunk.map((record, index) => ({
          method: "PATCH",
          url: `${this.#api}/${set}(${request.externalIdField}='${record.key.replace(/'/g, "''")}')?$select=${idColumn(request.object)}`,
          headers: { "Content-Type": "application/json", Prefer: "return=representation", "Content-ID": String(index + 1) },
          body: JSON.stringify(record.fields),
        })),
        "request",
      );
      const answer = await this.#send("POST", `${this.#api}/$batch`, body, { "Content-Type": `multipart/mixed; boundary=${boundary}`, Prefer: "odata.continue-on-error" });
      const parts = decodeBatch(answer.text, boundaryOf(answer.headers.get("content-type") ?? "") ?? "");
      const byId = new Map(parts.map((part, index) => [Number(part.headers["content-id"] ?? index + 1), part]));
      chunk.forEach((record, index) => {
        const part = byId.get(index + 1);
        if (!part) {
          results.push({ key: record.key, outcome: "failed", error: new CrmError("CRM_UNEXPECTED", "Dataverse returned no answer for this operation of the batch.", { crm: "dynamics" }) });
          return;
        }
        if (part.status === 200 || part.status === 201) {
          const id = String((JSON.parse(part.body ?? "{}") as Record<string, unknown>)[idColumn(request.object)] ?? "");
          results.push({ key: record.key, outcome: part.status === 201 ? "created" : "updated", id });
        } else {
          results.push({ key: record.key, outcome: "failed", error: errorFrom(part.status ?? 500, part.body ?? "", undefined) });
        }
      });
    }
    return results;
  }

  /**
   * The same writes through `UpsertMultiple`: one call, but all or nothing on standard tables and
   * no per-record result (created and updated look alike). Kept for measurement; `upsert` uses
   * $batch because one bad record must fail alone.
   */
  async upsertMultiple(request: UpsertRequest): Promise<UpsertResult[]> {
    const set = entitySet(request.object);
    const results: UpsertResult[] = [];
    for (let offset = 0; offset < request.records.length; offset += BATCH_LIMIT) {
      const chunk = request.records.slice(offset, offset + BATCH_LIMIT);
      const body = JSON.stringify({ Targets: chunk.map((record) => ({ "@odata.type": `Microsoft.Dynamics.CRM.${request.object}`, ...record.fields, [request.externalIdField]: record.key })) });
      try {
        const answer = await this.#send("POST", `${this.#api}/${set}/Microsoft.Dynamics.CRM.UpsertMultiple`, body);
        const ids = (JSON.parse(answer.text) as { Ids: string[] }).Ids;
        chunk.forEach((record, index) => results.push({ key: record.key, outcome: "updated", id: ids[index] ?? "" }));
      } catch (error) {
        if (!(error instanceof CrmError) || error.retryable) throw error;
        for (const record of chunk) results.push({ key: record.key, outcome: "failed", error });
      }
    }
    return results;
  }

  async *changes(request: ChangesRequest): AsyncGenerator<ChangePage> {
    const select = [...new Set([idColumn(request.object), request.externalIdField, "modifiedon", "_modifiedby_value", ...request.fields])].join(",");
    if (request.cursor?.token === POLL_TOKEN) {
      yield* this.#poll(request, select);
      return;
    }
    const initial = `${this.#api}/${entitySet(request.object)}?$select=${select}`;
    let url = request.cursor?.token ?? initial;
    // A delta link returns only changes; a full read (first run, or after the token expired)
    // returns every row, of which only those changed after the last one seen are news.
    let filterSince = request.cursor?.token ? undefined : (request.cursor?.modstamp ?? request.since?.toISOString());
    let last = { modstamp: request.cursor?.modstamp ?? "", id: request.cursor?.id ?? "" };
    for (;;) {
      let answer: Answer;
      try {
        answer = await this.#send("GET", url, undefined, { Prefer: `odata.track-changes, odata.maxpagesize=${this.#options.pageSize ?? 5000}` });
      } catch (error) {
        if (!(error instanceof CrmError && error.details.crmCode === EXPIRED_TOKEN)) throw error;
        // The delta token expired (7 days by default): read everything once and keep what changed
        // after the last change we saw. Nothing is lost; the next token starts fresh.
        this.#log.warn({ since: request.cursor?.modstamp }, "change-tracking token expired; one full resync of ids and modification times");
        url = initial;
        filterSince = request.cursor?.modstamp;
        continue;
      }
      if (!/odata\.track-changes/.test(answer.headers.get("preference-applied") ?? "") && !request.cursor?.token) {
        // The table has change tracking off: poll on modifiedon instead, from now on.
        this.#log.info({ object: request.object }, "change tracking is off for this table; polling on modifiedon");
        yield* this.#poll(request, select);
        return;
      }
      const page = JSON.parse(answer.text) as { value: Array<Record<string, unknown>>; "@odata.nextLink"?: string; "@odata.deltaLink"?: string };
      const changes: CrmChange[] = [];
      const pushed = await pushedFor(request, page.value.filter((row) => row._modifiedby_value === this.#userId).map((row) => externalIdOf(row, request.externalIdField)));
      for (const row of page.value) {
        if (typeof row["@odata.context"] === "string" && String(row["@odata.context"]).endsWith("$deletedEntity")) {
          // Deletions are reported, never mirrored into Partner Center.
          this.#log.info({ id: row.id }, "a lead was deleted in Dataverse");
          continue;
        }
        const modifiedOn = String(row.modifiedon ?? "");
        if (filterSince && modifiedOn && Date.parse(modifiedOn) <= Date.parse(filterSince)) continue;
        const externalId = externalIdOf(row, request.externalIdField);
        const id = String(row[idColumn(request.object)] ?? "");
        last = { modstamp: modifiedOn, id };
        if (row._modifiedby_value === this.#userId && isEcho(row, request.fields, externalId ? pushed.get(externalId) : undefined)) continue;
        changes.push({ id, ...(externalId ? { externalId } : {}), modifiedAt: modifiedOn, modifiedBy: String(row._modifiedby_value ?? ""), fields: Object.fromEntries(request.fields.map((field) => [field, row[field] ?? null])) });
      }
      const next = page["@odata.nextLink"] ?? page["@odata.deltaLink"];
      yield { changes, cursor: { ...last, ...(next ? { token: next } : {}) } };
      if (!page["@odata.nextLink"]) return;
      url = page["@odata.nextLink"];
    }
  }

  /** Tie-safe polling on (modifiedon, id) for tables without change tracking. */
  async *#poll(request: ChangesRequest, select: string): AsyncGenerator<ChangePage> {
    const id = idColumn(request.object);
    const since = request.cursor?.modstamp || request.since?.toISOString();
    const filter = !since ? undefined : request.cursor?.id ? `(modifiedon gt ${since} or (modifiedon eq ${since} and ${id} gt ${request.cursor.id}))` : `modifiedon gt ${since}`;
    let url: string | undefined = `${this.#api}/${entitySet(request.object)}?$select=${select}${filter ? `&$filter=${encodeURIComponent(filter)}` : ""}&$orderby=${encodeURIComponent(`modifiedon asc,${id} asc`)}`;
    let last = { modstamp: request.cursor?.modstamp ?? since ?? "", id: request.cursor?.id ?? "" };
    while (url) {
      const answer = await this.#send("GET", url, undefined, { Prefer: `odata.maxpagesize=${this.#options.pageSize ?? 5000}` });
      const page = JSON.parse(answer.text) as { value: Array<Record<string, unknown>>; "@odata.nextLink"?: string };
      const changes: CrmChange[] = [];
      const pushed = await pushedFor(request, page.value.filter((row) => row._modifiedby_value === this.#userId).map((row) => externalIdOf(row, request.externalIdField)));
      for (const row of page.value) {
        const externalId = externalIdOf(row, request.externalIdField);
        last = { modstamp: String(row.modifiedon ?? ""), id: String(row[id] ?? "") };
        if (row._modifiedby_value === this.#userId && isEcho(row, request.fields, externalId ? pushed.get(externalId) : undefined)) continue;
        changes.push({ id: last.id, ...(externalId ? { externalId } : {}), modifiedAt: last.modstamp, modifiedBy: String(row._modifiedby_value ?? ""), fields: Object.fromEntries(request.fields.map((field) => [field, row[field] ?? null])) });
      }
      yield { changes, cursor: { ...last, token: POLL_TOKEN } };
      url = page["@odata.nextLink"];
    }
  }

  async checkSchema(requirements: SchemaRequirement[]): Promise<SchemaReport> {
    const problems: SchemaProblem[] = [];
    for (const requirement of requirements) {
      const definition = `${this.#api}/EntityDefinitions(LogicalName='${requirement.object}')`;
      const attributes = (JSON.parse((await this.#send("GET", `${definition}/Attributes`)).text) as { value: Array<{ LogicalName: string; MaxLength?: number }> }).value;
      const keys = (JSON.parse((await this.#send("GET", `${definition}/Keys`)).text) as { value: Array<{ KeyAttributes: string[]; EntityKeyIndexStatus: string }> }).value;
      const byName = new Map(attributes.map((a) => [a.LogicalName, a]));
      if (!byName.has(requirement.externalIdField)) problems.push({ object: requirement.object, field: requirement.externalIdField, problem: "missing", message: `Create the column ${requirement.externalIdField} on ${requirement.object}.` });
      if (!keys.some((key) => key.KeyAttributes.length === 1 && key.KeyAttributes[0] === requirement.externalIdField && key.EntityKeyIndexStatus === "Active")) {
        problems.push({ object: requirement.object, field: requirement.externalIdField, problem: "not-unique", message: `Define an alternate key on ${requirement.externalIdField} (and wait until its index is Active); upserts address records by it.` });
      }
      for (const wanted of requirement.fields) {
        const attribute = byName.get(attributeName(wanted.name));
        if (!attribute) problems.push({ object: requirement.object, field: wanted.name, problem: "missing", message: `Create the column ${attributeName(wanted.name)} on ${requirement.object} (see connectors/dynamics/README.md).` });
        else if (wanted.maxLength !== undefined && attribute.MaxLength !== undefined && attribute.MaxLength < wanted.maxLength) {
          problems.push({ object: requirement.object, field: wanted.name, problem: "too-short", message: `${wanted.name} holds ${attribute.MaxLength} characters but the mapping writes up to ${wanted.maxLength}.` });
        }
      }
    }
    return { ok: problems.length === 0, problems };
  }

  /**
   * A task activity regarding the record, owned by the record's owner (user or team). Its id is
   * derived from the reminder's key and written create-only, so a retry after a lost answer finds
   * the first task (412) instead of adding a second.
   */
  async createTask(request: TaskRequest): Promise<TaskResult> {
    const id = taskId(request.key);
    const record = JSON.parse(
      (await this.#send("GET", `${this.#api}/${entitySet(request.object)}(${request.recordId})?$select=_ownerid_value`, undefined, { Prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"' })).text,
    ) as Record<string, unknown>;
    const owner = typeof record._ownerid_value === "string" ? record._ownerid_value : undefined;
    const ownerTable = record["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] === "team" ? "teams" : "systemusers";
    const body = {
      subject: request.subject.slice(0, 200),
      description: request.body.slice(0, 2000),
      scheduledend: request.dueAt.toISOString(),
      prioritycode: 2,
      [`regardingobjectid_${request.object}_task@odata.bind`]: `/${entitySet(request.object)}(${request.recordId})`,
      ...(owner ? { "ownerid@odata.bind": `/${ownerTable}(${owner})` } : {}),
    };
    try {
      await this.#send("PATCH", `${this.#api}/tasks(${id})`, JSON.stringify(body), { "If-None-Match": "*" });
    } catch (error) {
      if (error instanceof CrmError && error.code === "CRM_DUPLICATE_EXTERNAL_ID") return { id, outcome: "existing", requests: 2, ...(owner ? { ownerId: owner } : {}) };
      throw error;
    }
    return { id, outcome: "created", requests: 2, ...(owner ? { ownerId: owner } : {}) };
  }

  /**
   * systemusers by primary email, owner teams by name (an access team cannot own records), either by
   * id: a lead's `_ownerid_value` may point into both tables.
   */
  async findOwner(query: OwnerQuery): Promise<CrmOwner | undefined> {
    const read = async (set: "systemusers" | "teams", select: string, filter: string) =>
      (JSON.parse((await this.#send("GET", `${this.#api}/${set}?$select=${select}&$filter=${encodeURIComponent(filter)}`)).text) as { value: Array<Record<string, unknown>> }).value;
    const users = async (filter: string) => {
      const rows = await read("systemusers", "systemuserid,fullname,firstname,lastname,internalemailaddress,address1_telephone1,mobilephone,title,isdisabled", filter);
      const found = rows.find((row) => row.isdisabled === false) ?? rows[0];
      return found ? dataverseUser(found) : undefined;
    };
    const teams = async (filter: string) => {
      const found = (await read("teams", "teamid,name,teamtype", `${filter} and teamtype ne 1`))[0];
      return found ? { id: String(found.teamid), kind: "team" as const, value: `/teams(${String(found.teamid)})`, name: String(found.name ?? found.teamid), active: true } : undefined;
    };
    const text = (value: string) => `'${value.replace(/'/g, "''")}'`;
    if ("email" in query) return users(`internalemailaddress eq ${text(query.email)}`);
    if ("team" in query) return teams(`name eq ${text(query.team)}`);
    if (!GUID.test(query.id)) return undefined;
    return (await users(`systemuserid eq ${query.id}`)) ?? teams(`teamid eq ${query.id}`);
  }

  recordUrl(object: string, id: string): string | undefined {
    return `${this.#options.url.replace(/\/+$/, "")}/main.aspx?etn=${encodeURIComponent(object)}&id=${encodeURIComponent(id)}&pagetype=entityrecord`;
  }

  rateInfo(): RateInfo {
    return { ...this.#rate };
  }

  async close(): Promise<void> {}

  async #send(method: string, url: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
    const answered = await countCall();
    try {
      return await this.#exchange(method, url, body, headers);
    } finally {
      answered();
    }
  }

  /** One request, and once more with a fresh token when the first was refused for it. */
  async #exchange(method: string, url: string, body: string | undefined, headers: Record<string, string>): Promise<Answer> {
    for (let attempt = 0; ; attempt += 1) {
      const token = await this.#options.tokens.getToken(attempt > 0 ? { forceRefresh: true } : undefined);
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: { Authorization: `Bearer ${token}`, Accept: "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0", ...(body && !headers["Content-Type"] ? { "Content-Type": "application/json" } : {}), ...headers },
          ...(body === undefined ? {} : { body }),
          signal: AbortSignal.timeout(120_000),
        });
      } catch (error) {
        throw new CrmError("CRM_UNREACHABLE", `Dataverse could not be reached: ${(error as Error).message}`, { crm: "dynamics" }, error);
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        throw new CrmError("CRM_UNREACHABLE", `Dataverse's answer was cut short: ${(error as Error).message}`, { crm: "dynamics" }, error);
      }
      if (response.ok) {
        // A throttle is over once a call goes through; left standing, every later batch would wait it out again.
        this.#rate = {};
        return { status: response.status, headers: response.headers, text };
      }
      if (response.status === 401 && attempt === 0) continue;
      const error = errorFrom(response.status, text, response.headers.get("retry-after"));
      if (error.retryAfterMs !== undefined) this.#rate = { retryAfterMs: error.retryAfterMs, remaining: 0 };
      throw error;
    }
  }
}

/** A name-based (v5-style) GUID: the same reminder key always names the same task. */
function taskId(key: string): string {
  const hex = createHash("sha1").update(`cosell-sync/task/${key}`).digest("hex");
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function entitySet(object: string): string {
  return object.endsWith("s") ? object : `${object}s`;
}

function idColumn(object: string): string {
  return `${object}id`;
}

function externalIdOf(row: Record<string, unknown>, field: string): string | undefined {
  return typeof row[field] === "string" ? String(row[field]) : undefined;
}

const BY_CODE: Record<string, CrmErrorCode> = {
  "0x80044331": "CRM_VALUE_TOO_LONG",
  "0x8004431a": "CRM_BAD_PICKLIST_VALUE",
  "0x80060891": "CRM_INVALID_FIELD",
  "0x80040217": "CRM_NOT_FOUND",
  "0x80040237": "CRM_DUPLICATE_EXTERNAL_ID",
  "0x80072322": "CRM_THROTTLED",
  "0x80072321": "CRM_THROTTLED",
  "0x80072326": "CRM_THROTTLED",
};

function errorFrom(status: number, text: string, retryAfter: string | null | undefined): CrmError {
  const { code, message } = readErrorEnvelope(text);
  const ours: CrmErrorCode =
    BY_CODE[code.toLowerCase()] ?? (status === 429 ? "CRM_THROTTLED" : status === 401 ? "CRM_UNAUTHENTICATED" : status === 403 ? "CRM_ACCESS_DENIED" : status === 404 ? "CRM_NOT_FOUND" : status >= 500 ? "CRM_UNAVAILABLE" : "CRM_INVALID_VALUE");
  const seconds = Number(retryAfter);
  return new CrmError(ours, `Dataverse ${status}${code ? ` ${code}` : ""}: ${message}`, {
    crm: "dynamics",
    crmCode: code || String(status),
    crmMessage: message,
    ...(ours === "CRM_THROTTLED" ? { retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 5_000 } : {}),
  });
}

/**
 * The column a Web API property stands for: a lookup is written as `ownerid@odata.bind` and read
 * as `_ownerid_value`, but its column (attribute) is `ownerid`.
 */
function attributeName(property: string): string {
  return property.replace(/@odata\.bind$/, "").replace(/^_(.+)_value$/, "$1");
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function dataverseUser(row: Record<string, unknown>): CrmOwner {
  const id = String(row.systemuserid);
  return userOwner({ id, value: `/systemusers(${id})`, fullName: row.fullname, firstName: row.firstname, lastName: row.lastname, email: row.internalemailaddress, phones: [row.address1_telephone1, row.mobilephone], title: row.title, active: row.isdisabled === false });
}
