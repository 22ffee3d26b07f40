import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { Metrics } from "./metrics.js";
import type { LeadView, StatusSnapshot } from "./status-model.js";
import { renderLeadPage, renderStatusPage } from "./status-page.js";
import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import { closeServer, listenLocal } from "../shared/local-server.js";

/** Partner Center's pointer-only webhooks are a few hundred bytes; anything past this is refused unread. */
export const MAX_WEBHOOK_BYTES = 64 * 1024;

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface HttpServerOptions {
  logger: Logger;
  /** Readiness checks, run on each /readyz. */
  readiness: () => Promise<ReadinessCheck[]>;
  /** A Partner Center webhook for an account (undefined: the path named none). */
  webhook: (account: string | undefined, headers: IncomingMessage["headers"], body: Buffer) => Promise<WebhookAnswer>;
  /** The status page, /status.json and /metrics read this. */
  status?: () => Promise<StatusSnapshot>;
  lead?: (id: number) => Promise<LeadView | undefined>;
  metrics?: Metrics;
  /** Who may read the status page and metrics (health probes and webhooks stay open). */
  auth?: HttpAuth;
}

export type HttpAuth = { mode: "bearer"; token: string } | { mode: "basic"; username: string; password: string };

/**
 * The daemon's HTTP side: the Partner Center webhook receiver, `/healthz` (the process answers),
 * `/readyz` (it can do its work), the status page (`/`, `/leads/<id>`, `/status.json`) and
 * `/metrics`. Read-only apart from the webhook, which only triggers a pull. The status page and
 * metrics sit behind the configured auth; probes and the webhook (signed) do not.
 */
export class HttpServer {
  readonly #options: HttpServerOptions;
  readonly #log: Logger;
  #server: Server | undefined;
  #url = "";

  constructor(options: HttpServerOptions) {
    this.#options = options;
    this.#log = componentLogger(options.logger, "http");
  }

  get url(): string {
    return this.#url;
  }

  async listen(host: string, port: number): Promise<string> {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#url = await listenLocal(this.#server, { host, port });
    this.#log.info({ url: this.#url }, "HTTP server listening (webhook, /healthz, /readyz)");
    return this.#url;
  }

  async close(): Promise<void> {
    await closeServer(this.#server);
    this.#server = undefined;
  }

  #authorized(req: IncomingMessage): boolean {
    const auth = this.#options.auth;
    if (!auth) return true;
    const header = String(req.headers.authorization ?? "");
    if (auth.mode === "bearer") {
      const token = /^Bearer\s+(.+)$/i.exec(header)?.[1];
      return token !== undefined && same(token, auth.token);
    }
    const basic = /^Basic\s+(.+)$/i.exec(header)?.[1];
    if (!basic) return false;
    const decoded = Buffer.from(basic, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon > 0 && same(decoded.slice(0, colon), auth.username) && same(decoded.slice(colon + 1), auth.password);
  }

  #challenge(res: ServerResponse): void {
    const scheme = this.#options.auth?.mode === "basic" ? 'Basic realm="cosell-sync", charset="UTF-8"' : 'Bearer realm="cosell-sync"';
    send(res, 401, { error: "HTTP_UNAUTHORIZED", message: "The status page and metrics need the credentials in http.auth of the daemon's config." }, { "WWW-Authenticate": scheme });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://local");
      const webhook = /^\/webhooks\/partner-center(?:\/([a-z0-9-]+))?\/?$/.exec(url.pathname);
      if (webhook) {
        if (req.method !== "POST") return send(res, 405, { error: "METHOD_NOT_ALLOWED", message: "POST webhooks here." }, { Allow: "POST" });
        const body = await readBody(req, MAX_WEBHOOK_BYTES);
        if (!body) return send(res, 413, { error: "WEBHOOK_TOO_LARGE", message: `Webhook bodies are at most ${MAX_WEBHOOK_BYTES} bytes.` });
        const answer = await this.#options.webhook(webhook[1], req.headers, body);
        return send(res, answer.status, answer.body);
      }
      if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, { error: "METHOD_NOT_ALLOWED", message: "Only GET is served here." }, { Allow: "GET, HEAD" });
      if (url.pathname === "/healthz") return send(res, 200, { status: "ok" });
      if (url.pathname === "/readyz") {
        const checks = await this.#options.readiness();
        const ready = checks.every((check) => check.ok);
        const failed = checks.filter((check) => !check.ok).map((check) => check.name);
        return send(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready", ...(failed.length > 0 ? { failed } : {}), checks });
      }
      const status = this.#options.status;
      const guarded = ["/", "/status.json", "/metrics"].includes(url.pathname) || /^\/leads\/\d+\/?$/.test(url.pathname);
      if (guarded && !this.#authorized(req)) return this.#challenge(res);
      if (status && url.pathname === "/") return html(res, 200, renderStatusPage(await status()));
      if (status && url.pathname === "/status.json") return send(res, 200, await status());
      if (status && this.#options.metrics && url.pathname === "/metrics") {
        const text = await this.#options.metrics.render(await status());
        res.writeHead(200, { "Content-Type": this.#options.metrics.contentType, "Cache-Control": "no-store" });
        res.end(text);
        return;
      }
      const leadPage = /^\/leads\/(\d+)\/?$/.exec(url.pathname);
      if (leadPage && this.#options.lead) {
        const lead = await this.#options.lead(Number(leadPage[1]));
        if (!lead) return html(res, 404, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No such lead</title></head><body><p>No lead ${Number(leadPage[1])} in the store. <a href="/">Back to the status page</a>.</p></body></html>`);
        return html(res, 200, renderLeadPage(lead));
      }
      return send(res, 404, { error: "NOT_FOUND", message: "Nothing here; try /, /metrics, /healthz, /readyz or POST /webhooks/partner-center/<account>." });
    } catch (error) {
      this.#log.error({ err: error, path: req.url }, "HTTP request failed");
      if (!res.headersSent) send(res, 500, { error: "HTTP_INTERNAL_ERROR", message: "The request failed; see the daemon's log." });
      else res.end();
    }
  }
}

/** Constant-time comparison of two secrets (hashed first, so lengths leak nothing either). */
function same(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'" });
  res.end(body);
}

/** The body, or undefined past `limit` bytes (reading stops there). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", ...headers });
  res.end(text);
}
