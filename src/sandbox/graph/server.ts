import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { ServiceHttpError } from "../../shared/http-errors.js";
import { createServer } from "node:http";
import { createSandboxPki } from "../../auth/sandbox/pki.js";
import type { SandboxApp } from "../../auth/sandbox/entra-sandbox.js";
import { EntraSandbox } from "../../auth/sandbox/entra-sandbox.js";
import type { Clock } from "../../shared/clock.js";
import { systemClock } from "../../shared/clock.js";
import { closeServer, listenLocal } from "../../shared/local-server.js";
import { SeededRandom } from "../../shared/seeded-random.js";

export const GRAPH_AUDIENCE = "https://graph.microsoft.com";

/** One mail Graph accepted, as the recipient would see it. */
export interface SentMail {
  from: string;
  to: string[];
  subject: string;
  contentType: string;
  content: string;
  at: string;
}

export interface GraphSandboxOptions {
  clock?: Clock;
  host?: string;
  seed?: string;
  /** Mailboxes that exist, with their time zone (Graph's Windows names or IANA). Others are 404. */
  mailboxes?: Record<string, string>;
  /** Share of calls answered 429 ApplicationThrottled with Retry-After. */
  throttleRate?: number;
}


/**
 * Microsoft Graph's mail surface, enough for reminders: an Entra ID (client credentials, audience
 * graph.microsoft.com), `POST /v1.0/users/{id}/sendMail` validated as Graph does (202, empty body),
 * `GET /v1.0/users/{id}/mailboxSettings`, Graph's error envelope, throttling. It keeps what it was
 * sent in `mailbox`, so the demo and tests can read the mail.
 */
export class GraphSandbox {
  readonly entra: EntraSandbox;
  readonly app: SandboxApp;
  readonly mailbox: SentMail[] = [];
  readonly stats = { requests: 0, throttled: 0 };
  throttleRate: number;
  readonly #mailboxes: Map<string, string>;
  readonly #clock: Clock;
  readonly #random: SeededRandom;
  #server: Server | undefined;
  #url = "";

  private constructor(options: GraphSandboxOptions, entra: EntraSandbox) {
    this.entra = entra;
    this.app = entra.registerApp();
    this.#clock = options.clock ?? systemClock;
    this.#random = new SeededRandom(options.seed ?? "graph");
    this.throttleRate = options.throttleRate ?? 0;
    this.#mailboxes = new Map(Object.entries(options.mailboxes ?? {}).map(([address, zone]) => [address.toLowerCase(), zone]));
  }

  static async start(options: GraphSandboxOptions = {}): Promise<GraphSandbox> {
    const entra = new EntraSandbox({ clock: systemClock, random: new SeededRandom(`${options.seed ?? "graph"}-entra`), pki: createSandboxPki() });
    await entra.start();
    const sandbox = new GraphSandbox(options, entra);
    sandbox.#server = createServer((req, res) => void sandbox.#handle(req, res));
    sandbox.#url = await listenLocal(sandbox.#server, { host: options.host ?? "127.0.0.1" });
    return sandbox;
  }

  /** The Graph base URL with its version, e.g. http://127.0.0.1:4321/v1.0. */
  get baseUrl(): string {
    return `${this.#url}/v1.0`;
  }

  /** Adds a mailbox (a sender or a recipient with a time zone). */
  addMailbox(address: string, timeZone = "UTC"): void {
    this.#mailboxes.set(address.toLowerCase(), timeZone);
  }

  async close(): Promise<void> {
    await closeServer(this.#server);
    await this.entra.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.stats.requests += 1;
      const token = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ""))?.[1];
      const grant = token ? this.entra.validate(token, GRAPH_AUDIENCE) : undefined;
      if (!grant) throw new ServiceHttpError(401, "InvalidAuthenticationToken", "Access token is empty or invalid.");
      if (this.#random.chance(this.throttleRate)) {
        this.stats.throttled += 1;
        throw new ServiceHttpError(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.", { "Retry-After": "2" });
      }
      const url = new URL(req.url ?? "/", "http://graph");
      const send = /^\/v1\.0\/users\/([^/]+)\/sendMail$/.exec(url.pathname);
      if (send && req.method === "POST") {
        this.#sendMail(decodeURIComponent(send[1] as string), await readJson(req));
        res.writeHead(202);
        res.end();
        return;
      }
      const settings = /^\/v1\.0\/users\/([^/]+)\/mailboxSettings$/.exec(url.pathname);
      if (settings && req.method === "GET") {
        const zone = this.#mailbox(decodeURIComponent(settings[1] as string));
        reply(res, 200, { "@odata.context": `${this.baseUrl}/$metadata#users('${settings[1]}')/mailboxSettings(timeZone)`, timeZone: zone });
        return;
      }
      throw new ServiceHttpError(400, "BadRequest", `Resource not found for the segment '${url.pathname.split("/").pop() ?? ""}'.`);
    } catch (error) {
      const known = error instanceof ServiceHttpError ? error : new ServiceHttpError(500, "InternalServerError", (error as Error).message);
      reply(res, known.status, { error: { code: known.code, message: known.message, innerError: { date: this.#clock.now().toISOString(), "request-id": this.#random.uuid() } } }, known.headers);
    }
  }

  #mailbox(address: string): string {
    const zone = this.#mailboxes.get(address.toLowerCase());
    if (zone === undefined) throw new ServiceHttpError(404, "ErrorInvalidUser", `The requested user '${address}' is invalid.`);
    return zone;
  }

  #sendMail(sender: string, body: unknown): void {
    this.#mailbox(sender);
    const message = (body as { message?: Record<string, unknown> } | undefined)?.message;
    if (!message) throw new ServiceHttpError(400, "ErrorInvalidRequest", "The message is missing.");
    const recipients = ((message.toRecipients as Array<{ emailAddress?: { address?: string } }> | undefined) ?? []).map((r) => r.emailAddress?.address ?? "");
    if (recipients.length === 0) throw new ServiceHttpError(400, "ErrorInvalidRecipients", "At least one recipient is not valid., Recipient '' is not resolved. All recipients must be resolved before a message can be submitted.");
    if (recipients.some((address) => !/^[^@\s]+@[^@\s]+$/.test(address))) throw new ServiceHttpError(400, "ErrorInvalidRecipients", "At least one recipient is not valid.");
    const content = message.body as { contentType?: string; content?: string } | undefined;
    if (content?.contentType && !["text", "html"].includes(content.contentType.toLowerCase())) throw new ServiceHttpError(400, "RequestBodyRead", `Cannot convert the literal '${content.contentType}' to the expected type 'microsoft.graph.bodyType'.`);
    this.mailbox.push({ from: sender, to: recipients, subject: String(message.subject ?? ""), contentType: content?.contentType ?? "text", content: content?.content ?? "", at: this.#clock.now().toISOString() });
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    throw new ServiceHttpError(400, "BadRequest", "Unable to read JSON request payload.");
  }
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}
