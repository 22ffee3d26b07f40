import type { Person } from "../domain/lead.js";
import type { LeadState } from "../domain/lead.js";
import type { DesiredOutcome } from "../domain/plan.js";
import type { Getter } from "./paths.js";
import { compileGetter, templatePlaceholders } from "./paths.js";
import type { FieldOwner, InboundTarget, MappingFile } from "./schema.js";
import { ROUTED_OWNER } from "./schema.js";
import type { MappingSource } from "./source.js";
import type { Step } from "./transforms.js";
import { asDate, asNumber, asText, compilePipeline, compileTemplate } from "./transforms.js";

/** One CRM record the mapping produced for one lead. */
export interface MappedRecord {
  /** The object's name in the mapping (lead, company, contact). */
  name: string;
  /** The CRM object API name. */
  object: string;
  externalIdField: string;
  externalId: string;
  fields: Record<string, unknown>;
  /**
   * Which rule produces each field of this object, for previews and the timeline. Shared by every
   * record of the object (look up the fields you have); it is the same for every lead.
   */
  produced: Readonly<Record<string, string>>;
  associate: string[];
}

export interface MappingProblem {
  code: "MAPPING_REQUIRED_FIELD" | "MAPPING_EXTERNAL_ID_MISSING" | "MAPPING_UNKNOWN_STATUS";
  object: string;
  field: string;
  message: string;
}

export interface OutboundResult {
  records: MappedRecord[];
  problems: MappingProblem[];
  /** Optional objects skipped because their external id had no value. */
  skipped: string[];
}

export interface OutboundOptions {
  /** First write of the record: every field goes, whatever its owner. */
  create: boolean;
  /** `latest`-owned fields the CRM changed more recently than Partner Center (left alone). */
  crmNewer?: ReadonlySet<string>;
}

/** What a seller's CRM record asks of Partner Center. */
export interface InboundIntent {
  /** Present when the record carries lifecycle fields. */
  lifecycle?: Omit<DesiredOutcome, "owner">;
  /** The record's owner as the CRM names it (a user or queue id), when the mapping reads one. */
  ownerRef?: string;
  changes: Partial<{ dealValue: number; currency: string; closingAt: Date; notes: string }>;
  problems: MappingProblem[];
}

interface CompiledField {
  field: string;
  owner: FieldOwner;
  /** The source path, for a `from` rule. */
  from?: string;
  describe: string;
  read: (source: MappingSource) => unknown;
  /** Longest text the rule writes (its last truncate), for schema checks. */
  maxLength?: number;
  /** Every value the rule can write, when that set is known (a constant, a map, a lookup). */
  values?: string[];
}

/** What the CRM must offer for a mapping: per object, its fields and what is written to them. */
export interface MappingRequirement {
  object: string;
  externalIdField: string;
  fields: Array<{ name: string; maxLength?: number; values?: string[]; readBack?: boolean }>;
}

interface CompiledObject {
  name: string;
  object: string;
  externalIdField: string;
  externalId: Getter;
  externalIdFrom: string;
  optional: boolean;
  associate: string[];
  fields: CompiledField[];
  /** Fields by owner, for the checks and for previews. */
  owners: Map<string, FieldOwner>;
  produced: Readonly<Record<string, string>>;
}

const TRUE_VALUES = new Set(["true", "1", "yes", "y", "on", "checked"]);

export class CompiledMapping {
  readonly crm: MappingFile["crm"];
  readonly file: string;
  readonly #objects: CompiledObject[];
  readonly #inbound: MappingFile["inbound"];
  readonly #inboundFields: Array<{ field: string; to: InboundTarget; step: Step }>;
  readonly #statusValues: ReadonlyMap<string, LeadState>;

