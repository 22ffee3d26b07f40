import { ClientCredentialsTokenProvider } from "../../src/auth/msal-token-provider.js";
import { createNetworkClient } from "../../src/auth/network-client.js";
import type { TokenProvider } from "../../src/auth/token-provider.js";
import type { Logger } from "../../src/log/logger.js";
import { silentLogger } from "../../src/log/logger.js";
import { ReferralClient } from "../../src/partner-center/client.js";
import type { PartnerCenterSandboxOptions } from "../../src/sandbox/partner-center/sandbox.js";
import { PartnerCenterSandbox, REFERRAL_AUDIENCE } from "../../src/sandbox/partner-center/sandbox.js";

export function sandboxTokens(sandbox: PartnerCenterSandbox, audience = REFERRAL_AUDIENCE): TokenProvider {
  return new ClientCredentialsTokenProvider(
    { tenantId: sandbox.app.tenantId, clientId: sandbox.app.clientId, clientSecret: sandbox.app.clientSecret, authority: sandbox.entra.url },
    { scopes: [`${audience}/.default`], logger: silentLogger(), networkClient: createNetworkClient({ ca: sandbox.caPem }) },
  );
}

export async function startSandboxWithClient(options: PartnerCenterSandboxOptions = {}, logger: Logger = silentLogger()) {
  const sandbox = await PartnerCenterSandbox.start(options);
  const client = new ReferralClient({ baseUrl: sandbox.baseUrl, tokens: sandboxTokens(sandbox), logger, ...(options.clock ? { clock: options.clock } : {}) });
  return { sandbox, client };
}
