import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { INetworkModule } from "@azure/msal-node";
import { ClientCredentialsTokenProvider, DelegatedTokenProvider } from "../auth/msal-token-provider.js";
import { createNetworkClient } from "../auth/network-client.js";
import type { TokenProvider } from "../auth/token-provider.js";
import type { PartnerCenterAccountConfig } from "../config/index.js";
import type { Logger } from "../log/logger.js";
import { ReferralClient } from "../partner-center/client.js";
import { WEBHOOK_AUDIENCE, WebhookRegistrationClient } from "../partner-center/webhook-registration.js";
import { CosellError } from "../shared/errors.js";

export const REFERRAL_AUDIENCE = "https://api.partner.microsoft.com";

/** Reads a PEM file named in the config, or says which key to fix. */
export function readCaFile(path: string, cwd: string, key: string): string {
  const absolute = resolve(cwd, path);
  try {
    return readFileSync(absolute, "utf8");
  } catch (error) {
    throw new CosellError("CONFIG_CA_FILE_UNREADABLE", `Cannot read the CA file ${absolute} named by ${key} (${(error as NodeJS.ErrnoException).code ?? "unreadable"}).`, { cause: error });
  }
}

/** Builds the token provider an account's auth settings describe, for one audience. */
export function partnerCenterTokens(name: string, account: PartnerCenterAccountConfig, audience: string, logger: Logger, cwd = process.cwd()): TokenProvider {
  const auth = account.auth;
  if (auth.mode === "sandbox") {
    throw new CosellError(
      "PC_SANDBOX_IN_PROCESS",
      `Account "${name}" uses the in-process sandbox, which exists only inside a running daemon. Run \`cosell-sync sandbox partner-center\` and point the account at it with mode: client-credentials (it prints the settings).`,
    );
  }
  const networkClient: INetworkModule | undefined = auth.caFile ? createNetworkClient({ ca: readCaFile(auth.caFile, cwd, `partnerCenter.accounts.${name}.auth.caFile`) }) : undefined;
  const common = { scopes: [`${audience}/.default`], logger, ...(networkClient ? { networkClient } : {}) };
  const app = { tenantId: auth.tenantId, clientId: auth.clientId, authority: auth.authority, ...(auth.clientSecret ? { clientSecret: auth.clientSecret } : {}) };
  if (auth.mode === "client-credentials") return new ClientCredentialsTokenProvider(app, common);
  return new DelegatedTokenProvider(app, {
    ...common,
    tokenCacheFile: resolve(cwd, auth.tokenCacheFile),
    tokenCacheKey: auth.tokenCacheKey,
    ...(auth.refreshToken ? { refreshToken: auth.refreshToken } : {}),
  });
}

export function referralClientFor(name: string, account: PartnerCenterAccountConfig, logger: Logger, cwd?: string): ReferralClient {
  return new ReferralClient({ baseUrl: account.baseUrl, tokens: partnerCenterTokens(name, account, REFERRAL_AUDIENCE, logger, cwd), logger });
}

export function webhookRegistrationClientFor(name: string, account: PartnerCenterAccountConfig, logger: Logger, cwd?: string): WebhookRegistrationClient {
  return new WebhookRegistrationClient({ baseUrl: account.webhookApiUrl, tokens: partnerCenterTokens(name, account, WEBHOOK_AUDIENCE, logger, cwd), logger });
}
