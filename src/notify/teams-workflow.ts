import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import { CosellError } from "../shared/errors.js";
import { readErrorEnvelope } from "../shared/http-errors.js";

/** An Adaptive Card, as Teams renders it (schema 1.4: what the Workflows "post card" action takes). */
export interface AdaptiveCard {
  $schema: string;
  type: "AdaptiveCard";
  version: string;
  body: Array<Record<string, unknown>>;
  actions?: Array<Record<string, unknown>>;
}

export interface TeamsWorkflowOptions {
  /** The workflow's trigger URL; its `sig` query parameter is the credential. */
  webhookUrl: string;
  logger: Logger;
  /** Per request (Workflows answers within seconds: it only queues the run). */
  timeoutMs?: number;
}

/**
 * Posts Adaptive Cards to a Teams channel through a Workflows webhook ("Post to a channel when a
 * webhook request is received"). The trigger answers 202 once the run is queued; the URL holds the
 * credential, so only its host is ever logged.
 */
export class TeamsWorkflow {
  readonly #url: string;
  readonly #log: Logger;
  readonly #timeoutMs: number;

  constructor(options: TeamsWorkflowOptions) {
    this.#url = options.webhookUrl;
    this.#log = componentLogger(options.logger, "teams");
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Where posts go, without the signature. */
  get target(): string {
    const url = new URL(this.#url);
    return `${url.origin}${url.pathname}`;
  }

  async post(card: AdaptiveCard): Promise<{ runId?: string }> {
    const message = { type: "message", attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card }] };
    let response: Response;
    try {
      response = await fetch(this.#url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(message), signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (error) {
      throw new CosellError("NOTIFY_TEAMS_UNREACHABLE", `The Teams workflow at ${new URL(this.#url).host} could not be reached (${(error as Error).message}); it is retried.`, { retryable: true, cause: error });
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new CosellError("NOTIFY_TEAMS_UNREACHABLE", `The Teams workflow's answer was cut short (${(error as Error).message}); it is retried.`, { retryable: true, cause: error });
    }
    if (response.ok) {
      const runId = response.headers.get("x-ms-workflow-run-id") ?? undefined;
      this.#log.info({ target: this.target, runId }, "Teams reminder posted");
      return runId ? { runId } : {};
    }
    throw teamsError(response.status, text, response.headers.get("retry-after"));
  }
}

/** A Workflows refusal in our terms: throttling and outages retry, a dead or wrong URL does not. */
export function teamsError(status: number, text: string, retryAfter: string | null): CosellError {
  const { code, message } = readErrorEnvelope(text);
  const said = `Teams Workflows said ${status}${code ? ` ${code}` : ""}: ${message}`;
  if (status === 429 || status >= 500) {
    const seconds = Number(retryAfter);
    return Object.assign(new CosellError("NOTIFY_TEAMS_THROTTLED", `${said}. Retried after the wait it asked for.`, { retryable: true }), Number.isFinite(seconds) && seconds > 0 ? { retryAfterMs: seconds * 1000 } : {});
  }
  if (status === 401 || status === 403 || status === 404) {
    return new CosellError("NOTIFY_TEAMS_DENIED", `${said}. The workflow was deleted, turned off or its URL regenerated: copy the trigger's current URL into notify.teams.webhookUrl.`);
  }
  return new CosellError("NOTIFY_TEAMS_REFUSED", `${said}. The workflow refused the card; check that its trigger takes a Teams message with an Adaptive Card.`);
}
