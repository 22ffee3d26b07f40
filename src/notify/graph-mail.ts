import type { Context, Middleware } from "@microsoft/microsoft-graph-client";
import { Client, GraphError, HTTPMessageHandler } from "@microsoft/microsoft-graph-client";
import type { TokenProvider } from "../auth/token-provider.js";
import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import { CosellError } from "../shared/errors.js";

export const GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0";

export interface MailMessage {
  to: string;
  subject: string;
  html: string;
}

export interface GraphMailOptions {
  /** The mailbox reminders are sent from (a user or shared mailbox the app may send as). */
  sender: string;
  tokens: TokenProvider;
  logger: Logger;
  baseUrl?: string;
}

/** Graph's Windows time-zone names for the zones partners mostly sit in; IANA names pass through. */
const WINDOWS_ZONES: Record<string, string> = {
  UTC: "UTC",
  "GMT Standard Time": "Europe/London",
  "W. Europe Standard Time": "Europe/Berlin",
  "Romance Standard Time": "Europe/Paris",
  "Central Europe Standard Time": "Europe/Budapest",
  "E. Europe Standard Time": "Europe/Bucharest",
  "Eastern Standard Time": "America/New_York",
  "Central Standard Time": "America/Chicago",
  "Mountain Standard Time": "America/Denver",
  "Pacific Standard Time": "America/Los_Angeles",
  "E. South America Standard Time": "America/Sao_Paulo",
  "India Standard Time": "Asia/Kolkata",
  "China Standard Time": "Asia/Shanghai",
  "Singapore Standard Time": "Asia/Singapore",
  "Tokyo Standard Time": "Asia/Tokyo",
  "AUS Eastern Standard Time": "Australia/Sydney",
};

/**
 * Reminder mail through Microsoft Graph with app credentials: `POST /users/{sender}/sendMail`, and
 * the recipient's mailbox time zone so a deadline reads in their local time. The client's own retry
 * handler is left out of the chain: the outbox owns retries and reads Retry-After from the error.
 */
export class GraphMail {
  readonly #client: Client;
  readonly #sender: string;
  readonly #log: Logger;

  constructor(options: GraphMailOptions) {
    this.#sender = options.sender;
    this.#log = componentLogger(options.logger, "graph-mail");
    const auth = new BearerToken(options.tokens);
    auth.setNext(new HTTPMessageHandler());
    const url = new URL((options.baseUrl ?? GRAPH_BASE_URL).replace(/\/+$/, ""));
    this.#client = Client.initWithMiddleware({ middleware: auth, baseUrl: url.origin, defaultVersion: url.pathname.replace(/^\//, "") || "v1.0" });
  }

  async send(message: MailMessage): Promise<void> {
    await this.#call(() =>
      this.#client.api(`/users/${encodeURIComponent(this.#sender)}/sendMail`).post({
        message: { subject: message.subject, body: { contentType: "HTML", content: message.html }, toRecipients: [{ emailAddress: { address: message.to } }] },
        saveToSentItems: false,
      }),
    );
    this.#log.info({ to: message.to, subject: message.subject }, "reminder mail sent");
  }

  /** The recipient's time zone (IANA), or UTC when the mailbox does not say or cannot be read. */
  async timeZoneOf(user: string): Promise<string> {
    try {
      const settings = (await this.#call(() => this.#client.api(`/users/${encodeURIComponent(user)}/mailboxSettings`).select("timeZone").get())) as { timeZone?: string };
      const zone = settings.timeZone ?? "UTC";
      if (zone.includes("/") || zone === "UTC") return zone;
      return WINDOWS_ZONES[zone] ?? "UTC";
    } catch (error) {
      if (error instanceof CosellError && error.retryable) throw error;
      this.#log.debug({ user, err: error }, "no mailbox time zone; using UTC");
      return "UTC";
    }
  }

  async #call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw mailError(error);
    }
  }
}

/**
 * Puts the app's token on every request. The SDK's own handler adds it only for https Graph hosts;
 * this client only ever calls its configured base URL (the sandbox is plain http on loopback).
 */
class BearerToken implements Middleware {
  #next: Middleware | undefined;

  constructor(private readonly tokens: TokenProvider) {}

  setNext(next: Middleware): void {
    this.#next = next;
  }

  async execute(context: Context): Promise<void> {
    const token = await this.tokens.getToken();
    const options = (context.options ??= {});
    const headers = new Headers(options.headers as ConstructorParameters<typeof Headers>[0]);
    headers.set("Authorization", `Bearer ${token}`);
    options.headers = Object.fromEntries(headers.entries());
    await this.#next?.execute(context);
  }
}

/** Graph's refusal in our terms: throttling and outages retry (after Retry-After), the rest do not. */
export function mailError(error: unknown): CosellError {
  if (!(error instanceof GraphError)) return new CosellError("NOTIFY_MAIL_UNREACHABLE", `Microsoft Graph could not be reached: ${(error as Error).message}`, { retryable: true, cause: error });
  const status = error.statusCode;
  const retryAfter = Number(error.headers?.get("retry-after") ?? Number.NaN);
  const said = `Graph said ${status} ${error.code ?? ""}: ${error.message}`;
  if (status === 429 || status >= 500) {
    return Object.assign(new CosellError("NOTIFY_MAIL_THROTTLED", `${said}. Retried after the wait Graph asked for.`, { retryable: true, cause: error }), Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1000 } : {});
  }
  if (status === 401 || status === 403) return new CosellError("NOTIFY_MAIL_DENIED", `${said}. Grant the app Mail.Send (application) and, with an application access policy, allow it the sender mailbox.`, { cause: error });
  return new CosellError("NOTIFY_MAIL_REFUSED", `${said}. Check notify.mail.sender and the recipient's address.`, { cause: error });
}
