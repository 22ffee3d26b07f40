import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import type { PartnerCenterErrorContext } from "./errors.js";
import { PartnerCenterError, ReferralConflictError } from "./errors.js";
import type { PartnerCenterHttpOptions } from "./http.js";
import { PartnerCenterHttp } from "./http.js";
import type { JsonPatchOperation, ReferralPage, WireReferral } from "./wire.js";
import { parseReferral } from "./adapter.js";

export const DEFAULT_BASE_URL = "https://api.partner.microsoft.com/v1.0/engagements";
export const MAX_PAGE_SIZE = 100;

export interface ReferralClientOptions extends PartnerCenterHttpOptions {
  /** The engagements base; the client appends `/referrals`. */
  baseUrl: string;
}

export interface ListChangedOptions {
  /** Records updated at or after this time; everything when absent. */
  since?: Date;
  pageSize?: number;
  /** Extra OData conditions joined with `and`, e.g. `direction eq 'Incoming'`. */
  filter?: string;
  signal?: AbortSignal;
}

/**
 * The referral API client: the only code that speaks Partner Center's wire protocol. It retries
 * nothing but a refused token (once, with a fresh one); the outbox owns every other retry.
 */
export class ReferralClient {
  readonly #http: PartnerCenterHttp;
  readonly #log: Logger;
  readonly #referralsUrl: string;

  constructor(options: ReferralClientOptions) {
    this.#log = componentLogger(options.logger, "partner-center");
    this.#http = new PartnerCenterHttp({ ...options, logger: this.#log });
    this.#referralsUrl = `${options.baseUrl.replace(/\/+$/, "")}/referrals`;
  }

  /** Partner Center's clock minus ours, from the last answer (see PartnerCenterHttp). */
  /** Calls made and how many were throttled or failed, since start (for /metrics). */
  get callStats(): { requests: number; throttled: number; failed: number } {
    return { ...this.#http.stats };
  }

  get clockSkewMs(): number | undefined {
    return this.#http.clockSkewMs;
  }

  get referralsUrl(): string {
    return this.#referralsUrl;
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
      const sent = await this.#http.send("GET", next, undefined, {}, options.signal);
      const body = this.#http.json<{ value?: unknown[]; items?: unknown[]; "@odata.nextLink"?: string; continuationToken?: string }>(sent);
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
    const sent = await this.#http.send("GET", `${this.referralsUrl}/${encodeURIComponent(id)}`);
    return parseReferral(this.#http.json(sent));
  }

  /** Creates a referral (the Shared co-sell referral of a conversion). */
  async create(referral: Record<string, unknown>): Promise<WireReferral> {
    const sent = await this.#http.send("POST", this.referralsUrl, JSON.stringify(referral), { "Content-Type": "application/json" });
    return parseReferral(this.#http.json(sent));
  }

  /**
   * Applies a JSON Patch with the eTag the change was decided on. A 412 re-reads the record and
   * throws ReferralConflictError carrying it, so the caller re-plans on fresh data.
   */
  async patch(id: string, operations: readonly JsonPatchOperation[], eTag: string): Promise<WireReferral> {
    const url = `${this.referralsUrl}/${encodeURIComponent(id)}`;
    try {
      const sent = await this.#http.send("PATCH", url, JSON.stringify(operations), {
        "Content-Type": "application/json",
        "If-Match": eTag,
        Prefer: "return=representation",
      });
      if (sent.status === 204 || sent.text.trim() === "") return this.get(id);
      return parseReferral(this.#http.json(sent));
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
}
