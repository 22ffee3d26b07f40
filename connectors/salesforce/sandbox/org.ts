import type { Clock } from "../../../src/shared/clock.js";
import type { SfField } from "./lead-schema.js";
import { groupFields, leadFields, taskFields, userFields } from "./lead-schema.js";
import type { SoqlQuery } from "./soql.js";
import { compareValues, compileCondition, normalise, parseSoql, SoqlError } from "./soql.js";

/** A Salesforce REST error, in the array-of-errors body Salesforce answers with. */
export class SfError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields: string[] = [],
    readonly body?: unknown,
  ) {
    super(message);
  }
}

export interface SfUser {
  Id: string;
  Username: string;
  Email: string;
  FirstName: string;
  LastName: string;
  Name: string;
  Phone: string | null;
  MobilePhone: string | null;
  Title: string | null;
  IsActive: boolean;
}

/** A queue: a Group of Type 'Queue' that can own Leads. */
export interface SfQueue {
  Id: string;
  Name: string;
  DeveloperName: string;
  Type: "Queue";
}

export type SfRecord = Record<string, unknown> & { Id: string };

export interface RecordError {
  statusCode: string;
  message: string;
  fields: string[];
}

/**
 * One sandbox org: users, Lead records and the rules Salesforce applies to them. Every write
 * stamps SystemModstamp (from the injected clock) and LastModifiedById with the caller, which is
 * what lets the connector tell a seller's edit from its own.
 */
interface ExternalIndex {
  key: (value: string) => string;
  values: Map<string, Set<string>>;
}

function indexAdd(index: ExternalIndex, value: unknown, id: string): void {
  if (typeof value !== "string") return;
  const key = index.key(value);
  const ids = index.values.get(key);
  if (ids) ids.add(id);
  else index.values.set(key, new Set([id]));
}

function indexRemove(index: ExternalIndex, value: unknown, id: string): void {
  if (typeof value === "string") index.values.get(index.key(value))?.delete(id);
}

export class SandboxOrg {
  readonly orgId = "00D000000000001AAA";
  readonly users = new Map<string, SfUser>();
  readonly queues = new Map<string, SfQueue>();
  readonly leads = new Map<string, SfRecord>();
  readonly tasks = new Map<string, SfRecord>();
  #fields: SfField[] = leadFields();
  readonly #externalIndex = new Map<string, ExternalIndex>();
  #counter = 0;
  #lastStamp = 0;

  constructor(private readonly clock: Clock) {}

  get fields(): readonly SfField[] {
    return this.#fields;
  }

  /** Removes a field from the Lead object (to test schema checks). */
  removeField(name: string): void {
    this.#fields = this.#fields.filter((field) => field.name !== name);
  }

