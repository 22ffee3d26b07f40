import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
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
}

/**
 * The daemon's HTTP side: the Partner Center webhook receiver, `/healthz` (the process answers) and
 * `/readyz` (it can do its work). Read-only apart from the webhook, which only triggers a pull.
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
        return send(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready", checks });
      }
      return send(res, 404, { error: "NOT_FOUND", message: "Nothing here; try /healthz, /readyz or POST /webhooks/partner-center/<account>." });
    } catch (error) {
      this.#log.error({ err: error, path: req.url }, "HTTP request failed");
      if (!res.headersSent) send(res, 500, { error: "INTERNAL", message: "The request failed; see the daemon's log." });
      else res.end();
    }
  }
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
