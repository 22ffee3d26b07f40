import { DynamicsConnector } from "../../connectors/dynamics/connector.js";
import { DataverseSandbox } from "../../connectors/dynamics/sandbox/server.js";
import { HubSpotConnector } from "../../connectors/hubspot/connector.js";
import { ClientCredentialsTokenProvider } from "../auth/msal-token-provider.js";
import { createNetworkClient } from "../auth/network-client.js";
import { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { SalesforceConnector } from "../../connectors/salesforce/connector.js";
import { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import type { CrmConnector } from "../../connectors/types.js";
import type { CrmConfig } from "../config/index.js";
import type { Logger } from "../log/logger.js";
import type { Clock } from "../shared/clock.js";
import { systemClock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import { readCaFile } from "./partner-center-access.js";

export type CrmSandbox = SalesforceSandbox | HubSpotSandbox | DataverseSandbox;

export interface OpenedConnector {
  connector: CrmConnector;
  /** The in-process sandbox behind a `mode: sandbox` CRM (the seller simulator and tests act on it). */
  sandbox?: CrmSandbox;
  /** Closes the connector, and the in-process sandbox behind it when there is one. */
  close(): Promise<void>;
}

/** Connects; on failure closes the in-process sandbox too, so nothing is left listening. */
async function connectWithSandbox(connector: CrmConnector, sandbox: CrmSandbox | undefined): Promise<OpenedConnector> {
  try {
    await connector.connect();
  } catch (error) {
    await sandbox?.close();
    throw error;
  }
  return {
    connector,
    ...(sandbox ? { sandbox } : {}),
    close: async () => {
      await connector.close();
      await sandbox?.close();
    },
  };
}

/** The connector a CRM's config describes, connected. `mode: sandbox` runs that CRM's sandbox in-process. */
export async function openCrmConnector(name: string, crm: CrmConfig, logger: Logger, clock: Clock = systemClock): Promise<OpenedConnector> {
  switch (crm.type) {
    case "salesforce": {
      let sandbox: SalesforceSandbox | undefined;
      let connector: SalesforceConnector;
      if (crm.auth.mode === "sandbox") {
        sandbox = await SalesforceSandbox.start({ clock });
        connector = new SalesforceConnector({
          loginUrl: sandbox.url,
          apiVersion: crm.apiVersion,
          auth: { mode: "jwt", clientId: sandbox.connectedApp.clientId, username: sandbox.integrationUser.Username, privateKey: sandbox.connectedApp.privateKeyPem },
          logger,
          clock,
        });
      } else {
        connector = new SalesforceConnector({ loginUrl: crm.loginUrl, ...(crm.instanceUrl ? { instanceUrl: crm.instanceUrl } : {}), apiVersion: crm.apiVersion, auth: crm.auth, logger, timeoutMs: crm.timeout });
      }
      return connectWithSandbox(connector, sandbox);
    }
    case "hubspot": {
      const sandbox = crm.auth.mode === "sandbox" ? await HubSpotSandbox.start({ clock }) : undefined;
      const connector = sandbox
        ? new HubSpotConnector({ accessToken: sandbox.appToken, basePath: sandbox.url, appId: sandbox.appId, logger })
        : new HubSpotConnector({ accessToken: crm.auth.mode === "private-app" ? crm.auth.accessToken : "", basePath: crm.basePath, ...(crm.appId ? { appId: crm.appId } : {}), logger });
      return connectWithSandbox(connector, sandbox);
    }
    case "dynamics": {
      const sandbox = crm.auth.mode === "sandbox" ? await DataverseSandbox.start({ clock, authClock: systemClock }) : undefined;
      const orgUrl = sandbox?.url ?? crm.url ?? "";
      const auth = crm.auth;
      const tokens = sandbox
        ? new ClientCredentialsTokenProvider(
            { tenantId: sandbox.app.tenantId, clientId: sandbox.app.clientId, clientSecret: sandbox.app.clientSecret, authority: sandbox.entra.url },
            { scopes: [`${orgUrl}/.default`], logger, networkClient: createNetworkClient({ ca: sandbox.entra.caPem }) },
          )
        : auth.mode === "client-credentials"
          ? new ClientCredentialsTokenProvider(
              { tenantId: auth.tenantId, clientId: auth.clientId, clientSecret: auth.clientSecret, authority: auth.authority },
              { scopes: [`${orgUrl}/.default`], logger, ...(auth.caFile ? { networkClient: createNetworkClient({ ca: readCaFile(auth.caFile, process.cwd(), `crms.${name}.auth.caFile`) }) } : {}) },
            )
          : undefined;
      if (!tokens) throw new CosellError("CONFIG_INVALID", `CRM "${name}" needs client-credentials auth.`);
      const connector = new DynamicsConnector({ url: orgUrl, apiVersion: crm.apiVersion, tokens, logger });
      return connectWithSandbox(connector, sandbox);
    }
  }
}
