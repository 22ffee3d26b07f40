import { randomUUID } from "node:crypto";
import type { TokenProvider } from "../auth/token-provider.js";
import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import type { Clock } from "../shared/clock.js";
import { systemClock } from "../shared/clock.js";
import type { PartnerCenterErrorContext } from "./errors.js";
import { codeFor, PartnerCenterError, readErrorBody, ReferralConflictError, retryAfterMs } from "./errors.js";
import type { JsonPatchOperation, ReferralPage, WireReferral } from "./wire.js";
import { parseReferral } from "./adapter.js";

export const DEFAULT_BASE_URL = "https://api.partner.microsoft.com/v1.0/engagements";
export const MAX_PAGE_SIZE = 100;

export interface ReferralClientOptions {
  /** The engagements base; the client appends `/referrals`. */
  baseUrl: string;
  tokens: TokenProvider;
  logger: Logger;
  clock?: Clock;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Sent as MS-CorrelationId so one sync run can be traced across calls. */
  correlationId?: string;
  fetch?: typeof fetch;
}

export interface ListChangedOptions {
  /** Records updated at or after this time; everything when absent. */
  since?: Date;
  pageSize?: number;
  /** Extra OData conditions joined with `and`, e.g. `direction eq 'Incoming'`. */
  filter?: string;
  signal?: AbortSignal;
}

interface Sent {
  status: number;
  headers: Headers;
  text: string;
  context: PartnerCenterErrorContext;
}

/**
 * The referral API client: the only code that speaks Partner Center's wire protocol. It retries
 * nothing but a refused token (once, with a fresh one); the outbox owns every other retry.
 */