  addUser(username: string, firstName: string, lastName: string, more: { phone?: string; title?: string; active?: boolean } = {}): SfUser {
    const user: SfUser = { Id: this.#id("005"), Username: username, Email: username, FirstName: firstName, LastName: lastName, Name: `${firstName} ${lastName}`, Phone: more.phone ?? null, MobilePhone: null, Title: more.title ?? null, IsActive: more.active ?? true };
    this.users.set(user.Id, user);
    return user;
  }

  addQueue(name: string): SfQueue {
    const queue: SfQueue = { Id: this.#id("00G"), Name: name, DeveloperName: name.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, ""), Type: "Queue" };
    this.queues.set(queue.Id, queue);
    return queue;
  }

  field(name: string, object = "Lead"): SfField | undefined {
    const fields = object === "User" ? USER_FIELDS : object === "Group" ? GROUP_FIELDS : object === "Task" ? TASK_FIELDS : this.#fields;
    return fields.find((field) => field.name.toLowerCase() === name.toLowerCase());
  }

  /** Salesforce stamps with millisecond precision; stamps never go backwards within the org. */
  stamp(): string {
    const now = Math.max(this.clock.now().getTime(), this.#lastStamp);
    this.#lastStamp = now;
    return formatStamp(now);
  }

  /** Stamps many records with one SystemModstamp, as a mass update does. */
  massTouch(ids: string[], userId: string, change: Record<string, unknown>): void {
    const stamp = this.stamp();
    for (const id of ids) {
      const record = this.leads.get(id);
      if (!record) continue;
      const before = { ...record };
      Object.assign(record, change, { SystemModstamp: stamp, LastModifiedDate: stamp, LastModifiedById: userId });
      this.#reindex(record, before);
    }
  }

  create(input: Record<string, unknown>, userId: string): { id: string } | { errors: RecordError[] } {
    const problems = this.#validate(input, "create");
    if (problems.length > 0) return { errors: problems };
    const stamp = this.stamp();
    const record: SfRecord = {
      ...Object.fromEntries(this.#fields.filter((f) => f.type === "boolean" && f.createable).map((f) => [f.name, false])),
      Status: "Open - Not Contacted",
      OwnerId: userId,
      ...this.#canonical(input),
      Id: this.#id("00Q"),
      IsDeleted: false,
      CreatedDate: stamp,
      CreatedById: userId,
      LastModifiedDate: stamp,
      LastModifiedById: userId,
      SystemModstamp: stamp,
    };
    this.leads.set(record.Id, record);
    this.#reindex(record, {});
    return { id: record.Id };
  }

  /**
   * A Task as Salesforce checks one: WhoId must name a Lead or Contact (a Lead is never a WhatId),
   * the owner must be an active user (a queue cannot own a task), Status and Priority default.
   */
  createTask(input: Record<string, unknown>, userId: string): { id: string } | { errors: RecordError[] } {
    const errors: RecordError[] = [];
    for (const [key, value] of Object.entries(input)) {
      if (key === "attributes") continue;
      const field = this.field(key, "Task");
      if (!field) throw new SfError(400, "INVALID_FIELD", `No such column '${key}' on sobject of type Task`, [key]);
      if (!field.createable) {
        errors.push({ statusCode: "INVALID_FIELD_FOR_INSERT_UPDATE", message: `Unable to create/update fields: ${field.name}.`, fields: [field.name] });
        continue;
      }
      const problem = valueProblem(field, value);
      if (problem) errors.push(problem);
    }
    const who = input.WhoId;
    if (typeof who === "string" && !this.leads.has(who)) errors.push({ statusCode: "FIELD_INTEGRITY_EXCEPTION", message: "Name ID: id value of incorrect type: " + who, fields: ["WhoId"] });
    const what = input.WhatId;
    if (typeof what === "string" && what.startsWith("00Q")) errors.push({ statusCode: "FIELD_INTEGRITY_EXCEPTION", message: "Related To ID: id value of incorrect type: " + what, fields: ["WhatId"] });
    const owner = typeof input.OwnerId === "string" ? input.OwnerId : userId;
    const ownerUser = this.users.get(owner);
    if (!ownerUser) errors.push({ statusCode: "FIELD_INTEGRITY_EXCEPTION", message: `Assigned To ID: id value of incorrect type: ${owner}`, fields: ["OwnerId"] });
    else if (!ownerUser.IsActive) errors.push({ statusCode: "FIELD_INTEGRITY_EXCEPTION", message: "Assigned To ID: owner cannot be inactive user", fields: ["OwnerId"] });
    if (errors.length > 0) return { errors };
    const stamp = this.stamp();
    const task: SfRecord = { Status: "Not Started", Priority: "Normal", IsReminderSet: false, WhatId: null, WhoId: null, ...input, OwnerId: owner, Id: this.#id("00T"), CreatedDate: stamp, CreatedById: userId, SystemModstamp: stamp };
    delete task.attributes;
    this.tasks.set(task.Id, task);
    return { id: task.Id };
  }

  update(id: string, input: Record<string, unknown>, userId: string): RecordError[] {
    const record = this.leads.get(id);
    if (!record) return [{ statusCode: "ENTITY_IS_DELETED", message: "entity is deleted", fields: [] }];
    const problems = this.#validate(input, "update");
    if (problems.length > 0) return problems;
    const stamp = this.stamp();
    const before = { ...record };
    Object.assign(record, this.#canonical(input), { LastModifiedDate: stamp, LastModifiedById: userId, SystemModstamp: stamp });
    this.#reindex(record, before);
    return [];
  }

  /** Records whose external id equals `value` (case-insensitively when the field is not case-sensitive). */
  findByExternalId(fieldName: string, value: string): SfRecord[] {
    const field = this.field(fieldName);
    const name = field?.name ?? fieldName;
    const key = (v: string) => (field?.caseSensitive ? v : v.toLowerCase());
    // An index per external-id field, built on first use and kept by every write: a scan per
    // record made a 100,000-lead backfill quadratic in the sandbox, which the real org is not.
    let index = this.#externalIndex.get(name);
    if (!index) {
      index = { key, values: new Map() };
      for (const record of this.leads.values()) indexAdd(index, record[name], record.Id);
      this.#externalIndex.set(name, index);
    }
    const found: SfRecord[] = [];
    for (const id of index.values.get(key(value)) ?? []) {
      const record = this.leads.get(id);
      if (record && typeof record[name] === "string" && key(record[name] as string) === key(value)) found.push(record);
    }
    return found;
  }

  /** Keeps the external-id indexes true after a write changed `record` (`before`: its values until now). */
  #reindex(record: SfRecord, before: Record<string, unknown>): void {
    for (const [name, index] of this.#externalIndex) {
      if (before[name] === record[name]) continue;
      indexRemove(index, before[name], record.Id);
      indexAdd(index, record[name], record.Id);
    }
  }

  /** Checks an upsert's external-id field before any record is touched. */
  checkExternalIdField(fieldName: string): SfField {
    const field = this.field(fieldName);
    if (!field) throw new SfError(404, "NOT_FOUND", `Provided external ID field does not exist or is not accessible: ${fieldName}`);
    if (!field.externalId && field.name !== "Id") throw new SfError(400, "INVALID_FIELD", `Field ${field.name} is not an external id field`, [field.name]);
    return field;
  }

  query(soql: string): { records: SfRecord[]; object: string; fields: string[] } {
    let parsed: SoqlQuery;
    try {
      parsed = parseSoql(soql);
    } catch (error) {
      if (error instanceof SoqlError) throw new SfError(400, error.errorCode, error.message);
      throw error;
    }
    const object = ({ lead: "Lead", user: "User", task: "Task", group: "Group" } as Record<string, string>)[parsed.object.toLowerCase()];
    if (!object) throw new SfError(400, "INVALID_TYPE", `sObject type '${parsed.object}' is not supported.`);
    const canonical = (name: string) => {
      const field = this.field(name, object);
      if (!field) throw new SfError(400, "INVALID_FIELD", `No such column '${name}' on entity '${object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`);
      return field.name;
    };
    const fields = parsed.fields.map(canonical);
    let predicate: (record: Record<string, unknown>) => boolean;
    try {
      predicate = compileCondition(parsed.where, canonical, (name) => this.field(name, object)?.type ?? "string");
    } catch (error) {
      if (error instanceof SoqlError) throw new SfError(400, error.errorCode, error.message);
      throw error;
    }
    const order = parsed.orderBy.map((entry) => ({ field: canonical(entry.field), descending: entry.descending }));
    const source: SfRecord[] = object === "Lead" ? [...this.leads.values()] : object === "Task" ? [...this.tasks.values()] : object === "Group" ? [...this.queues.values()].map((q) => ({ ...q })) : [...this.users.values()].map((u) => ({ ...u }));
    let records = source.filter(predicate);
    if (order.length > 0) {
      records = records.sort((a, b) => {
        for (const { field, descending } of order) {
          const difference = compareValues(normalise(a[field] as never), normalise(b[field] as never));
          if (difference !== 0) return descending ? -difference : difference;
        }
        return 0;
      });
    }
    if (parsed.limit !== undefined) records = records.slice(0, parsed.limit);
    return { records: records.map((record) => ({ Id: record.Id, ...Object.fromEntries(fields.map((f) => [f, record[f] ?? null])) })), object, fields };
  }

  #canonical(input: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(input)) {
      const field = this.field(key);
      if (field) out[field.name] = value;
    }
    return out;
  }

  #validate(input: Record<string, unknown>, mode: "create" | "update"): RecordError[] {
    const errors: RecordError[] = [];
    for (const [key, value] of Object.entries(input)) {
      if (key === "attributes") continue;
      const field = this.field(key);
      if (!field) throw new SfError(400, "INVALID_FIELD", `No such column '${key}' on sobject of type Lead`, [key]);
      if (mode === "create" ? !field.createable : !field.updateable) {
        errors.push({ statusCode: "INVALID_FIELD_FOR_INSERT_UPDATE", message: `Unable to create/update fields: ${field.name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`, fields: [field.name] });
        continue;
      }
      const problem = valueProblem(field, value);
      if (problem) errors.push(problem);
    }
    const owner = Object.entries(input).find(([key]) => key.toLowerCase() === "ownerid")?.[1];
    if (typeof owner === "string") {
      const problem = this.#ownerProblem(owner);
      if (problem) errors.push(problem);
    }
    if (mode === "create") {
      for (const field of this.#fields.filter((f) => f.required)) {
        const value = Object.entries(input).find(([key]) => key.toLowerCase() === field.name.toLowerCase())?.[1];
        if (value === undefined || value === null || value === "") errors.push({ statusCode: "REQUIRED_FIELD_MISSING", message: `Required fields are missing: [${field.name}]`, fields: [field.name] });
      }
    }
    return errors;
  }

  /** A Lead's owner must be an active user or a queue (of Leads). */
  #ownerProblem(owner: string): RecordError | undefined {
    if (this.queues.has(owner)) return undefined;
    const user = this.users.get(owner);
    if (!user) return { statusCode: "FIELD_INTEGRITY_EXCEPTION", message: `Owner ID: id value of incorrect type: ${owner}`, fields: ["OwnerId"] };
    if (!user.IsActive) return { statusCode: "INACTIVE_OWNER_OR_USER", message: `operation performed with inactive user [${owner}] as owner of lead`, fields: [] };
    return undefined;
  }

  #id(prefix: string): string {
    this.#counter += 1;
    return `${prefix}${this.#counter.toString(36).toUpperCase().padStart(12, "0")}AAA`;
  }
}

