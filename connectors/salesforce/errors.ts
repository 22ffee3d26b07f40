import type { CrmErrorCode } from "../types.js";
import { CrmError } from "../types.js";

/** Salesforce status codes → ours. Anything unknown is CRM_UNEXPECTED (retryable, and visible). */
const BY_STATUS: Record<string, CrmErrorCode> = {
  INVALID_SESSION_ID: "CRM_UNAUTHENTICATED",
  INSUFFICIENT_ACCESS: "CRM_ACCESS_DENIED",
  INSUFFICIENT_ACCESS_OR_READONLY: "CRM_ACCESS_DENIED",
  INVALID_FIELD_FOR_INSERT_UPDATE: "CRM_ACCESS_DENIED",
  REQUEST_LIMIT_EXCEEDED: "CRM_REQUEST_LIMIT",
  SERVER_UNAVAILABLE: "CRM_UNAVAILABLE",
  UNABLE_TO_LOCK_ROW: "CRM_UNAVAILABLE",
  INVALID_FIELD: "CRM_INVALID_FIELD",
  NO_SUCH_COLUMN: "CRM_INVALID_FIELD",
  STRING_TOO_LONG: "CRM_VALUE_TOO_LONG",
  INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: "CRM_BAD_PICKLIST_VALUE",
  REQUIRED_FIELD_MISSING: "CRM_REQUIRED_FIELD_MISSING",
  DUPLICATE_EXTERNAL_ID: "CRM_DUPLICATE_EXTERNAL_ID",
  DUPLICATE_VALUE: "CRM_DUPLICATE_EXTERNAL_ID",
  INVALID_TYPE_ON_FIELD_IN_RECORD: "CRM_INVALID_VALUE",
  INVALID_EMAIL_ADDRESS: "CRM_INVALID_VALUE",
  // An owner that is not a user or queue, or a deactivated user.
  FIELD_INTEGRITY_EXCEPTION: "CRM_INVALID_VALUE",
  INACTIVE_OWNER_OR_USER: "CRM_INVALID_VALUE",
  FIELD_CUSTOM_VALIDATION_EXCEPTION: "CRM_INVALID_VALUE",
  MALFORMED_QUERY: "CRM_MALFORMED_QUERY",
  INVALID_TYPE: "CRM_INVALID_FIELD",
  NOT_FOUND: "CRM_NOT_FOUND",
  ENTITY_IS_DELETED: "CRM_NOT_FOUND",
};

const HINT: Partial<Record<CrmErrorCode, string>> = {
  CRM_INVALID_FIELD: "Create the field, or fix its API name in the mapping (`cosell-sync crm check --pair NAME` lists what is missing).",
  CRM_VALUE_TOO_LONG: "Add or shorten a `truncate` transform for this field in the mapping.",
  CRM_BAD_PICKLIST_VALUE: "Add the value to the picklist in Salesforce, or map it to an existing value.",
  CRM_REQUIRED_FIELD_MISSING: "Map a value (or a `default`) to this required field.",
  CRM_DUPLICATE_EXTERNAL_ID: "Several Salesforce records carry this referral id. Merge or delete the duplicates, and mark the external-id field Unique so it cannot happen again.",
  CRM_ACCESS_DENIED: "Give the integration user's profile or permission set read/write access to this field.",
  CRM_REQUEST_LIMIT: "The org's daily API allowance is used up; syncing resumes when the rolling 24-hour window frees requests.",
};

/** Daily allowance exhausted: wait an hour before trying again rather than burning retries. */
export const REQUEST_LIMIT_PAUSE_MS = 60 * 60_000;

export function crmErrorFrom(statusCode: string, message: string, fields: string[] = []): CrmError {
  const code = BY_STATUS[statusCode] ?? (/^5\d\d$/.test(statusCode) ? "CRM_UNAVAILABLE" : "CRM_UNEXPECTED");
  const recordIds = code === "CRM_DUPLICATE_EXTERNAL_ID" ? (message.match(/\b00Q\w{12,15}\b/g) ?? []) : [];
  const field = fields[0];
  const hint = HINT[code];
  return new CrmError(code, `Salesforce refused${field ? ` ${field}` : ""}: ${message}${hint ? ` ${hint}` : ""}`, {
    crm: "salesforce",
    crmCode: statusCode,
    crmMessage: message,
    ...(field ? { field } : {}),
    ...(recordIds.length > 0 ? { recordIds } : {}),
    ...(code === "CRM_REQUEST_LIMIT" ? { retryAfterMs: REQUEST_LIMIT_PAUSE_MS } : {}),
  });
}

/** An error jsforce threw for a whole call (it carries Salesforce's errorCode, or a network code). */
export function crmErrorFromThrown(error: unknown): CrmError {
  if (error instanceof CrmError) return error;
  const e = error as { errorCode?: string; name?: string; message?: string; code?: string; data?: unknown };
  const statusCode = e.errorCode ?? (typeof e.name === "string" && /^[A-Z_]+$/.test(e.name) ? e.name : undefined);
  if (statusCode) {
    const fields = Array.isArray(e.data) ? ((e.data[0] as { fields?: string[] } | undefined)?.fields ?? []) : [];
    return crmErrorFrom(statusCode, e.message ?? statusCode, fields);
  }
  if (e.code && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(e.code)) {
    return new CrmError("CRM_UNREACHABLE", `Salesforce could not be reached (${e.code}); retrying with backoff.`, { crm: "salesforce", crmCode: e.code }, error);
  }
  return new CrmError("CRM_UNEXPECTED", `Salesforce call failed: ${e.message ?? String(error)}`, { crm: "salesforce" }, error);
}
