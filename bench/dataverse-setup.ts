import { DynamicsConnector } from "../connectors/dynamics/connector.js";
import { DataverseSandbox } from "../connectors/dynamics/sandbox/server.js";
import { ClientCredentialsTokenProvider } from "../src/auth/msal-token-provider.js";
import { createNetworkClient } from "../src/auth/network-client.js";
import { silentLogger } from "../src/log/logger.js";

export async function startDataverseForBench() {
  const sandbox = await DataverseSandbox.start({ requestLimit: 1_000_000 });
  const tokens = new ClientCredentialsTokenProvider(
    { tenantId: sandbox.app.tenantId, clientId: sandbox.app.clientId, clientSecret: sandbox.app.clientSecret, authority: sandbox.entra.url },
    { scopes: [`${sandbox.url}/.default`], logger: silentLogger(), networkClient: createNetworkClient({ ca: sandbox.entra.caPem }) },
  );
  const connector = new DynamicsConnector({ url: sandbox.url, apiVersion: "9.2", tokens, logger: silentLogger() });
  await connector.connect();
  return { sandbox, connector };
}
