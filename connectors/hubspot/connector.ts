import { Client } from "@hubspot/api-client";
import type { Logger } from "../../src/log/logger.js";
import { componentLogger } from "../../src/log/logger.js";
import type { RateBudget } from "../../src/shared/call-meter.js";
import { countCall } from "../../src/shared/call-meter.js";
import type { RateInfo } from "../../src/shared/rate-info.js";
import type { ChangePage, ChangesRequest, CrmChange, CrmConnector, CrmErrorCode, CrmOwner, OwnerQuery, SchemaProblem, SchemaReport, SchemaRequirement, TaskRequest, TaskResult, UpsertRequest, UpsertResult } from "../types.js";
import { CrmError } from "../types.js";
import { userOwner } from "../crm-user.js";
import type { PropertySpec } from "./properties.js";
import { COSELL_GROUP, COSELL_PROPERTIES, LEAD_ASSOCIATION_TYPES, OBJECT_TYPE_IDS } from "./properties.js";

export interface HubSpotConnectorOptions {
  accessToken: string;
  basePath: string;
  logger: Logger;
  /** Our private app's id: property history from this source is our own write. */
  appId?: string;
}

export const BATCH_SIZE = 100;
const SEARCH_PAGE = 200;
/** Restart a search before HubSpot's 10,000-result cap (paging past it is a 400). */
const SEARCH_RESTART_AT = 9_800;

interface HubSpotObject {
  id: string;
  properties: Record<string, string | null>;
  propertiesWithHistory?: Record<string, Array<{ value: string; timestamp: string; sourceType: string; sourceId?: string }>>;
  /** The wire's `new` flag; the SDK's model renames it `_new`. */
  _new?: boolean;
  /** The SDK's model makes the wire's ISO string a Date. */
  updatedAt?: Date | string;
}

interface BatchAnswer {
  results: HubSpotObject[];
  errors?: Array<{ category: string; message: string; context?: Record<string, string[]> }>;
}

/**
 * HubSpot through @hubspot/api-client with its retries and limiter off (the outbox paces). Companies
 * and contacts are batch-upserted on unique properties; leads, which HubSpot creates only with a
 * contact association, are created with their associations and later updated by id. Changes come
 * from the search API on hs_lastmodifieddate, tie-safe and under the 10,000-result cap.
 */
export class HubSpotConnector implements CrmConnector {
  readonly kind = "hubspot" as const;
  readonly upsertBatchLimit = BATCH_SIZE;
  readonly #client: Client;
  readonly #log: Logger;
  readonly #appId: string | undefined;
  #rate: RateInfo = {};
  /** Per rate (the main one, search's), 429s since its last call that went through: each doubles the wait, up to the policy's window. */
  readonly #throttledInRow = new Map<RateBudget | "main", number>();
  /** Where the portal's records open in the browser (account-info), when the token may read it. */
  #portal: { id: number; uiDomain: string } | undefined;

  constructor(options: HubSpotConnectorOptions) {
    this.#client = new Client({ accessToken: options.accessToken, basePath: options.basePath, numberOfApiCallRetries: 0 });
    this.#log = componentLogger(options.logger, "hubspot");
    this.#appId = options.appId;
  }

  async connect(): Promise<void> {
    // Any authenticated read proves the token; the properties of leads are needed later anyway.
    await this.#call(() => this.#client.crm.properties.coreApi.getAll("leads"));
    this.#portal = await this.#readPortal();
    this.#log.info({ portal: this.#portal?.id }, "connected to HubSpot");
  }

  async upsert(request: UpsertRequest): Promise<UpsertResult[]> {
    const results: UpsertResult[] = [];
    for (let offset = 0; offset < request.records.length; offset += BATCH_SIZE) {
      const chunk = request.records.slice(offset, offset + BATCH_SIZE);
      const answered = request.object === "leads" ? await this.#upsertLeads(request, chunk) : await this.#upsertByProperty(request, chunk);
      results.push(...answered);
    }
    return results;
  }

