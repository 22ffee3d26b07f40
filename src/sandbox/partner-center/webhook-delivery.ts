import type { KeyObject } from "node:crypto";
import { createPrivateKey, sign } from "node:crypto";
import type { Logger } from "../../log/logger.js";
import type { WireReferral } from "../../partner-center/wire.js";
import type { Clock } from "../../shared/clock.js";
import type { SeededRandom } from "../../shared/seeded-random.js";
import type { FaultSettings } from "./faults.js";
import type { ReferralEventName } from "./referral-store.js";

export const WEBHOOK_EVENTS = ["referral-created", "referral-updated", "related-referral-created", "related-referral-updated"] as const;
export const MAX_ATTEMPTS = 10;

export interface Registration {
  WebhookUrl: string;
  WebhookEvents: string[];
  SignatureTokenToMsSignatureHeader: boolean;
}

interface Delivery {
  url: string;
  body: string;
  attempts: number;
  nextAt: number;
  msSignatureHeader: boolean;
}

/**
 * Partner Center's webhook side: one URL per event per account (a new registration silently
 * replaces the old one), pointer-only payloads signed RSA-SHA256 with a certificate served at a URL,
 * and up to 10 attempts before the event is dropped for good.
 */
export class WebhookDelivery {
  #registration: Registration | undefined;
  readonly #queue: Delivery[] = [];
  readonly stats = { queued: 0, delivered: 0, failedAttempts: 0, dropped: 0, droppedByFault: 0 };
  /** Parsed once: parsing the PEM for every delivery took as long as the signature itself. */
  readonly #signingKey: KeyObject;

  constructor(
    private readonly options: {
      clock: Clock;
      random: SeededRandom;
      faults: () => FaultSettings;
      signingKeyPem: string;
      certificateUrl: () => string;
      resourceBase: () => string;
      /** Waits between attempts, in ms; the last one repeats. */
      retryDelaysMs?: number[];
      logger?: Logger;
    },
  ) {
    this.#signingKey = createPrivateKey(options.signingKeyPem);
  }

  get registration(): Registration | undefined {
    return this.#registration ? structuredClone(this.#registration) : undefined;
  }

  register(registration: Registration): Registration {
    this.#registration = structuredClone(registration);
    return structuredClone(registration);
  }

  unregister(): void {
    this.#registration = undefined;
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Queues the event for delivery (or drops it, when the fault knob says so). */
  enqueue(event: ReferralEventName, referral: WireReferral): void {
    const registration = this.#registration;
    if (!registration || !registration.WebhookEvents.includes(event)) return;
    if (this.options.random.chance(this.options.faults().webhookDropRate)) {
      this.stats.droppedByFault += 1;
      return;
    }
    const body = JSON.stringify({
      EventName: event,
      ResourceUri: `${this.options.resourceBase()}/referrals/${referral.id}`,
      ResourceName: "referral",
      ResourceChangeUtcDate: this.options.clock.now().toISOString(),
    });
    this.#queue.push({ url: registration.WebhookUrl, body, attempts: 0, nextAt: this.options.clock.now().getTime(), msSignatureHeader: registration.SignatureTokenToMsSignatureHeader });
    this.stats.queued += 1;
  }

  /** Attempts every delivery that is due on the sandbox clock. */
  async deliverDue(): Promise<void> {
    const now = this.options.clock.now().getTime();
    const due = this.#queue.filter((d) => d.nextAt <= now);
    await Promise.all(due.map((delivery) => this.#attempt(delivery)));
  }

  async #attempt(delivery: Delivery): Promise<void> {
    const signature = sign("sha256", Buffer.from(delivery.body), this.#signingKey).toString("base64");
    let ok: boolean;
    try {
      const response = await fetch(delivery.url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          ...(delivery.msSignatureHeader ? { "x-ms-signature": signature } : { Authorization: `Signature ${signature}` }),
          "X-MS-Certificate-Url": this.options.certificateUrl(),
          "X-MS-Signature-Algorithm": "rsa-sha256",
        },
        body: delivery.body,
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      ok = response.ok;
    } catch {
      ok = false;
    }
    delivery.attempts += 1;
    if (ok) {
      this.#remove(delivery);
      this.stats.delivered += 1;
      return;
    }
    this.stats.failedAttempts += 1;
    if (delivery.attempts >= MAX_ATTEMPTS) {
      this.#remove(delivery);
      this.stats.dropped += 1;
      this.options.logger?.warn({ url: delivery.url, attempts: delivery.attempts }, "sandbox webhook dropped after 10 attempts");
      return;
    }
    const delays = this.options.retryDelaysMs ?? [5_000, 15_000, 60_000, 300_000];
    delivery.nextAt = this.options.clock.now().getTime() + (delays[Math.min(delivery.attempts - 1, delays.length - 1)] ?? 60_000);
  }

  #remove(delivery: Delivery): void {
    const index = this.#queue.indexOf(delivery);
    if (index >= 0) this.#queue.splice(index, 1);
  }
}
