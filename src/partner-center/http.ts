import { randomUUID } from "node:crypto";
import type { TokenProvider } from "../auth/token-provider.js";
import type { Logger } from "../log/logger.js";
import type { Clock } from "../shared/clock.js";
import { systemClock } from "../shared/clock.js";
import type { PartnerCenterErrorContext } from "./errors.js";
import { codeFor, PartnerCenterError, readErrorBody, retryAfterMs } from "./errors.js";

export interface PartnerCenterHttpOptions {
  tokens: TokenProvider;
  logger: Logger;
  clock?: Clock;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Sent as MS-CorrelationId so one sync run can be traced across calls. */
  correlationId?: string;
  fetch?: typeof fetch;
}

export interface Sent {
  status: number;
  headers: Headers;
  text: string;
  context: PartnerCenterErrorContext;
}

/**
 * One Partner Center call: bearer token, `client-request-id` (new per call, in every log line),
 * `MS-CorrelationId`, one retry with a fresh token after a 401, and every failure mapped to a typed
 * PartnerCenterError. Nothing else is retried here: the outbox owns retries.
 */
export class PartnerCenterHttp {
  /** Calls made, and how many Partner Center throttled (429) or failed otherwise, since start. */
  readonly stats = { requests: 0, throttled: 0, failed: 0 };
  readonly #tokens: TokenProvider;
  readonly #log: Logger;
  readonly #clock: Clock;
  #skewMs: number | undefined;

  /**
   * Partner Center's clock minus this machine's, from the last answer's `Date` header (1 s
   * resolution). Deadlines come from Partner Center's timestamps, so a skewed local clock would fire
   * reminders and local closes at the wrong time; /readyz reports it. Measured against the real
   * system clock, whatever clock the daemon's business time runs on.
   */
  get clockSkewMs(): number | undefined {
    return this.#skewMs;
  }

  #observeDate(header: string | null): void {
    const remote = header ? Date.parse(header) : Number.NaN;
    if (!Number.isNaN(remote)) this.#skewMs = remote - systemClock.now().getTime();
  }
  readonly #timeoutMs: number;
  readonly #correlationId: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: PartnerCenterHttpOptions) {
    this.#tokens = options.tokens;
    this.#log = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#correlationId = options.correlationId;
    this.#fetch = options.fetch ?? fetch;
  }

  json<T>(sent: Sent): T {
    try {
      return JSON.parse(sent.text) as T;
    } catch (error) {
      throw new PartnerCenterError("PC_UNEXPECTED_RESPONSE", { ...sent.context, remoteMessage: "response body is not JSON" }, error);
    }
  }

  async send(method: string, url: string, body?: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Sent> {
    let refreshed = false;
    for (;;) {
      const clientRequestId = randomUUID();
      const context: PartnerCenterErrorContext = { method, url, clientRequestId };
      const token = await this.#tokens.getToken(refreshed ? { forceRefresh: true } : undefined);
      const started = this.#clock.now().getTime();
      this.stats.requests += 1;
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
        this.stats.failed += 1;
        this.#log.warn({ method, url: redactQuery(url), clientRequestId, err: error }, "Partner Center unreachable");
        throw new PartnerCenterError("PC_UNREACHABLE", { ...context, remoteMessage: (error as Error).message }, error);
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        // The connection died mid-answer (reset, truncated body): the request may have been applied;
        // retrying is safe because every write carries its eTag or is idempotent.
        if (signal?.aborted) throw error;
        this.stats.failed += 1;
        this.#log.warn({ method, url: redactQuery(url), status: response.status, clientRequestId, err: error }, "Partner Center answer cut short");
        throw new PartnerCenterError("PC_UNREACHABLE", { ...context, status: response.status, remoteMessage: `the answer was cut short: ${(error as Error).message}` }, error);
      }
      this.#observeDate(response.headers.get("date"));
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
      if (response.status === 429) this.stats.throttled += 1;
      else this.stats.failed += 1;
      const remote = readErrorBody(text);
      const wait = retryAfterMs(response.headers.get("retry-after"), remote.message, this.#clock.now());
      const code = codeFor(response.status, remote.code);
      this.#log.warn({ method, url: redactQuery(url), status: response.status, code, clientRequestId, requestId, retryAfterMs: wait }, "Partner Center call failed");
      throw new PartnerCenterError(code, {
        ...sent.context,
        ...(remote.code ? { remoteCode: remote.code } : {}),
        ...(remote.message ? { remoteMessage: remote.message } : {}),
        ...(remote.target ? { target: remote.target } : {}),
        ...(wait === undefined ? {} : { retryAfterMs: wait }),
      });
    }
  }
}

function redactQuery(url: string): string {
  return url.replace(/(\$skiptoken=)[^&]+/i, "$1…");
}
