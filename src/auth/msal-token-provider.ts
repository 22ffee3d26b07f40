import type { AccountInfo, AuthenticationResult, Configuration, INetworkModule } from "@azure/msal-node";
import { ConfidentialClientApplication, InteractionRequiredAuthError, LogLevel, PublicClientApplication } from "@azure/msal-node";
import type { Logger } from "../log/logger.js";
import type { Clock } from "../shared/clock.js";
import { systemClock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import { EncryptedFileCachePlugin } from "./encrypted-token-cache.js";
import type { TokenProvider } from "./token-provider.js";

export interface EntraApp {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  /** Authority host, e.g. https://login.microsoftonline.com (or the sandbox's). */
  authority: string;
}

export interface MsalOptions {
  /** `<resource>/.default`, e.g. https://api.partner.microsoft.com/.default */
  scopes: string[];
  logger: Logger;
  /** For a private authority (the sandbox): its CA-trusting network client. */
  networkClient?: INetworkModule;
  /** The clock a held token's expiry is read on (msal reads the system's). */
  clock?: Clock;
}

/** How long before its expiry a held token is given up (msal renews five minutes early too). */
const HELD_MARGIN_MS = 5 * 60_000;

/**
 * The last token msal gave, handed out again until shortly before it expires or msal said to renew
 * it. Every Partner Center call asked msal, whose cache look-up parses the authority and scans the
 * cache each time: a backfill's 100,000 write-backs spent seconds of the main thread on it.
 */
class HeldToken {
  readonly #clock: Clock;
  #token: string | undefined;
  #until = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get(): string | undefined {
    return this.#token !== undefined && this.#clock.now().getTime() < this.#until ? this.#token : undefined;
  }

  hold(result: AuthenticationResult): string {
    const expiresAt = result.expiresOn ? result.expiresOn.getTime() - HELD_MARGIN_MS : 0;
    this.#until = Math.min(expiresAt, result.refreshOn?.getTime() ?? Number.POSITIVE_INFINITY);
    this.#token = result.accessToken;
    return result.accessToken;
  }
}

function msalConfig(app: EntraApp, options: MsalOptions, cachePlugin?: EncryptedFileCachePlugin): Configuration {
  const authorityUrl = new URL(app.authority);
  const isMicrosoft = authorityUrl.hostname.endsWith("login.microsoftonline.com") || authorityUrl.hostname.endsWith("login.microsoftonline.us");
  return {
    auth: {
      clientId: app.clientId,
      authority: `${app.authority.replace(/\/+$/, "")}/${app.tenantId}`,
      ...(app.clientSecret ? { clientSecret: app.clientSecret } : {}),
      // A private authority is trusted as given instead of asking Microsoft's instance discovery.
      ...(isMicrosoft ? {} : { knownAuthorities: [authorityUrl.host] }),
    },
    ...(cachePlugin ? { cache: { cachePlugin } } : {}),
    system: {
      ...(options.networkClient ? { networkClient: options.networkClient } : {}),
      loggerOptions: {
        piiLoggingEnabled: false,
        logLevel: LogLevel.Warning,
        loggerCallback: (level, message, containsPii) => {
          if (containsPii) return;
          // msal's warnings are routine ("no client info" for app tokens); only its errors are news.
          if (level === LogLevel.Error) options.logger.error({ component: "msal" }, message);
          else options.logger.debug({ component: "msal" }, message);
        },
      },
    },
  };
}

function authError(error: unknown, what: string): CosellError {
  const message = (error as { errorMessage?: string; message?: string }).errorMessage ?? (error as Error).message;
  const code = (error as { errorCode?: string }).errorCode ?? "";
  const invalidGrant = code === "invalid_grant" || error instanceof InteractionRequiredAuthError;
  return new CosellError(
    invalidGrant ? "AUTH_SIGN_IN_REQUIRED" : "AUTH_TOKEN_FAILED",
    invalidGrant
      ? `${what}: the refresh token was refused (${message}). Sign the service user in again and seed the new refresh token (auth.refreshToken), then restart.`
      : `${what}: could not get a token (${message}). Check tenantId, clientId, the client secret and that the authority is reachable.`,
    { retryable: !invalidGrant, cause: error },
  );
}