const TASK_FIELDS = taskFields();
const USER_FIELDS = userFields();
const GROUP_FIELDS = groupFields();

function valueProblem(field: SfField, value: unknown): RecordError | undefined {
  if (value === null) {
    return field.nillable === false ? { statusCode: "REQUIRED_FIELD_MISSING", message: `Required fields are missing: [${field.name}]`, fields: [field.name] } : undefined;
  }
  const bad = (expected: string): RecordError => ({ statusCode: "INVALID_TYPE_ON_FIELD_IN_RECORD", message: `${field.label}: value not of required type: ${JSON.stringify(value)} (expected ${expected})`, fields: [field.name] });
  switch (field.type) {
    case "boolean":
      return typeof value === "boolean" ? undefined : bad("boolean");
    case "double":
    case "currency":
    case "int":
      return typeof value === "number" && Number.isFinite(value) && (field.type !== "int" || Number.isInteger(value)) ? undefined : bad(field.type);
    case "date":
      return typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value) ? undefined : bad("date yyyy-mm-dd");
    case "datetime":
      return typeof value === "string" && !Number.isNaN(Date.parse(value)) ? undefined : bad("datetime");
    case "picklist":
      if (typeof value !== "string") return bad("string");
      if (field.restrictedPicklist && !field.picklistValues?.includes(value)) {
        return { statusCode: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message: `${field.label}: bad value for restricted picklist field: ${value}`, fields: [field.name] };
      }
      return undefined;
    case "reference":
    case "id":
      return typeof value === "string" ? undefined : bad("id");
    default: {
      if (typeof value !== "string") return bad("string");
      if (field.length !== undefined && [...value].length > field.length) {
        return { statusCode: "STRING_TOO_LONG", message: `${field.label}: data value too large: ${value.slice(0, 40)}… (max length=${field.length})`, fields: [field.name] };
      }
      if (field.type === "email" && value !== "" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) return { statusCode: "INVALID_EMAIL_ADDRESS", message: `Email: invalid email address: ${value}`, fields: [field.name] };
      return undefined;
    }
  }
}

/** 2026-11-24T10:00:00.000+0000, as Salesforce writes date-times. */
export function formatStamp(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "+0000");
}
