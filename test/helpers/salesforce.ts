import type { SalesforceAuth } from "../../connectors/salesforce/connector.js";
import { SalesforceConnector } from "../../connectors/salesforce/connector.js";
import type { SalesforceSandboxOptions } from "../../connectors/salesforce/sandbox/server.js";
import { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import { silentLogger } from "../../src/log/logger.js";
import type { Clock } from "../../src/shared/clock.js";

export async function startSalesforce(options: SalesforceSandboxOptions = {}, mode: SalesforceAuth["mode"] = "jwt") {
  const sandbox = await SalesforceSandbox.start(options);
  const auth: SalesforceAuth =
    mode === "jwt"
      ? { mode, clientId: sandbox.connectedApp.clientId, username: sandbox.integrationUser.Username, privateKey: sandbox.connectedApp.privateKeyPem }
      : mode === "client-credentials"
        ? { mode, clientId: sandbox.connectedApp.clientId, clientSecret: sandbox.connectedApp.clientSecret }
        : { mode, accessToken: sandbox.tokenFor(sandbox.integrationUser.Id) };
  const connector = new SalesforceConnector({
    loginUrl: sandbox.url,
    ...(mode === "access-token" ? { instanceUrl: sandbox.url } : {}),
    apiVersion: "62.0",
    auth,
    logger: silentLogger(),
    ...(options.clock ? { clock: options.clock as Clock } : {}),
  });
  await connector.connect();
  return { sandbox, connector };
}

/** A seller's edit through the REST API, with the seller's own token. */
export async function sellerEdit(sandbox: SalesforceSandbox, id: string, fields: Record<string, unknown>): Promise<Response> {
  return fetch(`${sandbox.url}/services/data/v62.0/sobjects/Lead/${id}`, {
    method: "PATCH",
    headers: { Authorization: `Bearer ${sandbox.tokenFor(sandbox.seller.Id)}`, "Content-Type": "application/json" },
    body: JSON.stringify(fields),
  });
}

export function leads(count: number, prefix = "ref") {
  return Array.from({ length: count }, (_, i) => ({ key: `${prefix}-${String(i).padStart(5, "0")}`, fields: { LastName: `Contact ${i}`, Company: `Customer ${i}`, Cosell_Status__c: "New" } }));
}
