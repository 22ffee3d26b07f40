import type { RateBudget } from "../src/shared/call-meter.js";
import type { RateInfo } from "../src/shared/rate-info.js";
import { CosellError } from "../src/shared/errors.js";

/**
 * The contract every CRM connector keeps. A connector knows one CRM's wire protocol and nothing of
 * the store, the outbox or the lifecycle: it upserts records it is given, reports what sellers
 * changed, and checks that the CRM has the fields a mapping needs.
 */
export type CrmKind = "salesforce" | "hubspot" | "dynamics";

/** Records of one CRM object, upserted on one external-id field. */
export interface UpsertRequest {
  object: string;
  externalIdField: string;
  records: Array<{
    /** The external id value (the referral id for a lead). */
    key: string;
    /** The CRM's own record id, when a confirmed link knows it (lets HubSpot update leads by id). */
    id?: string;
    fields: Record<string, unknown>;
    /** Records of other objects (already upserted) to associate at creation: HubSpot needs them. */
    associations?: Array<{ object: string; id: string }>;
  }>;
}

export type UpsertResult =
  /**
   * `modstamp`: the modification stamp of a record this call created, when the answer says (HubSpot):
   * a change feed showing the same stamp shows our create and nothing after it. Not for an update,
   * which may change nothing and answer a seller's older stamp.
   */
  | { key: string; outcome: "created" | "updated"; id: string; modstamp?: string }
  | { key: string; outcome: "failed"; error: CrmError };

/** Where a change feed stopped: the last record's modification stamp and id (tie-safe). */
export interface ChangeCursor {
  modstamp: string;
  id: string;
  /** An opaque server token (Dataverse delta link), when the CRM has one. */
  token?: string;
}

export interface ChangesRequest {
  object: string;
  externalIdField: string;
  /** Fields to return with each change (the inbound lifecycle fields and what flows back). */
  fields: string[];
  /** Resume after this; absent: start from `since`. */
  cursor?: ChangeCursor;
  /** First run only: changes after this time. */
  since?: Date;
  /**
   * The fields we last wrote to records, by external id, asked once per page for the records our
   * integration user touched last. Such a record is still a seller's change when its values differ
   * from these (a seller edit we then wrote other fields over); connectors that read per-field
   * history (HubSpot) do not need it.
   */
  lastPushed?: (externalIds: string[]) => Promise<ReadonlyMap<string, Record<string, unknown>>>;
  /**
   * The stamps our creates left on records (see UpsertResult) and the fields they wrote, by external
   * id: a record still showing both was touched by nobody since, so its history need not be read.
   */
  lastWritten?: (externalIds: string[]) => Promise<ReadonlyMap<string, { modstamp: string; fields: Record<string, unknown> }>>;
}

/** One seller edit: the record's current values of the requested fields, and who changed it when. */
export interface CrmChange {
  id: string;
  externalId?: string;
  modifiedAt: string;
  modifiedBy: string;
  fields: Record<string, unknown>;
}

export interface ChangePage {
  changes: CrmChange[];
  /** Save this with the page's effects; the next call resumes after it. */
  cursor: ChangeCursor;
}

/** What a mapping needs of one CRM object. */
export interface SchemaRequirement {
  object: string;
  externalIdField: string;
  fields: Array<{
    name: string;
    /** Longest text the mapping writes (from `truncate`). */
    maxLength?: number;
    /** Values the mapping can write to this field (constants, maps, lookups): a picklist must offer them. */
    values?: string[];
    /** Read back by the inbound side. */
    readBack?: boolean;
  }>;
}

export interface SchemaProblem {
  object: string;
  field: string;
  problem: "object-missing" | "missing" | "not-external-id" | "not-unique" | "too-short" | "picklist-value-missing" | "not-updateable";
  /** What to create or change, in the CRM's own terms. */
  message: string;
}

export interface SchemaReport {
  ok: boolean;
  problems: SchemaProblem[];
}

/** A to-do on a record for its owner: what a deadline reminder leaves in the CRM. */
export interface TaskRequest {
  /** The record's CRM object and id (the lead the reminder is about). */
  object: string;
  recordId: string;
  /** Unique per reminder: a retried create finds the first task instead of adding a second. */
  key: string;
  subject: string;
  body: string;
  dueAt: Date;
}

export interface TaskResult {
  id: string;
  /** `existing`: an earlier, unanswered try had made it. */
  outcome: "created" | "existing";
  /** Who the task is assigned to, when it went to the record's owner. */
  ownerId?: string;
  /** Calls it took (the outbox paces the CRM by them). */
  requests: number;
}

