import { HubSpotConnector } from "../../connectors/hubspot/connector.js";
import { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { SalesforceConnector } from "../../connectors/salesforce/connector.js";
import { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import type { CrmConnector } from "../../connectors/types.js";
import type { CrmConfig } from "../config/index.js";
import type { Logger } from "../log/logger.js";
import { CosellError } from "../shared/errors.js";

export interface OpenedConnector {
  connector: CrmConnector;
  /** Closes the connector, and the in-process sandbox behind it when there is one. */
  close(): Promise<void>;
}

/** The connector a CRM's config describes, connected. `mode: sandbox` runs that CRM's sandbox in-process. */
export async function openCrmConnector(name: string, crm: CrmConfig, logger: Logger): Promise<OpenedConnector> {
  switch (crm.type) {
    case "salesforce": {
      let sandbox: SalesforceSandbox | undefined;
      let connector: SalesforceConnector;
      if (crm.auth.mode === "sandbox") {
        sandbox = await SalesforceSandbox.start();
        connector = new SalesforceConnector({
          loginUrl: sandbox.url,
          apiVersion: crm.apiVersion,
          auth: { mode: "jwt", clientId: sandbox.connectedApp.clientId, username: sandbox.integrationUser.Username, privateKey: sandbox.connectedApp.privateKeyPem },
          logger,
        });
      } else {
        connector = new SalesforceConnector({ loginUrl: crm.loginUrl, ...(crm.instanceUrl ? { instanceUrl: crm.instanceUrl } : {}), apiVersion: crm.apiVersion, auth: crm.auth, logger });
      }
      try {
        await connector.connect();
      } catch (error) {
        await sandbox?.close();
        throw error;
      }
      return {
        connector,
        close: async () => {
          await connector.close();
          await sandbox?.close();
        },
      };
    }
    case "hubspot": {
      const sandbox = crm.auth.mode === "sandbox" ? await HubSpotSandbox.start() : undefined;
      const connector = sandbox
        ? new HubSpotConnector({ accessToken: sandbox.appToken, basePath: sandbox.url, appId: sandbox.appId, logger })
        : new HubSpotConnector({ accessToken: crm.auth.mode === "private-app" ? crm.auth.accessToken : "", basePath: crm.basePath, ...(crm.appId ? { appId: crm.appId } : {}), logger });
      try {
        await connector.connect();
      } catch (error) {
        await sandbox?.close();
        throw error;
      }
      return {
        connector,
        close: async () => {
          await connector.close();
          await sandbox?.close();
        },
      };
    }
    case "dynamics":
      throw new CosellError("CRM_CONNECTOR_NOT_AVAILABLE", `CRM "${name}" is ${crm.type}; this build has no ${crm.type} connector yet (Salesforce and HubSpot only). Its mapping is validated, but it cannot be reached.`);
  }
}
