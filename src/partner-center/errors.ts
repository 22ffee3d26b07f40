import { CosellError } from "../shared/errors.js";
import type { WireReferral } from "./wire.js";

export type PartnerCenterErrorCode =
  | "PC_UNAUTHENTICATED"
  | "PC_ACCESS_DENIED"
  | "PC_INVALID_REQUEST"
  | "PC_NOT_FOUND"
  | "PC_PRECONDITION_FAILED"
  | "PC_CONFLICT"
  | "PC_THROTTLED"
  | "PC_UNAVAILABLE"
  | "PC_UNREACHABLE"
  | "PC_UNEXPECTED_RESPONSE";

const GUIDANCE: Record<PartnerCenterErrorCode, string> = {
  PC_UNAUTHENTICATED: "Partner Center refused the token. Check that the service user still exists, holds the Referrals admin or Referrals user role, and that its refresh token has not been revoked; sign it in again if so.",
  PC_ACCESS_DENIED: "Partner Center denied access. The referral API accepts only app+user tokens of a user in the Referrals admin or user role; a Referrals user sees only leads whose team includes them.",
  PC_INVALID_REQUEST: "Partner Center rejected the request as invalid; the message says which field. This is not retried.",
  PC_NOT_FOUND: "The referral does not exist in this Partner Center account (deleted, or another account's id).",
  PC_PRECONDITION_FAILED: "The referral changed in Partner Center since it was read; it is re-read and the change re-planned.",
  PC_CONFLICT: "Partner Center reported a conflict with the record's current state.",
  PC_THROTTLED: "Partner Center is rate limiting; the request is retried after the time it asked for.",
  PC_UNAVAILABLE: "Partner Center is unavailable; the request is retried with backoff.",
  PC_UNREACHABLE: "Partner Center could not be reached (network or DNS); the request is retried with backoff.",
  PC_UNEXPECTED_RESPONSE: "Partner Center answered with something the client does not understand; the request is retried.",
};

const RETRYABLE: ReadonlySet<PartnerCenterErrorCode> = new Set<PartnerCenterErrorCode>([
  "PC_PRECONDITION_FAILED",
  "PC_THROTTLED",
  "PC_UNAVAILABLE",
  "PC_UNREACHABLE",
  "PC_UNEXPECTED_RESPONSE",
]);

export interface PartnerCenterErrorContext {
  status?: number;
  method: string;
  url: string;
  clientRequestId: string;
  requestId?: string;
  remoteCode?: string;
  remoteMessage?: string;
  target?: string;
  retryAfterMs?: number;
}

/** Every failure of a Partner Center call: a stable code, retryable, and when to retry. */
export class PartnerCenterError extends CosellError {
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  readonly clientRequestId: string;

  constructor(code: PartnerCenterErrorCode, context: PartnerCenterErrorContext, cause?: unknown) {
    const remote = context.remoteMessage ? ` Partner Center said: "${context.remoteMessage}"${context.target ? ` (field ${context.target})` : ""}.` : "";
    super(code, `${GUIDANCE[code]}${remote} [${context.method} ${pathOf(context.url)} → ${context.status ?? "no answer"}, client-request-id ${context.clientRequestId}]`, {
      retryable: RETRYABLE.has(code),
      details: { ...context, url: pathOf(context.url) },
      cause,
    });
    this.retryAfterMs = context.retryAfterMs;
    this.status = context.status;
    this.clientRequestId = context.clientRequestId;
  }
}

/** A 412 on a patch: the record moved on. Carries the fresh record so the caller can re-plan. */
export class ReferralConflictError extends PartnerCenterError {
  readonly current: WireReferral;

  constructor(context: PartnerCenterErrorContext, current: WireReferral) {
    super("PC_PRECONDITION_FAILED", context);
    this.current = current;
  }
}

function pathOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return url;
  }
}

/** Error codes from the body are matched case-insensitively, as the reference asks. */
const BODY_CODES: Record<string, PartnerCenterErrorCode> = {
  unauthenticated: "PC_UNAUTHENTICATED",
  accessdenied: "PC_ACCESS_DENIED",
  invalidrequest: "PC_INVALID_REQUEST",
  itemnotfound: "PC_NOT_FOUND",
  preconditionfailed: "PC_PRECONDITION_FAILED",
  resourcemodified: "PC_PRECONDITION_FAILED",
  servicenotavailable: "PC_UNAVAILABLE",
};

export function codeFor(status: number, remoteCode: string | undefined): PartnerCenterErrorCode {
  const byBody = remoteCode ? BODY_CODES[remoteCode.toLowerCase()] : undefined;
  if (byBody) return byBody;
  if (status === 401) return "PC_UNAUTHENTICATED";
  if (status === 403) return "PC_ACCESS_DENIED";
  if (status === 404) return "PC_NOT_FOUND";
  if (status === 409) return "PC_CONFLICT";
  if (status === 412) return "PC_PRECONDITION_FAILED";
  if (status === 429) return "PC_THROTTLED";
  if (status >= 500) return "PC_UNAVAILABLE";
  if (status >= 400) return "PC_INVALID_REQUEST";
  return "PC_UNEXPECTED_RESPONSE";
}

/** Both documented error bodies: `{error:{code,message,target}}` and `{statusCode,message}`. */
export function readErrorBody(text: string): { code?: string; message?: string; target?: string } {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; target?: unknown }; message?: unknown };
    const error = body.error;
    if (error && typeof error === "object") {
      return {
        ...(typeof error.code === "string" ? { code: error.code } : {}),
        ...(typeof error.message === "string" ? { message: error.message } : {}),
        ...(typeof error.target === "string" && error.target ? { target: error.target } : {}),
      };
    }
    return typeof body.message === "string" ? { message: body.message } : {};
  } catch {
    return text.trim() ? { message: text.trim().slice(0, 300) } : {};
  }
}

/** `Retry-After` as seconds or an HTTP date, else "Try again in N seconds" in the message. */
export function retryAfterMs(header: string | null, message: string | undefined, now: Date): number | undefined {
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const at = Date.parse(header);
    if (!Number.isNaN(at)) return Math.max(0, at - now.getTime());
  }
  const match = message ? /try again in (\d+(?:\.\d+)?) seconds?/i.exec(message) : null;
  return match?.[1] ? Number(match[1]) * 1000 : undefined;
}
