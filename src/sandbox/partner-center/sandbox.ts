import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { SandboxApp, SandboxUser } from "../../auth/sandbox/entra-sandbox.js";
import { EntraSandbox } from "../../auth/sandbox/entra-sandbox.js";
import type { IssuedCertificate, SandboxPki } from "../../auth/sandbox/pki.js";
import { createSandboxPki } from "../../auth/sandbox/pki.js";
import type { Logger } from "../../log/logger.js";
import type { WireReferral } from "../../partner-center/wire.js";
import type { Clock } from "../../shared/clock.js";
import { systemClock } from "../../shared/clock.js";
import { SeededRandom } from "../../shared/seeded-random.js";
import type { FaultSettings } from "./faults.js";
import { faultFor, NO_FAULTS } from "./faults.js";
import { generateLeads } from "./generator.js";
import { ReferralStore } from "./referral-store.js";
import { invalidRequest, SandboxHttpError } from "./sandbox-error.js";
import type { Registration } from "./webhook-delivery.js";
import { WEBHOOK_EVENTS, WebhookDelivery } from "./webhook-delivery.js";
import { closeServer, listenLocal } from "../../shared/local-server.js";

export const REFERRAL_AUDIENCE = "https://api.partner.microsoft.com";
export const WEBHOOK_AUDIENCE = "https://api.partnercenter.microsoft.com";

export interface PartnerCenterSandboxOptions {
  clock?: Clock;
  /** The clock tokens are issued and checked on (real time when the sandbox clock runs fast). */
  authClock?: Clock;
  seed?: number | string;
  /** Leads generated at start. */
  leads?: number;
  host?: string;
  port?: number;
  faults?: Partial<FaultSettings>;
  /** The real API refuses app-only tokens; the sandbox accepts them unless this is false. */
  allowAppOnly?: boolean;
  /** Answer `@odata.nextLink` the way the documented sample does (http://, no /engagements). */
  quirkyNextLink?: boolean;
  /** Deliver webhooks on a real-time timer (for `npm start`); tests call deliverWebhooks(). */
  autoDeliverWebhooks?: boolean;
  webhookRetryDelaysMs?: number[];
  /** Share an Entra sandbox (and its PKI) with other sandboxes. */
  entra?: EntraSandbox;
  pki?: SandboxPki;
  logger?: Logger;
}

/**
 * A local Partner Center: the referral API, webhook registration and signed delivery, a token
 * issuer, and fault knobs. Loopback only. The real SDK-free client and the daemon point at it.
 */
export class PartnerCenterSandbox {
  readonly referrals: ReferralStore;
  readonly webhooks: WebhookDelivery;
  readonly entra: EntraSandbox;
  readonly app: SandboxApp;
  readonly user: SandboxUser;
  readonly signing: IssuedCertificate;
  readonly faults: FaultSettings;
  /** `listStarts`: list calls that began a listing (no skiptoken), i.e. how many pulls asked. */
  readonly stats = { requests: 0, throttled: 0, failed: 0, unauthorized: 0, listStarts: 0, byRoute: {} as Record<string, number> };
  readonly #options: PartnerCenterSandboxOptions;
  readonly #clock: Clock;
  readonly #random: SeededRandom;
  readonly #ownsEntra: boolean;
  readonly #pki: SandboxPki;
  #server: Server | undefined;
  #timer: NodeJS.Timeout | undefined;
  #url = "";