  async #upsertByProperty(request: UpsertRequest, chunk: UpsertRequest["records"]): Promise<UpsertResult[]> {
    const answer = (await this.#call(() =>
      this.#client.crm.objects.batchApi.upsert(request.object, {
        inputs: chunk.map((record) => ({ id: record.key, idProperty: request.externalIdField, properties: toHubSpot(record.fields) })),
      }),
    )) as BatchAnswer;
    // HubSpot does not promise input order: match answers on the id property's value.
    const byKey = new Map(answer.results.map((result) => [String(result.properties[request.externalIdField] ?? "").toLowerCase(), result]));
    const failed = failuresByKey(answer);
    return chunk.map((record): UpsertResult => {
      const result = byKey.get(record.key.toLowerCase());
      if (result) return result._new ? { key: record.key, outcome: "created", id: result.id, ...stampOf(result) } : { key: record.key, outcome: "updated", id: result.id };
      return { key: record.key, outcome: "failed", error: failed.get(record.key) ?? hubspotError(400, "VALIDATION_ERROR", "HubSpot returned no result for this record.") };
    });
  }

  async #upsertLeads(request: UpsertRequest, chunk: UpsertRequest["records"]): Promise<UpsertResult[]> {
    const results = new Map<string, UpsertResult>();
    const known = chunk.filter((record) => record.id);
    let fresh = chunk.filter((record) => !record.id);
    if (known.length > 0) {
      const answer = (await this.#call(() =>
        this.#client.crm.objects.batchApi.update("leads", { inputs: known.map((record) => ({ id: record.id as string, properties: toHubSpot(record.fields) })) }),
      )) as BatchAnswer;
      const updated = new Set(answer.results.map((result) => result.id));
      const failed = failuresByKey(answer);
      for (const record of known) {
        if (updated.has(record.id as string)) results.set(record.key, { key: record.key, outcome: "updated", id: record.id as string });
        else if (failed.get(record.id as string)?.code === "CRM_NOT_FOUND") fresh = [...fresh, { ...record, id: undefined as never }];
        else results.set(record.key, { key: record.key, outcome: "failed", error: failed.get(record.id as string) ?? hubspotError(400, "VALIDATION_ERROR", "no result") });
      }
    }
    if (fresh.length > 0) {
      const missingContact = fresh.filter((record) => !record.associations?.some((a) => a.object === "contacts"));
      for (const record of missingContact) {
        results.set(record.key, { key: record.key, outcome: "failed", error: new CrmError("CRM_REQUIRED_FIELD_MISSING", "HubSpot creates a lead only with a contact; this lead's customer has no contact email, so no contact could be upserted.", { crm: "hubspot", field: "associations" }) });
      }
      const creatable = fresh.filter((record) => !missingContact.includes(record));
      if (creatable.length > 0) {
        try {
          const answer = (await this.#call(() =>
            this.#client.crm.objects.batchApi.create("leads", {
              inputs: creatable.map((record) => ({
                properties: toHubSpot({ ...record.fields, [request.externalIdField]: record.key }),
                associations: (record.associations ?? []).map((a) => ({ to: { id: a.id }, types: [{ associationCategory: "HUBSPOT_DEFINED" as never, associationTypeId: LEAD_ASSOCIATION_TYPES[a.object] ?? 0 }] })),
              })),
            }),
          )) as BatchAnswer;
          const byKey = new Map(answer.results.map((result) => [String(result.properties[request.externalIdField] ?? ""), result]));
          for (const record of creatable) {
            const result = byKey.get(record.key);
            results.set(record.key, result ? { key: record.key, outcome: "created", id: result.id, ...stampOf(result) } : { key: record.key, outcome: "failed", error: hubspotError(400, "VALIDATION_ERROR", "no result") });
          }
        } catch (error) {
          if (!(error instanceof CrmError && error.code === "CRM_DUPLICATE_EXTERNAL_ID")) throw error;
          // A lead we created before a crash, whose id never reached the store: find it, update it.
          for (const result of await this.#adopt(request, creatable)) results.set(result.key, result);
        }
      }
    }
    return chunk.map((record) => results.get(record.key) as UpsertResult);
  }

  /** Finds existing leads by the unique referral id and updates them instead of creating twins. */
  async #adopt(request: UpsertRequest, records: UpsertRequest["records"]): Promise<UpsertResult[]> {
    const read = (await this.#call(() =>
      this.#client.crm.objects.batchApi.read("leads", { idProperty: request.externalIdField, inputs: records.map((record) => ({ id: record.key })), properties: [request.externalIdField], propertiesWithHistory: [] }),
    )) as BatchAnswer;
    const ids = new Map(read.results.map((result) => [String(result.properties[request.externalIdField]), result.id]));
    const adopted = records.filter((record) => ids.has(record.key)).map((record) => ({ ...record, id: ids.get(record.key) as string }));
    const rest = records.filter((record) => !ids.has(record.key));
    this.#log.warn({ adopted: adopted.length }, "leads already existed (created before a crash); updating them instead of creating twins");
    return this.#upsertLeads(request, [...adopted, ...rest.map((record) => ({ ...record }))]);
  }

  async *changes(request: ChangesRequest): AsyncGenerator<ChangePage> {
    const properties = [...new Set([request.externalIdField, "hs_lastmodifieddate", ...request.fields])];
    let modstamp = request.cursor?.modstamp ?? String(request.since?.getTime() ?? 0);
    // Resuming inside a timestamp: first finish its ties.
    if (request.cursor) yield* this.#drainTies(request, properties, modstamp, request.cursor.id);
    for (;;) {
      const answer = (await this.#call(() =>
        this.#client.crm.objects.searchApi.doSearch(request.object, {
          filterGroups: [{ filters: [{ propertyName: "hs_lastmodifieddate", operator: "GT" as never, value: modstamp }] }],
          sorts: [{ propertyName: "hs_lastmodifieddate", direction: "ASCENDING" } as never],
          properties,
          limit: SEARCH_PAGE,
          after: "0",
        }),
        "search",
      )) as { results: HubSpotObject[]; paging?: unknown };
      if (answer.results.length === 0) return;
      const newest = answer.results[answer.results.length - 1]?.properties.hs_lastmodifieddate ?? modstamp;
      // Records older than the page's newest stamp are complete; the newest stamp's ties are
      // drained by id, because HubSpot orders ties as it likes.
      const settled = answer.results.filter((result) => Number(result.properties.hs_lastmodifieddate) < Number(newest));
      if (settled.length > 0) {
        const last = settled[settled.length - 1] as HubSpotObject;
        yield { changes: await this.#sellerChanges(request, settled), cursor: { modstamp: String(last.properties.hs_lastmodifieddate), id: last.id } };
      }
      modstamp = String(newest);
      yield* this.#drainTies(request, properties, modstamp, "");
      // A short page held everything newer than the cursor; its newest ties are drained above.
      if (answer.results.length < SEARCH_PAGE) return;
    }
  }

  async *#drainTies(request: ChangesRequest, properties: string[], modstamp: string, afterId: string): AsyncGenerator<ChangePage> {
    let lastId = afterId;
    // Each pass pages by `after` until just short of the 10,000 cap, then restarts after the last id.
    for (;;) {
      let after = 0;
      for (;;) {
        const filters = [{ propertyName: "hs_lastmodifieddate", operator: "EQ", value: modstamp }, ...(lastId ? [{ propertyName: "hs_object_id", operator: "GT", value: lastId }] : [])];
        const answer = (await this.#call(() =>
          this.#client.crm.objects.searchApi.doSearch(request.object, {
            filterGroups: [{ filters: filters as never }],
            sorts: [{ propertyName: "hs_object_id", direction: "ASCENDING" } as never],
            properties,
            limit: SEARCH_PAGE,
            after: String(after),
          }),
          "search",
        )) as { results: HubSpotObject[]; paging?: { next?: { after: string } } };
        if (answer.results.length === 0) return;
        const last = answer.results[answer.results.length - 1] as HubSpotObject;
        yield { changes: await this.#sellerChanges(request, answer.results), cursor: { modstamp, id: last.id } };
        if (!answer.paging?.next) return;
        after = Number(answer.paging.next.after);
        if (after + SEARCH_PAGE > SEARCH_RESTART_AT) {
          lastId = last.id;
          break;
        }
      }
    }
  }

  /**
   * Leaves out records whose inbound fields were last written by our own app. A record still showing
   * the stamp and values our create left was touched by nobody since: it is ours without reading its
   * history (a backfill's own writes would otherwise cost two reads per search page).
   */
  async #sellerChanges(request: ChangesRequest, all: HubSpotObject[]): Promise<CrmChange[]> {
    if (all.length === 0) return [];
    const records = await this.#unsure(request, all);
    const history = new Map<string, HubSpotObject>();
    for (let offset = 0; offset < records.length; offset += BATCH_SIZE) {
      const slice = records.slice(offset, offset + BATCH_SIZE);
      const read = (await this.#call(() =>
        this.#client.crm.objects.batchApi.read(request.object, { inputs: slice.map((record) => ({ id: record.id })), properties: [], propertiesWithHistory: request.fields }),
      )) as BatchAnswer;
      for (const result of read.results) history.set(result.id, result);
    }
    const changes: CrmChange[] = [];
    for (const record of records) {
      const entries = Object.values(history.get(record.id)?.propertiesWithHistory ?? {}).map((list) => list[0]).filter((entry): entry is NonNullable<typeof entry> => entry !== undefined);
      const latest = entries.sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp))[0];
      const ours = latest !== undefined && latest.sourceType === "INTEGRATION" && (this.#appId === undefined || latest.sourceId === this.#appId);
      if (ours || latest === undefined) continue;
      const externalId = record.properties[request.externalIdField];
      changes.push({
        id: record.id,
        ...(externalId ? { externalId } : {}),
        modifiedAt: String(record.properties.hs_lastmodifieddate),
        modifiedBy: latest.sourceType,
        fields: Object.fromEntries(request.fields.map((field) => [field, record.properties[field] ?? null])),
      });
    }
    return changes;
  }

  /**
   * The records whose history must be read: all but those still showing the stamp our create left
   * and the values it wrote. Stamps have millisecond resolution, so a seller's save in the same
   * millisecond shares ours: the values tell it apart.
   */
  async #unsure(request: ChangesRequest, records: HubSpotObject[]): Promise<HubSpotObject[]> {
    if (!request.lastWritten) return records;
    const written = await request.lastWritten([...new Set(records.flatMap((record) => record.properties[request.externalIdField] ?? []))]);
    return records.filter((record) => {
      const ours = written.get(record.properties[request.externalIdField] ?? "");
      return !(ours && sameInstant(ours.modstamp, record.properties.hs_lastmodifieddate) && request.fields.every((field) => !(field in ours.fields) || asText(ours.fields[field]) === asText(record.properties[field])));
    });
  }

  async checkSchema(requirements: SchemaRequirement[]): Promise<SchemaReport> {
    const problems: SchemaProblem[] = [];
    for (const requirement of requirements) {
      const answer = (await this.#call(() => this.#client.crm.properties.coreApi.getAll(requirement.object))) as { results: Array<{ name: string; hasUniqueValue: boolean; type: string; options: Array<{ value: string }> }> };
      const byName = new Map(answer.results.map((p) => [p.name, p]));
      const ext = byName.get(requirement.externalIdField);
      if (!ext) problems.push({ object: requirement.object, field: requirement.externalIdField, problem: "missing", message: `Create the property ${requirement.externalIdField} on ${requirement.object} with "unique value" on.` });
      else if (!ext.hasUniqueValue) problems.push({ object: requirement.object, field: ext.name, problem: "not-unique", message: `${ext.name} must be a unique-value property for batch upserts; HubSpot sets this at creation, so recreate it.` });
      for (const wanted of requirement.fields) {
        if (wanted.name === requirement.externalIdField) continue;
        const property = byName.get(wanted.name);
        if (!property) {
          problems.push({ object: requirement.object, field: wanted.name, problem: "missing", message: `Create the property ${wanted.name} on ${requirement.object} (\`crm check --fix\` can).` });
          continue;
        }
        if (wanted.values && property.type === "enumeration") {
          const offered = new Set(property.options.map((o) => o.value));
          const missing = wanted.values.filter((value) => !offered.has(value));
          if (missing.length > 0) problems.push({ object: requirement.object, field: property.name, problem: "picklist-value-missing", message: `Add the options ${missing.map((v) => `"${v}"`).join(", ")} to ${property.name}.` });
        }
      }
    }
    return { ok: problems.length === 0, problems };
  }

  /** Creates the Co-sell group and every missing property the report names; returns what it created. */
  async fixSchema(report: SchemaReport): Promise<string[]> {
    const created: string[] = [];
    const missing = report.problems.filter((problem) => problem.problem === "missing" && problem.field);
    const objects = [...new Set(missing.map((problem) => problem.object))];
    for (const object of objects) {
      const groups = (await this.#call(() => this.#client.crm.properties.groupsApi.getAll(object))) as { results: Array<{ name: string }> };
      if (!groups.results.some((group) => group.name === COSELL_GROUP.name)) {
        await this.#call(() => this.#client.crm.properties.groupsApi.create(object, { name: COSELL_GROUP.name, label: COSELL_GROUP.label }));
        created.push(`${object} group ${COSELL_GROUP.label}`);
      }
      for (const problem of missing.filter((p) => p.object === object)) {
        const spec: PropertySpec = COSELL_PROPERTIES[object]?.find((p) => p.name === problem.field) ?? { name: problem.field, label: problem.field, type: "string", fieldType: "text" };
        await this.#call(() =>
          this.#client.crm.properties.coreApi.create(object, {
            name: spec.name,
            label: spec.label,
            type: spec.type as never,
            fieldType: spec.fieldType as never,
            groupName: COSELL_GROUP.name,
            ...(spec.hasUniqueValue ? { hasUniqueValue: true } : {}),
            ...(spec.options ? { options: spec.options.map((value, displayOrder) => ({ value, label: value, displayOrder, hidden: false })) } : {}),
          }),
        );
        created.push(`${object}.${spec.name}`);
      }
    }
    return created;
  }

  /**
   * A to-do task on the record, assigned to the record's owner, due at the deadline, and associated
   * with the record (v4 default association). A retry finds the task an unanswered try made by its
   * title and due time, and only makes sure of the association.
   */
  async createTask(request: TaskRequest): Promise<TaskResult> {
    const due = String(request.dueAt.getTime());
    const found = (await this.#call(() =>
      this.#client.crm.objects.searchApi.doSearch("tasks", {
        filterGroups: [{ filters: [{ propertyName: "hs_task_subject", operator: "EQ" as never, value: request.subject }, { propertyName: "hs_timestamp", operator: "EQ" as never, value: due }] }],
        properties: ["hubspot_owner_id"],
        limit: 1,
        after: "0",
        sorts: [],
      }),
      "search",
    )) as { results: HubSpotObject[] };
    let task = found.results[0];
    let outcome: TaskResult["outcome"] = "existing";
    let requests = 2;
    if (!task) {
      const record = (await this.#call(() => this.#client.crm.objects.basicApi.getById(request.object, request.recordId, ["hubspot_owner_id"]))) as HubSpotObject;
      const owner = record.properties.hubspot_owner_id;
      const properties = { hs_timestamp: due, hs_task_subject: request.subject, hs_task_body: request.body, hs_task_status: "NOT_STARTED", hs_task_priority: "HIGH", hs_task_type: "TODO", ...(owner ? { hubspot_owner_id: owner } : {}) };
      task = (await this.#call(() => this.#client.crm.objects.tasks.basicApi.create({ properties, associations: [] }))) as HubSpotObject;
      outcome = "created";
      requests += 2;
    }
    const id = task.id;
    await this.#call(() => this.#client.crm.associations.v4.basicApi.createDefault("tasks", id, request.object, request.recordId));
    const ownerId = task.properties.hubspot_owner_id;
    return { id, outcome, requests, ...(ownerId ? { ownerId } : {}) };
  }

  /**
   * Owners by email or id through the owners API: active ones first, then archived (a deactivated
   * user), which come back inactive. HubSpot teams cannot own records.
   */
  async findOwner(query: OwnerQuery): Promise<CrmOwner | undefined> {
    if ("team" in query) return undefined;
    const owners = this.#client.crm.owners.ownersApi;
    for (const archived of [false, true]) {
      if ("email" in query) {
        const page = await this.#call(() => owners.getPage(query.email, undefined, 10, archived));
        const found = page.results.find((owner) => owner.email?.toLowerCase() === query.email.toLowerCase());
        if (found) return hubspotOwner(found, archived);
        continue;
      }
      if (!/^\d+$/.test(query.id)) return undefined;
      try {
        return hubspotOwner(await this.#call(() => owners.getById(Number(query.id), "id", archived)), archived);
      } catch (error) {
        if (!(error instanceof CrmError && error.code === "CRM_NOT_FOUND")) throw error;
      }
    }
    return undefined;
  }

  recordUrl(object: string, id: string): string | undefined {
    const type = OBJECT_TYPE_IDS[object];
    return this.#portal && type ? `https://${this.#portal.uiDomain}/contacts/${this.#portal.id}/record/${type}/${id}` : undefined;
  }

  rateInfo(): RateInfo {
    return { ...this.#rate };
  }

  async #readPortal(): Promise<{ id: number; uiDomain: string } | undefined> {
    try {
      const answer = await this.#call(() => this.#client.apiRequest({ method: "GET", path: "/account-info/v3/details" }));
      if (!answer.ok) return undefined;
      const info = (await answer.json()) as { portalId?: number; uiDomain?: string };
      return typeof info.portalId === "number" ? { id: info.portalId, uiDomain: info.uiDomain ?? "app.hubspot.com" } : undefined;
    } catch (error) {
      // Record links are a convenience: without them reminders still go out.
      this.#log.debug({ err: error }, "HubSpot account details unreadable; reminders go without record links");
      return undefined;
    }
  }

  async close(): Promise<void> {}

  /** One request; `budget` names the separate rate it draws on (search), else it is the main one's. */
  async #call<T>(work: () => Promise<T>, budget?: RateBudget): Promise<T> {
    const answered = await countCall(budget);
    const rate = budget ?? "main";
    try {
      const answer = await work();
      // A throttle is over once a call goes through; left standing, every later batch would wait it out again.
      if (!budget) this.#rate = {};
      this.#throttledInRow.delete(rate);
      return answer;
    } catch (error) {
      const e = error as { code?: number; body?: { category?: string; message?: string; policyName?: string }; headers?: Record<string, string> };
      if (typeof e.code !== "number") throw new CrmError("CRM_UNREACHABLE", `HubSpot could not be reached: ${(error as Error).message}`, { crm: "hubspot" }, error);
      const inRow = e.code === 429 ? (this.#throttledInRow.get(rate) ?? 0) + 1 : 0;
      this.#throttledInRow.set(rate, inRow);
      const crmError = hubspotError(e.code, e.body?.category ?? "", e.body?.message ?? "", e.body?.policyName, e.headers, inRow, budget);
      // A search's throttle is its own rate's: the writes are not told to wait it out.
      if (crmError.retryAfterMs !== undefined && !budget) this.#rate = { retryAfterMs: crmError.retryAfterMs, remaining: 0 };
      throw crmError;
    } finally {
      answered();
    }
  }
}

/** The stamp a create left: `hs_lastmodifieddate` as the change feed shows it, else the answer's updatedAt. */
function stampOf(result: HubSpotObject): { modstamp?: string } {
  const stamp = result.properties.hs_lastmodifieddate ?? (result.updatedAt instanceof Date ? result.updatedAt.toISOString() : result.updatedAt);
  return stamp ? { modstamp: String(stamp) } : {};
}

/** HubSpot shows the stamp as epoch milliseconds or ISO text depending on the endpoint: compared as instants. */
function sameInstant(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  const ms = (value: string) => (/^\d+$/.test(value) ? Number(value) : Date.parse(value));
  const left = ms(a);
  return !Number.isNaN(left) && left === ms(b);
}

/** A value as HubSpot answers it: text, with nothing as "". */
function asText(value: unknown): string {
  return value === undefined || value === null ? "" : String(value);
}

function toHubSpot(fields: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, asText(value)]));
}

