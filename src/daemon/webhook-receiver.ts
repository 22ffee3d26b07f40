import type { IncomingMessage } from "node:http";
import type { WebhookAnswer } from "../http/server.js";
import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import type { WebhookVerifier } from "../partner-center/webhook-verifier.js";
import { WebhookRefusedError } from "../partner-center/webhook-verifier.js";

export interface WebhookReceiverOptions {
  verifiers: Map<string, WebhookVerifier>;
  /** Fetches and stores the named referral (the daemon's hint). */
  hint: (account: string, referralId: string) => Promise<unknown>;
  logger: Logger;
}

/**
 * Partner Center webhook → verified hint → that referral pulled at once. The answer goes back
 * before the pull runs (Partner Center retries slow endpoints); a failed pull is left to the next
 * poll. Refusals say why in the log and the body, and trigger nothing.
 */
export class WebhookReceiver {
  readonly #options: WebhookReceiverOptions;
  readonly #log: Logger;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly counts = { accepted: 0, refused: 0 };

  constructor(options: WebhookReceiverOptions) {
    this.#options = options;
    this.#log = componentLogger(options.logger, "webhook");
  }

  async receive(named: string | undefined, headers: IncomingMessage["headers"], body: Buffer): Promise<WebhookAnswer> {
    const accounts = [...this.#options.verifiers.keys()];
    const account = named ?? (accounts.length === 1 ? accounts[0] : undefined);
    const verifier = account ? this.#options.verifiers.get(account) : undefined;
    if (!account || !verifier) {
      this.counts.refused += 1;
      return { status: 404, body: { error: "WEBHOOK_UNKNOWN_ACCOUNT", message: `Post to /webhooks/partner-center/<account>; this daemon serves ${accounts.join(", ") || "no account"}.` } };
    }
    let verified;
    try {
      verified = await verifier.verify(headers, body);
    } catch (error) {
      if (!(error instanceof WebhookRefusedError)) throw error;
      this.counts.refused += 1;
      this.#log.warn({ account, code: error.code, reason: error.message }, "webhook refused");
      return { status: 401, body: { error: error.code, message: error.message } };
    }
    this.counts.accepted += 1;
    this.#log.info({ account, event: verified.event, referralId: verified.referralId }, "webhook hint received");
    const run = this.#options
      .hint(account, verified.referralId)
      .catch((error: unknown) => this.#log.warn({ err: error, account, referralId: verified.referralId }, "pull after a webhook failed; the next poll picks the referral up"))
      .finally(() => this.#inFlight.delete(run));
    this.#inFlight.add(run);
    return { status: 202, body: { accepted: true, referralId: verified.referralId } };
  }

  /** Waits for the pulls webhooks started (a stop lets them commit; tests wait on them instead of sleeping). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }
}
