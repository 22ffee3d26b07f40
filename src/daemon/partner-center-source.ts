import { ClientCredentialsTokenProvider } from "../auth/msal-token-provider.js";
import { createNetworkClient } from "../auth/network-client.js";
import type { PartnerCenterAccountConfig } from "../config/index.js";
import type { Logger } from "../log/logger.js";
import { ReferralClient } from "../partner-center/client.js";
import { PartnerCenterSandbox, REFERRAL_AUDIENCE } from "../sandbox/partner-center/sandbox.js";
import type { Clock } from "../shared/clock.js";
import { systemClock } from "../shared/clock.js";
import { referralClientFor } from "./partner-center-access.js";

export interface OpenedPartnerCenter {
  client: ReferralClient;
  /** The in-process sandbox behind a `mode: sandbox` account. */
  sandbox?: PartnerCenterSandbox;
  close(): Promise<void>;
}

/** Leads an in-process Partner Center sandbox starts with, so a first run has something to sync. */
export const SANDBOX_STARTING_LEADS = 50;

/** The referral client an account's config describes; `mode: sandbox` runs the Partner Center sandbox in-process. */
export async function openPartnerCenter(name: string, account: PartnerCenterAccountConfig, options: { logger: Logger; clock: Clock; cwd?: string; autoDeliverWebhooks?: boolean }): Promise<OpenedPartnerCenter> {
  if (account.auth.mode !== "sandbox") {
    return { client: referralClientFor(name, account, options.logger, options.cwd), close: async () => undefined };
  }
  const sandbox = await PartnerCenterSandbox.start({ clock: options.clock, authClock: systemClock, seed: name, leads: SANDBOX_STARTING_LEADS, autoDeliverWebhooks: options.autoDeliverWebhooks ?? false, logger: options.logger });
  const tokens = new ClientCredentialsTokenProvider(
    { tenantId: sandbox.app.tenantId, clientId: sandbox.app.clientId, clientSecret: sandbox.app.clientSecret, authority: sandbox.entra.url },
    { scopes: [`${REFERRAL_AUDIENCE}/.default`], logger: options.logger, networkClient: createNetworkClient({ ca: sandbox.caPem }) },
  );
  const client = new ReferralClient({ baseUrl: sandbox.baseUrl, tokens, logger: options.logger, clock: options.clock });
  return { client, sandbox, close: () => sandbox.close() };
}