  private constructor(options: PartnerCenterSandboxOptions, pki: SandboxPki, entra: EntraSandbox, ownsEntra: boolean) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#random = new SeededRandom(options.seed ?? 1);
    this.#pki = pki;
    this.entra = entra;
    this.#ownsEntra = ownsEntra;
    this.faults = { ...NO_FAULTS, ...options.faults };
    this.referrals = new ReferralStore(this.#clock, this.#random);
    this.app = entra.registerApp();
    this.user = entra.registerUser(this.app);
    this.signing = pki.issue({ commonName: "partnercenter-webhooks.sandbox" });
    this.webhooks = new WebhookDelivery({
      clock: this.#clock,
      random: this.#random,
      faults: () => this.faults,
      signingKeyPem: this.signing.keyPem,
      certificateUrl: () => this.certificateUrl,
      resourceBase: () => this.baseUrl,
      ...(options.webhookRetryDelaysMs ? { retryDelaysMs: options.webhookRetryDelaysMs } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.referrals.onChange((event, referral) => this.webhooks.enqueue(event, referral));
  }

  static async start(options: PartnerCenterSandboxOptions = {}): Promise<PartnerCenterSandbox> {
    const pki = options.pki ?? createSandboxPki();
    const clock = options.clock ?? systemClock;
    const entra = options.entra ?? new EntraSandbox({ clock: options.authClock ?? clock, random: new SeededRandom(`${options.seed ?? 1}-entra`), pki, ...(options.host ? { host: options.host } : {}) });
    if (!options.entra) await entra.start();
    const sandbox = new PartnerCenterSandbox(options, pki, entra, !options.entra);
    await sandbox.#listen();
    if (options.leads) sandbox.generate(options.leads);
    if (options.autoDeliverWebhooks) {
      sandbox.#timer = setInterval(() => void sandbox.deliverWebhooks(), 1000);
      sandbox.#timer.unref();
    }
    return sandbox;
  }

  /** http://host:port of the sandbox. */
  get url(): string {
    return this.#url;
  }

  /** What the client's `baseUrl` should be. */
  get baseUrl(): string {
    return `${this.#url}/v1.0/engagements`;
  }

  get webhookApiUrl(): string {
    return `${this.#url}/webhooks/v1`;
  }

  get certificateUrl(): string {
    return `${this.#url}/certs/webhook-signing.pem`;
  }

  get caPem(): string {
    return this.#pki.ca.certPem;
  }

  /** Adds `count` generated Joint Planning leads, received over the last days of the sandbox clock. */
  generate(count: number, options: { acceptedShare?: number; spreadDays?: number; announce?: boolean } = {}): WireReferral[] {
    const leads = generateLeads({
      count,
      seed: `${this.#options.seed ?? 1}-${this.referrals.size}`,
      now: this.#clock.now(),
      idPrefix: "",
      ...(options.acceptedShare === undefined ? {} : { acceptedShare: options.acceptedShare }),
      ...(options.spreadDays === undefined ? {} : { spreadDays: options.spreadDays }),
    });
    this.referrals.insert(leads, { announce: options.announce ?? true });
    return leads;
  }

  async deliverWebhooks(): Promise<void> {
    await this.webhooks.deliverDue();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await closeServer(this.#server);
    this.#server = undefined;
    if (this.#ownsEntra) await this.entra.close();
  }

  async #listen(): Promise<void> {
    const host = this.#options.host ?? "127.0.0.1";
    this.#server = createServer((req, res) => {
      void this.#handle(req, res);
    });
    this.#url = await listenLocal(this.#server, { host, ...(this.#options.port !== undefined ? { port: this.#options.port } : {}) });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const url = new URL(req.url ?? "/", this.#url);
    const path = url.pathname.replace(/\/+$/, "");
    try {
      if (req.method === "GET" && path === "/certs/webhook-signing.pem") {
        res.writeHead(200, { "Content-Type": "application/x-pem-file", "request-id": requestId });
        res.end(`${this.signing.certPem}${this.#pki.ca.certPem}`);
        return;
      }
      const referralMatch = /^\/v1\.0\/engagements\/referrals(?:\/([^/]+))?$/.exec(path);
      const isWebhookApi = path === "/webhooks/v1/registration";
      if (!referralMatch && !isWebhookApi) throw new SandboxHttpError(404, "itemNotFound", `No resource at ${path}.`);

      this.stats.requests += 1;
      const route = `${req.method} ${referralMatch ? (referralMatch[1] ? "/referrals/{id}" : "/referrals") : "/webhooks/v1/registration"}`;
      this.stats.byRoute[route] = (this.stats.byRoute[route] ?? 0) + 1;
      this.#authorize(req, isWebhookApi ? WEBHOOK_AUDIENCE : REFERRAL_AUDIENCE);
      if (this.faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.faults.latencyMs));
      const fault = faultFor(this.faults, this.#random);
      if (fault) throw fault;

      if (isWebhookApi) return await this.#webhookRegistration(req, res, requestId);
      const id = referralMatch?.[1] ? decodeURIComponent(referralMatch[1]) : undefined;
      if (!id && req.method === "GET") return this.#list(url, res, requestId);
      if (!id && req.method === "POST") return this.#json(res, 201, this.referrals.create(await readJson(req)), requestId);
      if (id && req.method === "GET") return this.#json(res, 200, this.referrals.get(id), requestId);
      if (id && req.method === "PATCH") {
        const contentType = req.headers["content-type"] ?? "";
        if (!/application\/(json|json-patch\+json)/.test(contentType)) throw invalidRequest("PATCH needs Content-Type application/json.", "Content-Type");
        const updated = this.referrals.patch(id, await readJson(req), header(req, "if-match"));
        if (/return=representation/.test(header(req, "prefer") ?? "")) return this.#json(res, 200, updated, requestId);
        res.writeHead(204, { ETag: updated.eTag ?? "", "request-id": requestId });
        res.end();
        return;
      }
      if (id && req.method === "PUT") return this.#json(res, 200, this.referrals.replace(id, await readJson(req), header(req, "if-match")), requestId);
      throw new SandboxHttpError(405, "methodNotAllowed", `${req.method} is not allowed on ${path}.`);
    } catch (error) {
      this.#fail(res, error, requestId);
    }
  }

  #authorize(req: IncomingMessage, audience: string): void {
    const match = /^Bearer\s+(.+)$/i.exec(header(req, "authorization") ?? "");
    const grant = match?.[1] ? this.entra.validate(match[1], audience) : undefined;
    if (!grant) {
      this.stats.unauthorized += 1;
      throw new SandboxHttpError(401, "unauthenticated", "The access token is missing, expired, or for another audience.");
    }
    if (grant.kind === "app" && this.#options.allowAppOnly === false) {
      throw new SandboxHttpError(403, "accessDenied", "App-only tokens are not accepted by the referral API; use an app+user token.");
    }
  }

  #list(url: URL, res: ServerResponse, requestId: string): void {
    const params = url.searchParams;
    if (!params.get("$skiptoken")) this.stats.listStarts += 1;
    const result = this.referrals.list({ filter: params.get("$filter"), orderby: params.get("$orderby"), top: params.get("$top"), skiptoken: params.get("$skiptoken") });
    const body: Record<string, unknown> = { value: result.value };
    if (result.skiptoken) {
      const next = new URL(this.#options.quirkyNextLink === false ? `${this.baseUrl}/referrals` : `${this.#url.replace("https:", "http:")}/v1.0/referrals`);
      for (const key of ["$filter", "$orderby", "$top"]) {
        const value = params.get(key);
        if (value !== null) next.searchParams.set(key, value);
      }
      next.searchParams.set("$skiptoken", result.skiptoken);
      body["@odata.nextLink"] = next.toString();
    }
    this.#json(res, 200, body, requestId);
  }

  async #webhookRegistration(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    if (req.method === "GET") {
      const registration = this.webhooks.registration;
      if (!registration) throw new SandboxHttpError(404, "itemNotFound", "No webhook is registered for this account.");
      return this.#json(res, 200, registration, requestId);
    }
    if (req.method === "DELETE") {
      this.webhooks.unregister();
      res.writeHead(204, { "request-id": requestId });
      res.end();
      return;
    }
    if (req.method === "POST" || req.method === "PUT") {
      const body = (await readJson(req)) as Partial<Registration>;
      if (typeof body.WebhookUrl !== "string" || !/^https?:\/\//.test(body.WebhookUrl)) throw invalidRequest("WebhookUrl must be an absolute URL.", "WebhookUrl");
      const events = Array.isArray(body.WebhookEvents) ? body.WebhookEvents.filter((e): e is string => typeof e === "string") : [];
      const unknown = events.filter((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e));
      if (events.length === 0 || unknown.length > 0) throw invalidRequest(`WebhookEvents must name known events${unknown.length ? `; unknown: ${unknown.join(", ")}` : ""}.`, "WebhookEvents");
      const saved = this.webhooks.register({ WebhookUrl: body.WebhookUrl, WebhookEvents: events, SignatureTokenToMsSignatureHeader: body.SignatureTokenToMsSignatureHeader === true });
      return this.#json(res, req.method === "POST" ? 201 : 200, saved, requestId);
    }
    throw new SandboxHttpError(405, "methodNotAllowed", `${req.method} is not allowed on the registration.`);
  }

  #json(res: ServerResponse, status: number, body: unknown, requestId: string): void {
    const text = JSON.stringify(body);
    const eTag = (body as { eTag?: unknown }).eTag;
    res.writeHead(status, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(text),
      "request-id": requestId,
      ...(typeof eTag === "string" ? { ETag: eTag } : {}),
    });
    res.end(text);
  }

  #fail(res: ServerResponse, error: unknown, requestId: string): void {
    const known = error instanceof SandboxHttpError ? error : new SandboxHttpError(500, "internalServerError", (error as Error).message);
    if (known.status === 429) this.stats.throttled += 1;
    else if (known.status >= 500) this.stats.failed += 1;
    const body = (known as SandboxHttpError & { bare?: boolean }).bare ? { statusCode: known.status, message: known.message } : known.body();
    const text = JSON.stringify(body);
    res.writeHead(known.status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), "request-id": requestId, ...known.headers });
    res.end(text);
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw invalidRequest("The request body is not valid JSON.", "body");
  }
}
