import { DynamicsConnector } from "../../connectors/dynamics/connector.js";
import type { DataverseSandboxOptions } from "../../connectors/dynamics/sandbox/server.js";
import { DataverseSandbox } from "../../connectors/dynamics/sandbox/server.js";
import { ClientCredentialsTokenProvider } from "../../src/auth/msal-token-provider.js";
import { createNetworkClient } from "../../src/auth/network-client.js";
import { silentLogger } from "../../src/log/logger.js";

export async function startDataverse(options: DataverseSandboxOptions = {}, pageSize?: number) {
  const sandbox = await DataverseSandbox.start(options);
  const tokens = new ClientCredentialsTokenProvider(
    { tenantId: sandbox.app.tenantId, clientId: sandbox.app.clientId, clientSecret: sandbox.app.clientSecret, authority: sandbox.entra.url },
    { scopes: [`${sandbox.url}/.default`], logger: silentLogger(), networkClient: createNetworkClient({ ca: sandbox.entra.caPem }) },
  );
  const connector = new DynamicsConnector({ url: sandbox.url, apiVersion: "9.2", tokens, logger: silentLogger(), ...(pageSize ? { pageSize } : {}) });
  await connector.connect();
  return { sandbox, connector, tokens };
}

export function dataverseLeads(count: number) {
  return Array.from({ length: count }, (_, i) => ({ key: `ref-${String(i).padStart(5, "0")}`, fields: { subject: `Lead ${i}`, companyname: `Customer ${i}`, lastname: "L", cosell_status: 100000000 } }));
}