function failuresByKey(answer: BatchAnswer): Map<string, CrmError> {
  const failures = new Map<string, CrmError>();
  for (const error of answer.errors ?? []) {
    const crmError = hubspotError(error.category === "OBJECT_NOT_FOUND" ? 404 : 400, error.category, error.message);
    for (const ids of Object.values(error.context ?? {})) for (const id of ids) failures.set(id, crmError);
  }
  return failures;
}

function hubspotError(status: number, category: string, message: string, policyName?: string, headers?: Record<string, string>, throttledInRow = 1, budget?: RateBudget): CrmError {
  let code: CrmErrorCode;
  if (status === 429) code = "CRM_THROTTLED";
  else if (status === 401) code = "CRM_UNAUTHENTICATED";
  else if (status === 403) code = "CRM_ACCESS_DENIED";
  else if (status === 404 || category === "OBJECT_NOT_FOUND") code = "CRM_NOT_FOUND";
  else if (status === 409 || /duplicate/i.test(message)) code = "CRM_DUPLICATE_EXTERNAL_ID";
  else if (status >= 500) code = "CRM_UNAVAILABLE";
  else if (/does not exist/i.test(message)) code = "CRM_INVALID_FIELD";
  else code = "CRM_INVALID_VALUE";
  const interval = Number(headers?.["x-hubspot-ratelimit-interval-milliseconds"] ?? (policyName === "SECONDLY" ? 1000 : 10_000));
  // No Retry-After: the window is rolling, so a slot frees as soon as its oldest call ages out —
  // usually within a second when we pace at the limit and the service counted a call later than
  // we sent it. A first 429 waits a second; each one after it in a row twice as long, up to the window.
  const wait = Math.min(interval, 1000 * 2 ** Math.max(0, throttledInRow - 1));
  return new CrmError(code, `HubSpot ${status}${policyName ? ` (${policyName})` : ""}: ${message}`, {
    crm: "hubspot",
    crmCode: category || String(status),
    crmMessage: message,
    ...(code === "CRM_THROTTLED" ? { retryAfterMs: wait, ...(budget ? { rateBudget: budget } : {}) } : {}),
  });
}

function hubspotOwner(owner: { id: string; email?: string; firstName?: string; lastName?: string }, archived: boolean): CrmOwner {
  return userOwner({ id: owner.id, value: owner.id, firstName: owner.firstName, lastName: owner.lastName, email: owner.email, active: !archived });
}
