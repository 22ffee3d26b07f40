import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { ServiceHttpError } from "../../shared/http-errors.js";
import { createServer } from "node:http";
import type { Clock } from "../../shared/clock.js";
import { systemClock } from "../../shared/clock.js";
import { closeServer, listenLocal } from "../../shared/local-server.js";
import { SeededRandom } from "../../shared/seeded-random.js";

/** One run of the workflow: what the trigger received, and whether the card reached the channel. */
export interface WorkflowRun {
  id: string;
  at: string;
  status: "Succeeded" | "Failed";
  /** Why the "post card" action failed, in Teams' words. */
  error?: string;
  body: unknown;
}

/** A card the channel shows. */
export interface ChannelPost {
  at: string;
  card: Record<string, unknown>;
}

export interface TeamsWorkflowSandboxOptions {
  clock?: Clock;
  host?: string;
  seed?: string;
  /** Share of triggers answered 429 with Retry-After. */
  throttleRate?: number;
}

/** Teams refuses a card message above this size. */
const MAX_CARD_BYTES = 28 * 1024;


/**
 * A Teams Workflows webhook ("Post to a channel when a webhook request is received") on loopback:
 * the trigger URL with its api-version and `sig` checked as Logic Apps checks them, 202 with the run
 * id once the run is queued, then the run: a Teams message with an Adaptive Card reaches `channel`,
 * anything else fails the run (recorded in `runs`), as the real flow fails after its 202.
 */
export class TeamsWorkflowSandbox {
  readonly channel: ChannelPost[] = [];
  readonly runs: WorkflowRun[] = [];
  readonly stats = { requests: 0, throttled: 0 };
  throttleRate: number;
  readonly #clock: Clock;
  readonly #random: SeededRandom;
  readonly #workflowId: string;
  readonly #signature: string;
  #server: Server | undefined;
  #url = "";

  private constructor(options: TeamsWorkflowSandboxOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#random = new SeededRandom(options.seed ?? "teams");
    this.throttleRate = options.throttleRate ?? 0;
    this.#workflowId = this.#random.uuid().replace(/-/g, "");
    this.#signature = this.#random.uuid().replace(/-/g, "");
  }

  static async start(options: TeamsWorkflowSandboxOptions = {}): Promise<TeamsWorkflowSandbox> {
    const sandbox = new TeamsWorkflowSandbox(options);
    sandbox.#server = createServer((req, res) => void sandbox.#handle(req, res));
    sandbox.#url = await listenLocal(sandbox.#server, { host: options.host ?? "127.0.0.1" });
    return sandbox;
  }

  /** The trigger URL, as the workflow's designer shows it (signature included). */
  get webhookUrl(): string {
    return `${this.#url}/workflows/${this.#workflowId}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${this.#signature}`;
  }

  async close(): Promise<void> {
    await closeServer(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.stats.requests += 1;
      const url = new URL(req.url ?? "/", "http://workflows");
      if (url.pathname !== `/workflows/${this.#workflowId}/triggers/manual/paths/invoke`) throw new ServiceHttpError(404, "WorkflowNotFound", `The workflow '${url.pathname.split("/")[2] ?? ""}' could not be found.`);
      if (req.method !== "POST") throw new ServiceHttpError(405, "DirectApiRequestHasInvalidMethod", `The HTTP method '${req.method ?? ""}' is not allowed for this trigger; use POST.`);
      if (!url.searchParams.get("api-version")) throw new ServiceHttpError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
      const sig = url.searchParams.get("sig");
      if (!sig) throw new ServiceHttpError(401, "DirectApiAuthorizationRequired", "The request must be authenticated only by Shared Access scheme.");
      if (sig !== this.#signature) throw new ServiceHttpError(401, "DirectApiInvalidAuthorizationSignature", "The provided authorization signature is not valid.");
      if (this.#random.chance(this.throttleRate)) {
        this.stats.throttled += 1;
        throw new ServiceHttpError(429, "WorkflowTriggerIsThrottled", "The workflow trigger is throttled; retry after the interval in Retry-After.", { "Retry-After": "5" });
      }
      const text = await readText(req);
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch (error) {
        throw new ServiceHttpError(400, "InvalidRequestContent", `The request content is not valid and could not be deserialized: '${(error as Error).message}'.`);
      }
      const run = this.#run(body, Buffer.byteLength(text));
      res.writeHead(202, { "x-ms-workflow-run-id": run.id, "x-ms-workflow-id": this.#workflowId, "x-ms-workflow-version": "08584", "Content-Length": "0" });
      res.end();
    } catch (error) {
      const known = error instanceof ServiceHttpError ? error : new ServiceHttpError(500, "InternalServerError", (error as Error).message);
      res.writeHead(known.status, { "Content-Type": "application/json; charset=utf-8", ...known.headers });
      res.end(JSON.stringify({ error: { code: known.code, message: known.message } }));
    }
  }

  /** The flow itself: its "post card" step takes the first Adaptive Card attachment. */
  #run(body: unknown, bytes: number): WorkflowRun {
    const id = `08584${this.#random.uuid().replace(/-/g, "").slice(0, 20).toUpperCase()}`;
    const at = this.#clock.now().toISOString();
    const problem = cardProblem(body, bytes);
    const run: WorkflowRun = { id, at, status: problem ? "Failed" : "Succeeded", ...(problem ? { error: problem } : {}), body };
    this.runs.push(run);
    if (!problem) {
      const attachment = (body as { attachments: Array<{ content: Record<string, unknown> }> }).attachments[0];
      if (attachment) this.channel.push({ at, card: attachment.content });
    }
    return run;
  }
}

function cardProblem(body: unknown, bytes: number): string | undefined {
  if (bytes > MAX_CARD_BYTES) return `The message is ${bytes} bytes; Teams takes at most ${MAX_CARD_BYTES}.`;
  const message = body as { type?: unknown; attachments?: unknown } | undefined;
  if (!message || message.type !== "message") return "The body is not a Teams message (type: message).";
  if (!Array.isArray(message.attachments) || message.attachments.length === 0) return "The message has no attachments.";
  const attachment = message.attachments[0] as { contentType?: unknown; content?: { type?: unknown; version?: unknown; body?: unknown } };
  if (attachment.contentType !== "application/vnd.microsoft.card.adaptive") return `Attachment content type '${String(attachment.contentType)}' is not an Adaptive Card.`;
  const card = attachment.content;
  if (!card || card.type !== "AdaptiveCard") return "The attachment's content is not an AdaptiveCard.";
  if (typeof card.version !== "string" || !/^1\.[0-5]$/.test(card.version)) return `Adaptive Card version '${String(card.version)}' is not supported by Teams (1.0 to 1.5).`;
  if (!Array.isArray(card.body) || card.body.length === 0) return "The Adaptive Card has no body.";
  return undefined;
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