/** Who an owner lookup asks for: a user by email, a team or queue by name, or an owner by CRM id. */
export type OwnerQuery = { email: string } | { team: string } | { id: string };

/** A CRM user, or a group that can own records (Salesforce queue, Dataverse owner team). */
export interface CrmOwner {
  id: string;
  kind: "user" | "team";
  /** What the record's owner field takes (Dataverse: "/systemusers(id)" for ownerid@odata.bind). */
  value: string;
  name: string;
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  title?: string;
  /** false: a deactivated user (or archived HubSpot owner); records cannot be given to it. */
  active: boolean;
}

export interface CrmConnector {
  readonly kind: CrmKind;
  /** The CRM user the connector writes as (once connected): records it owns have no partner seller. */
  readonly userId?: string;
  /** Authenticates and learns who "we" are (so our own writes can be told from a seller's). */
  connect(): Promise<void>;
  checkSchema(requirements: SchemaRequirement[]): Promise<SchemaReport>;
  /** One result per record, in order. Throws only when the whole call failed (auth, network, limits). */
  upsert(request: UpsertRequest): Promise<UpsertResult[]>;
  /**
   * Records one upsert call carries, when a record that fails there fails alone (HubSpot's errors[],
   * Salesforce's allOrNone false, Dataverse's continue-on-error): a call may then be filled with the
   * shared records of leads queued next without risking the batch's own.
   */
  readonly upsertBatchLimit?: number;
  /** Sellers' changes since the cursor, oldest first, our own writes left out. */
  changes(request: ChangesRequest): AsyncGenerator<ChangePage>;
  /** A task on a record, assigned to the record's owner where the CRM allows. */
  createTask?(request: TaskRequest): Promise<TaskResult>;
  /**
   * One owner, or undefined when the CRM has none that matches. A user asked for by email comes back
   * active when any of its users with that email is; a team by its name.
   */
  findOwner?(query: OwnerQuery): Promise<CrmOwner | undefined>;
  /** A link a seller can open to the record, when the connector knows how to build one. */
  recordUrl?(object: string, id: string): string | undefined;
  /** What the CRM last said about its limits, for the outbox pacer. */
  rateInfo(): RateInfo;
  close(): Promise<void>;
}

export type CrmErrorCode =
  | "CRM_UNAUTHENTICATED"
  | "CRM_ACCESS_DENIED"
  | "CRM_REQUEST_LIMIT"
  | "CRM_THROTTLED"
  | "CRM_UNAVAILABLE"
  | "CRM_UNREACHABLE"
  | "CRM_INVALID_FIELD"
  | "CRM_VALUE_TOO_LONG"
  | "CRM_BAD_PICKLIST_VALUE"
  | "CRM_REQUIRED_FIELD_MISSING"
  | "CRM_DUPLICATE_EXTERNAL_ID"
  | "CRM_INVALID_VALUE"
  | "CRM_NOT_FOUND"
  | "CRM_MALFORMED_QUERY"
  | "CRM_UNEXPECTED";

const RETRYABLE: ReadonlySet<CrmErrorCode> = new Set<CrmErrorCode>(["CRM_REQUEST_LIMIT", "CRM_THROTTLED", "CRM_UNAVAILABLE", "CRM_UNREACHABLE", "CRM_UNEXPECTED"]);

export interface CrmErrorContext {
  crm: CrmKind;
  /** The CRM's own error code and message, verbatim. */
  crmCode?: string;
  crmMessage?: string;
  field?: string;
  retryAfterMs?: number;
  /** The separate rate a throttled call drew on (HubSpot's search), whose wait is that rate's alone. */
  rateBudget?: RateBudget;
  /** Record ids involved (e.g. the several records one external id matched). */
  recordIds?: string[];
}

/** A CRM's refusal or failure, in our terms, with its own words kept. */
export class CrmError extends CosellError {
  readonly retryAfterMs: number | undefined;
  readonly rateBudget: RateBudget | undefined;
  readonly field: string | undefined;

  constructor(code: CrmErrorCode, message: string, context: CrmErrorContext, cause?: unknown) {
    super(code, message, { retryable: RETRYABLE.has(code), details: { ...context }, cause });
    this.retryAfterMs = context.retryAfterMs;
    this.rateBudget = context.rateBudget;
    this.field = context.field;
  }
}