  constructor(definition: MappingFile, file: string) {
    this.crm = definition.crm;
    this.file = file;
    const tables = definition.tables as Record<string, Record<string, unknown>>;
    this.#objects = Object.entries(definition.objects).map(([name, object]) => ({
      name,
      object: object.object,
      externalIdField: object.externalId.field,
      externalId: compileGetter(object.externalId.from),
      externalIdFrom: object.externalId.from,
      optional: object.optional,
      associate: object.associate,
      owners: new Map(Object.entries(object.fields).map(([field, rule]) => [field, rule.owner])),
      produced: {},
      fields: Object.entries(object.fields).map(([field, rule]) => {
        const transform = compilePipeline(rule.transform, tables);
        let read: (source: MappingSource) => unknown;
        let describe: string;
        if (rule.from !== undefined) {
          const get = compileGetter(rule.from);
          read = (source) => transform(get(source));
          describe = rule.from;
        } else if (rule.template !== undefined) {
          const getters = new Map(templatePlaceholders(rule.template).map((path) => [path, compileGetter(path)]));
          const fill = compileTemplate(rule.template, getters);
          read = (source) => transform(fill(source));
          describe = `template ${JSON.stringify(rule.template)}`;
        } else {
          const constant = rule.value;
          read = () => transform(constant);
          describe = `value ${JSON.stringify(constant)}`;
        }
        if (rule.transform.length > 0) describe += ` → ${rule.transform.map((step) => Object.keys(step).filter((k) => k !== "timeZone")[0]).join(" → ")}`;
        const fallback = rule.default ?? undefined;
        const withDefault = fallback === undefined ? read : (source: MappingSource) => {
          const value = read(source);
          return value === undefined || value === "" ? fallback : value;
        };
        const truncate = [...rule.transform].reverse().find((step) => step.truncate !== undefined)?.truncate;
        const last = rule.transform[rule.transform.length - 1];
        const produced = rule.value !== undefined && rule.transform.length === 0 ? [rule.value] : last?.map ? Object.values(last.map) : last?.lookup ? Object.values(tables[last.lookup] ?? {}) : undefined;
        const values = produced?.filter((v) => v !== null && v !== "").map(String);
        return {
          field,
          owner: rule.owner,
          ...(rule.from === undefined ? {} : { from: rule.from }),
          describe: rule.required ? `${describe} (required)` : describe,
          read: rule.required ? requiredRead(withDefault) : withDefault,
          ...(truncate === undefined ? {} : { maxLength: truncate }),
          ...(values ? { values: [...new Set(values)] } : {}),
        };
      }),
    }));
    for (const object of this.#objects) object.produced = Object.freeze(Object.fromEntries(object.fields.map((field) => [field.field, field.describe])));
    this.#inbound = definition.inbound;
    this.#inboundFields = Object.entries(definition.inbound?.fields ?? {}).map(([field, rule]) => ({ field, to: rule.to, step: compilePipeline(rule.transform, tables) }));
    this.#statusValues = new Map(Object.entries(definition.inbound?.status?.values ?? {}));
  }

  /** The mapped object sellers work in, if the mapping has an inbound side. */
  get inboundObject(): string | undefined {
    return this.#inbound?.object;
  }

  /**
   * The CRM fields the inbound side reads back from the seller's record (status, substages, reason,
   * owner, plain values), in a stable order; empty without an inbound side.
   */
  readBackFields(): string[] {
    const inbound = this.#inbound;
    if (!inbound) return [];
    return [...new Set([inbound.status?.field, inbound.qualifyComplete, inbound.evaluateComplete, inbound.reason, inbound.owner, ...Object.keys(inbound.fields)].filter((name): name is string => Boolean(name)))];
  }

  /** The field the inbound side reads the record's owner from (OwnerId, hubspot_owner_id, _ownerid_value). */
  inboundOwnerField(): string | undefined {
    return this.#inbound?.owner;
  }

  /**
   * Fields written from the routed owner (`from: sync.owner`), by mapping object, and whether their
   * ownership rule has them written on updates too (by default only on create).
   */
  routedOwnerFields(): Array<{ name: string; field: string; onUpdate: boolean; owner: FieldOwner }> {
    return this.#objects.flatMap((object) =>
      object.fields.filter((field) => field.from === ROUTED_OWNER).map((field) => ({ name: object.name, field: field.field, onUpdate: writesOnUpdate(field, undefined), owner: field.owner })),
    );
  }

  /** The CRM object and external-id field sellers work in, when the mapping has an inbound side. */
  inboundTarget(): { name: string; object: string; externalIdField: string } | undefined {
    const object = this.#objects.find((o) => o.name === this.#inbound?.object);
    return object ? { name: object.name, object: object.object, externalIdField: object.externalIdField } : undefined;
  }

  /** Names, CRM objects and external-id fields of every object, for the connectors' schema checks. */
  describeObjects(): Array<{ name: string; object: string; externalIdField: string; fields: Array<{ field: string; owner: FieldOwner; source: string }> }> {
    return this.#objects.map((object) => ({
      name: object.name,
      object: object.object,
      externalIdField: object.externalIdField,
      fields: object.fields.map((field) => ({ field: field.field, owner: field.owner, source: field.describe })),
    }));
  }

  /** What each CRM object must offer: fields written (with lengths and values) and fields read back. */
  requirements(): MappingRequirement[] {
    const inbound = this.#inbound;
    return this.#objects.map((object) => {
      const fields: MappingRequirement["fields"] = object.fields.map((field) => ({
        name: field.field,
        ...(field.maxLength === undefined ? {} : { maxLength: field.maxLength }),
        ...(field.values ? { values: field.values } : {}),
      }));
      if (inbound && inbound.object === object.name) {
        for (const name of this.readBackFields()) {
          const existing = fields.find((field) => field.name === name);
          if (existing) existing.readBack = true;
          else fields.push({ name, readBack: true });
        }
      }
      return { object: object.object, externalIdField: object.externalIdField, fields };
    });
  }

  /** Lead → CRM records, honouring field ownership on updates. */
  outbound(source: MappingSource, options: OutboundOptions): OutboundResult {
    const records: MappedRecord[] = [];
    const problems: MappingProblem[] = [];
    const skipped: string[] = [];
    for (const object of this.#objects) {
      const id = asText(object.externalId(source));
      if (id === undefined || id === "") {
        if (object.optional) skipped.push(object.name);
        else problems.push({ code: "MAPPING_EXTERNAL_ID_MISSING", object: object.name, field: object.externalIdField, message: `${object.externalIdFrom} has no value, so the ${object.object} record has no ${object.externalIdField} to upsert on.` });
        continue;
      }
      const fields: Record<string, unknown> = {};
      for (const field of object.fields) {
        if (!options.create && !writesOnUpdate(field, options.crmNewer)) continue;
        const value = field.read(source);
        if (value === REQUIRED_MISSING) {
          problems.push({ code: "MAPPING_REQUIRED_FIELD", object: object.name, field: field.field, message: `${field.field} is required but ${field.describe.replace(/ \(required\)$/, "")} gave no value.` });
          continue;
        }
        if (value === undefined) continue;
        fields[field.field] = value instanceof Date ? value.toISOString() : value;
      }
      records.push({ name: object.name, object: object.object, externalIdField: object.externalIdField, externalId: id, fields, produced: object.produced, associate: object.associate });
    }
    return { records, problems, skipped };
  }

  /** A seller's CRM record → lifecycle intent and the plain values that flow back. */
  inbound(record: Record<string, unknown>): InboundIntent {
    const inbound = this.#inbound;
    const problems: MappingProblem[] = [];
    const changes: InboundIntent["changes"] = {};
    if (!inbound) return { changes, problems };
    for (const { field, to, step } of this.#inboundFields) {
      if (!(field in record)) continue;
      const value = step(record[field]);
      if (value === undefined || value === null || value === "") continue;
      if (to === "deal.value") {
        const n = asNumber(value);
        if (n !== undefined) changes.dealValue = n;
      } else if (to === "deal.closingAt") {
        const d = asDate(value);
        if (d) changes.closingAt = d;
      } else if (to === "deal.currency") changes.currency = String(value).toUpperCase();
      else changes.notes = String(value);
    }
    let state: LeadState | undefined;
    if (inbound.status && inbound.status.field in record) {
      const raw = asText(record[inbound.status.field]);
      state = raw === undefined ? undefined : this.#statusValues.get(raw);
      if (raw !== undefined && state === undefined) {
        problems.push({ code: "MAPPING_UNKNOWN_STATUS", object: inbound.object, field: inbound.status.field, message: `The CRM value "${raw}" of ${inbound.status.field} has no lifecycle meaning in ${this.file}; add it under inbound.status.values.` });
      }
    }
    const flag = (field: string | undefined) => (field && field in record ? truthy(record[field]) : undefined);
    const qualifyComplete = flag(inbound.qualifyComplete);
    const evaluateComplete = flag(inbound.evaluateComplete);
    const reason = inbound.reason ? asText(record[inbound.reason])?.trim() : undefined;
    const ownerRef = inbound.owner ? asText(record[inbound.owner]) : undefined;
    if (state === undefined && qualifyComplete === undefined && evaluateComplete === undefined) return { ...(ownerRef ? { ownerRef } : {}), changes, problems };
    return {
      lifecycle: {
        state: state ?? "accepted",
        ...(qualifyComplete === undefined ? {} : { qualifyComplete }),
        ...(evaluateComplete === undefined ? {} : { evaluateComplete }),
        ...(reason ? { reason } : {}),
      },
      ...(ownerRef ? { ownerRef } : {}),
      changes,
      problems,
    };
  }
}

/** The lifecycle intent as the domain's DesiredOutcome, once the owner is resolved to a person. */
export function desiredOutcome(intent: NonNullable<InboundIntent["lifecycle"]>, owner?: Person): DesiredOutcome {
  return owner ? { ...intent, owner } : intent;
}

const REQUIRED_MISSING = Symbol("required value missing");

function requiredRead(read: (source: MappingSource) => unknown): (source: MappingSource) => unknown {
  return (source) => {
    const value = read(source);
    return value === undefined || value === null || value === "" ? REQUIRED_MISSING : value;
  };
}

function writesOnUpdate(field: CompiledField, crmNewer: ReadonlySet<string> | undefined): boolean {
  switch (field.owner) {
    case "partnerCenter":
      return true;
    case "latest":
      return !crmNewer?.has(field.field);
    case "crm":
    case "none":
      return false;
  }
}

function truthy(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  return typeof value === "string" && TRUE_VALUES.has(value.trim().toLowerCase());
}
