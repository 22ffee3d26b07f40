import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer, request } from "node:http";
import { SeededRandom } from "../../src/shared/seeded-random.js";

export const FAULT_KINDS = ["drop", "reset", "stall", "throttle", "error", "truncate"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultProxyOptions {
  /** Share of requests that meet a fault (when not in a burst). */
  rate: number;
  seed: string;
  /** A 429 or 5xx comes in a burst of this many requests. */
  burst?: number;
  stallMs?: number;
}

/**
 * An HTTP proxy between the daemon and one sandbox that breaks things the way networks and busy
 * services do: drops the request unsent, resets the connection after the target acted (the answer
 * is lost), stalls, answers 429 or 503 in bursts, or cuts the body short. Answers that name the
 * target's own address (a token's instance_url, a next-page link) are rewritten to the proxy's, so
 * the client keeps coming through it.
 */
export class FaultProxy {
  readonly injected: Record<FaultKind, number> = { drop: 0, reset: 0, stall: 0, throttle: 0, error: 0, truncate: 0 };
  enabled = true;
  #server: Server | undefined;
  #url = "";
  readonly #target: URL;
  readonly #random: SeededRandom;
  readonly #options: FaultProxyOptions;
  #burst: { kind: FaultKind; left: number } | undefined;

  private constructor(target: string, options: FaultProxyOptions) {
    this.#target = new URL(target);
    this.#options = options;
    this.#random = new SeededRandom(options.seed);
  }

  static async start(target: string, options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(target, options);
    proxy.#server = createServer((req, res) => void proxy.#handle(req, res));
    await new Promise<void>((resolve) => proxy.#server?.listen(0, "127.0.0.1", resolve));
    const address = proxy.#server.address() as { port: number };
    proxy.#url = `http://127.0.0.1:${address.port}`;
    return proxy;
  }

  /** The proxy's origin; use it in place of the target's. */
  get url(): string {
    return this.#url;
  }

  get total(): number {
    return Object.values(this.injected).reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }

  #pick(): FaultKind | undefined {
    if (!this.enabled) return undefined;
    if (this.#burst && this.#burst.left > 0) {
      this.#burst.left -= 1;
      return this.#burst.kind;
    }
    if (!this.#random.chance(this.#options.rate)) return undefined;
    const kind = FAULT_KINDS[Math.floor(this.#random.next() * FAULT_KINDS.length)] as FaultKind;
    if (kind === "throttle" || kind === "error") this.#burst = { kind, left: (this.#options.burst ?? 3) - 1 };
    return kind;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const fault = this.#pick();
    if (fault) this.injected[fault] += 1;
    if (fault === "drop") return void req.socket.destroy();
    if (fault === "throttle") {
      res.writeHead(429, { "Content-Type": "application/json", "Retry-After": "1" });
      return void res.end(JSON.stringify({ error: { code: "TooManyRequests", message: "Rate limit is exceeded. Try again in 1 seconds." } }));
    }
    if (fault === "error") {
      res.writeHead(503, { "Content-Type": "application/json" });
      return void res.end(JSON.stringify({ error: { code: "ServiceUnavailable", message: "The service is temporarily unavailable." } }));
    }
    if (fault === "stall") await new Promise((resolve) => setTimeout(resolve, this.#options.stallMs ?? 1_500));
    const answer = await this.#forward(req, body).catch(() => undefined);
    if (!answer) return void req.socket.destroy();
    if (fault === "reset") return void req.socket.destroy();
    const text = answer.body.toString("utf8").split(this.#target.origin).join(this.#url);
    const payload = Buffer.from(text, "utf8");
    const headers: Record<string, string | string[] | undefined> = { ...answer.headers, "content-length": String(payload.length) };
    delete headers["transfer-encoding"];
    if (typeof headers.location === "string") headers.location = headers.location.replace(this.#target.origin, this.#url);
    res.writeHead(answer.status, headers);
    if (fault === "truncate" && payload.length > 1) {
      res.write(payload.subarray(0, Math.floor(payload.length / 2)));
      return void setTimeout(() => req.socket.destroy(), 10);
    }
    res.end(payload);
  }

  #forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const outgoing = request(
        { host: this.#target.hostname, port: this.#target.port, method: req.method, path: req.url, headers: { ...req.headers, host: this.#target.host } },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => parts.push(chunk));
          answer.on("end", () => resolve({ status: answer.statusCode ?? 502, headers: { ...answer.headers }, body: Buffer.concat(parts) }));
          answer.on("error", reject);
        },
      );
      outgoing.on("error", reject);
      outgoing.end(body);
    });
  }
}