/** App-only tokens (client credentials). */
export class ClientCredentialsTokenProvider implements TokenProvider {
  readonly #app: ConfidentialClientApplication;
  readonly #scopes: string[];
  readonly #held: HeldToken;

  constructor(app: EntraApp, options: MsalOptions) {
    if (!app.clientSecret) throw new CosellError("AUTH_CONFIG_INVALID", "Client credentials need a clientSecret.");
    this.#app = new ConfidentialClientApplication(msalConfig(app, options));
    this.#scopes = options.scopes;
    this.#held = new HeldToken(options.clock ?? systemClock);
  }

  async getToken(options: { forceRefresh?: boolean } = {}): Promise<string> {
    const held = options.forceRefresh === true ? undefined : this.#held.get();
    if (held !== undefined) return held;
    try {
      const result = await this.#app.acquireTokenByClientCredential({ scopes: this.#scopes, skipCache: options.forceRefresh === true });
      if (!result?.accessToken) throw new Error("no access token in the answer");
      return this.#held.hold(result);
    } catch (error) {
      throw authError(error, "Client credentials");
    }
  }
}

export interface DelegatedOptions extends MsalOptions {
  tokenCacheFile: string;
  tokenCacheKey: string;
  /** Seeds the cache on first start; ignored once the cache holds the service user's account. */
  refreshToken?: string;
}

/**
 * App+user tokens of a dedicated service user, which the referral API requires. The refresh token
 * lives only in the encrypted cache; msal renews it as it goes, so the daemon keeps working long
 * after the seed token would have expired.
 */
export class DelegatedTokenProvider implements TokenProvider {
  readonly #app: PublicClientApplication | ConfidentialClientApplication;
  readonly #options: DelegatedOptions;
  readonly #held: HeldToken;
  #account: AccountInfo | undefined;

  constructor(app: EntraApp, options: DelegatedOptions) {
    const plugin = new EncryptedFileCachePlugin(options.tokenCacheFile, options.tokenCacheKey);
    const config = msalConfig(app, options, plugin);
    this.#app = app.clientSecret ? new ConfidentialClientApplication(config) : new PublicClientApplication(config);
    this.#options = options;
    this.#held = new HeldToken(options.clock ?? systemClock);
  }

  async getToken(options: { forceRefresh?: boolean } = {}): Promise<string> {
    const held = options.forceRefresh === true ? undefined : this.#held.get();
    if (held !== undefined) return held;
    try {
      const account = this.#account ?? (await this.#app.getTokenCache().getAllAccounts())[0];
      if (account) {
        this.#account = account;
        const result = await this.#app.acquireTokenSilent({ account, scopes: this.#options.scopes, forceRefresh: options.forceRefresh === true });
        if (result?.accessToken) return this.#held.hold(result);
      }
      if (!this.#options.refreshToken) {
        throw new CosellError(
          "AUTH_SIGN_IN_REQUIRED",
          `No signed-in service user in ${this.#options.tokenCacheFile}. Sign the service user in once and set auth.refreshToken to its refresh token (from the environment or a secret file).`,
        );
      }
      // forceCache: the seed belongs to an account msal has not seen yet; without it msal answers but
      // keeps nothing, and the next restart would need the (by then rotated) seed again.
      const seeded = await this.#app.acquireTokenByRefreshToken({ refreshToken: this.#options.refreshToken, scopes: this.#options.scopes, forceCache: true });
      if (!seeded?.accessToken) throw new Error("no access token in the answer");
      if (seeded.account) this.#account = seeded.account;
      this.#options.logger.info({ component: "auth", account: seeded.account?.username }, "service user signed in from the seed refresh token");
      return this.#held.hold(seeded);
    } catch (error) {
      if (error instanceof CosellError) throw error;
      throw authError(error, "Delegated sign-in");
    }
  }
}
