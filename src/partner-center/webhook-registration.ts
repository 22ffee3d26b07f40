import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import { CosellError } from "../shared/errors.js";
import { PartnerCenterError } from "./errors.js";
import type { PartnerCenterHttpOptions } from "./http.js";
import { PartnerCenterHttp } from "./http.js";

export const DEFAULT_WEBHOOK_API = "https://api.partnercenter.microsoft.com/webhooks/v1";
/** Webhook registration takes a token for this audience, not the referral API's. */
export const WEBHOOK_AUDIENCE = "https://api.partnercenter.microsoft.com";
export const REFERRAL_EVENTS = ["referral-created", "referral-updated", "related-referral-created", "related-referral-updated"];

export interface WebhookRegistration {
  webhookUrl: string;
  events: string[];
  signatureInHeader: boolean;
}

export interface RegistrationClientOptions extends PartnerCenterHttpOptions {
  /** e.g. https://api.partnercenter.microsoft.com/webhooks/v1 */
  baseUrl: string;
}

export class WebhookRegistrationClient {
  readonly #http: PartnerCenterHttp;
  readonly #url: string;

  constructor(options: RegistrationClientOptions) {
    this.#http = new PartnerCenterHttp({ ...options, logger: componentLogger(options.logger, "partner-center-webhooks") });
    this.#url = `${options.baseUrl.replace(/\/+$/, "")}/registration`;
  }

  /** The account's current registration, or undefined when there is none. */
  async get(): Promise<WebhookRegistration | undefined> {
    try {
      return fromWire(this.#http.json(await this.#http.send("GET", this.#url)));
    } catch (error) {
      if (error instanceof PartnerCenterError && error.code === "PC_NOT_FOUND") return undefined;
      throw error;
    }
  }

  async put(registration: WebhookRegistration, exists: boolean): Promise<WebhookRegistration> {
    const body = JSON.stringify({ WebhookUrl: registration.webhookUrl, WebhookEvents: registration.events, SignatureTokenToMsSignatureHeader: registration.signatureInHeader });
    const sent = await this.#http.send(exists ? "PUT" : "POST", this.#url, body, { "Content-Type": "application/json" });
    return fromWire(this.#http.json(sent));
  }
}

function fromWire(body: { WebhookUrl?: unknown; WebhookEvents?: unknown; SignatureTokenToMsSignatureHeader?: unknown }): WebhookRegistration {
  return {
    webhookUrl: typeof body.WebhookUrl === "string" ? body.WebhookUrl : "",
    events: Array.isArray(body.WebhookEvents) ? body.WebhookEvents.filter((e): e is string => typeof e === "string") : [],
    signatureInHeader: body.SignatureTokenToMsSignatureHeader === true,
  };
}

export type RegistrationOutcome =
  | { action: "created"; registration: WebhookRegistration }
  | { action: "unchanged"; registration: WebhookRegistration }
  | { action: "replaced"; previous: WebhookRegistration; registration: WebhookRegistration };

/**
 * Registers our webhook. Partner Center keeps one URL per event per account and silently replaces
 * another tool's hook, so an existing registration pointing elsewhere is shown and left alone unless
 * `force` is given.
 */
export async function registerWebhook(
  client: WebhookRegistrationClient,
  desired: WebhookRegistration,
  options: { force?: boolean; logger?: Logger } = {},
): Promise<RegistrationOutcome> {
  const existing = await client.get();
  if (existing && sameRegistration(existing, desired)) return { action: "unchanged", registration: existing };
  if (existing && existing.webhookUrl !== desired.webhookUrl && options.force !== true) {
    throw new CosellError(
      "WEBHOOK_REGISTERED_ELSEWHERE",
      `This Partner Center account already sends webhooks to ${existing.webhookUrl} (events: ${existing.events.join(", ") || "none"}). Partner Center allows one URL per event, so registering would cut that tool off. Re-run with --force to replace it.`,
      { details: { existing } },
    );
  }
  const registration = await client.put(desired, existing !== undefined);
  options.logger?.info({ webhookUrl: registration.webhookUrl, events: registration.events, replaced: existing?.webhookUrl }, "webhook registered");
  return existing ? { action: "replaced", previous: existing, registration } : { action: "created", registration };
}

function sameRegistration(a: WebhookRegistration, b: WebhookRegistration): boolean {
  return a.webhookUrl === b.webhookUrl && a.signatureInHeader === b.signatureInHeader && [...a.events].sort().join() === [...b.events].sort().join();
}