export class ReferralClient {
  readonly #base: URL;
  readonly #tokens: TokenProvider;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #correlationId: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: ReferralClientOptions) {
    this.#base = new URL(options.baseUrl.replace(/\/+$/, ""));
    this.#tokens = options.tokens;
    this.#log = componentLogger(options.logger, "partner-center");
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#correlationId = options.correlationId;
    this.#fetch = options.fetch ?? fetch;
  }

  get referralsUrl(): string {
    return `${this.#base.toString().replace(/\/+$/, "")}/referrals`;
  }

  /**
   * Pages of referrals changed since `since`, oldest first, following `@odata.nextLink`. One page is
   * held at a time, so memory stays flat however many records there are.
   */
  async *listChanged(options: ListChangedOptions = {}): AsyncGenerator<ReferralPage> {
    const conditions = [options.since ? `updatedDateTime ge ${options.since.toISOString()}` : undefined, options.filter].filter(Boolean);
    const first = new URL(this.referralsUrl);
    if (conditions.length > 0) first.searchParams.set("$filter", conditions.join(" and "));
    first.searchParams.set("$orderby", "updatedDateTime");
    first.searchParams.set("$top", String(Math.min(options.pageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE)));
    let next: string | undefined = first.toString();
    while (next) {
      options.signal?.throwIfAborted();
      const sent = await this.#send("GET", next, undefined, {}, options.signal);
      const body = this.#json<{ value?: unknown[]; items?: unknown[]; "@odata.nextLink"?: string; continuationToken?: string }>(sent);
      const items: WireReferral[] = [];
      for (const raw of body.value ?? body.items ?? []) {
        try {
          items.push(parseReferral(raw));
        } catch (error) {
          this.#log.warn({ err: error, clientRequestId: sent.context.clientRequestId }, "skipped a referral without an id");
        }
      }
      const nextLink = body["@odata.nextLink"];
      yield nextLink ? { items, nextLink } : { items };
      next = nextLink ? this.#rebuildNextLink(nextLink) : undefined;
    }
  }

  async get(id: string): Promise<WireReferral> {
    const sent = await this.#send("GET", `${this.referralsUrl}/${encodeURIComponent(id)}`);
    return parseReferral(this.#json(sent));
  }

  /** Creates a referral (the Shared co-sell referral of a conversion). */
  async create(referral: Record<string, unknown>): Promise<WireReferral> {
    const sent = await this.#send("POST", this.referralsUrl, JSON.stringify(referral), { "Content-Type": "application/json" });
    return parseReferral(this.#json(sent));
  }

  /**
   * Applies a JSON Patch with the eTag the change was decided on. A 412 re-reads the record and
   * throws ReferralConflictError carrying it, so the caller re-plans on fresh data.
   */
  async patch(id: string, operations: readonly JsonPatchOperation[], eTag: string): Promise<WireReferral> {
    const url = `${this.referralsUrl}/${encodeURIComponent(id)}`;
    try {
      const sent = await this.#send("PATCH", url, JSON.stringify(operations), {
        "Content-Type": "application/json",
        "If-Match": eTag,
        Prefer: "return=representation",
      });
      if (sent.status === 204 || sent.text.trim() === "") return this.get(id);
      return parseReferral(this.#json(sent));
    } catch (error) {
      if (error instanceof PartnerCenterError && error.code === "PC_PRECONDITION_FAILED" && !(error instanceof ReferralConflictError)) {
        const current = await this.get(id);
        this.#log.info({ referralId: id, staleETag: eTag, currentETag: current.eTag, clientRequestId: error.clientRequestId }, "stale eTag; re-read for re-planning");
        throw new ReferralConflictError(error.details as unknown as PartnerCenterErrorContext, current);
      }
      throw error;
    }
  }

  /** The documented sample link used http:// and dropped /engagements: keep only its query. */
  #rebuildNextLink(link: string): string {
    let query: string;
    try {
      query = new URL(link, this.referralsUrl).search;
    } catch {
      query = link.includes("?") ? link.slice(link.indexOf("?")) : "";
    }
    return `${this.referralsUrl}${query}`;
  }

  #json<T>(sent: Sent): T {
    try {
      return JSON.parse(sent.text) as T;
    } catch (error) {
      throw new PartnerCenterError("PC_UNEXPECTED_RESPONSE", { ...sent.context, remoteMessage: "response body is not JSON" }, error);
    }
  }

  async #send(method: string, url: string, body?: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Sent> {
    let refreshed = false;
    for (;;) {
      const clientRequestId = randomUUID();
      const context: PartnerCenterErrorContext = { method, url, clientRequestId };
      const token = await this.#tokens.getToken(refreshed ? { forceRefresh: true } : undefined);
      const started = this.#clock.now().getTime();
      let response: Response;
      try {
        const timeout = AbortSignal.timeout(this.#timeoutMs);
        response = await this.#fetch(url, {
          method,
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: "application/json",
            "client-request-id": clientRequestId,
            ...(this.#correlationId ? { "MS-CorrelationId": this.#correlationId } : {}),
            ...headers,
          },
          ...(body === undefined ? {} : { body }),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (error) {
        if (signal?.aborted) throw error;
        this.#log.warn({ method, url: redactQuery(url), clientRequestId, err: error }, "Partner Center unreachable");
        throw new PartnerCenterError("PC_UNREACHABLE", { ...context, remoteMessage: (error as Error).message }, error);
      }
      const text = await response.text();
      const requestId = response.headers.get("request-id") ?? undefined;
      const sent: Sent = { status: response.status, headers: response.headers, text, context: { ...context, status: response.status, ...(requestId ? { requestId } : {}) } };
      const elapsedMs = this.#clock.now().getTime() - started;
      this.#log.debug({ method, url: redactQuery(url), status: response.status, clientRequestId, requestId, elapsedMs }, "Partner Center call");
      if (response.ok) return sent;
      if (response.status === 401 && !refreshed) {
        refreshed = true;
        this.#log.info({ clientRequestId }, "token refused; retrying once with a fresh one");
        continue;
      }
      const remote = readErrorBody(text);
      const wait = retryAfterMs(response.headers.get("retry-after"), remote.message, this.#clock.now());
      const code = codeFor(response.status, remote.code);
      const error = new PartnerCenterError(code, {
        ...sent.context,
        ...(remote.code ? { remoteCode: remote.code } : {}),
        ...(remote.message ? { remoteMessage: remote.message } : {}),
        ...(remote.target ? { target: remote.target } : {}),
        ...(wait === undefined ? {} : { retryAfterMs: wait }),
      });
      this.#log.warn({ method, url: redactQuery(url), status: response.status, code, clientRequestId, requestId, retryAfterMs: wait }, "Partner Center call failed");
      throw error;
    }
  }
}

function redactQuery(url: string): string {
  return url.replace(/(\$skiptoken=)[^&]+/i, "$1…");
}
