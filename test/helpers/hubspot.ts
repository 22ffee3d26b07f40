import { HubSpotConnector } from "../../connectors/hubspot/connector.js";
import type { HubSpotSandboxOptions } from "../../connectors/hubspot/sandbox/server.js";
import { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import type { UpsertRequest, UpsertResult } from "../../connectors/types.js";
import { silentLogger } from "../../src/log/logger.js";

export async function startHubSpot(options: HubSpotSandboxOptions = {}) {
  const sandbox = await HubSpotSandbox.start(options);
  const connector = new HubSpotConnector({ accessToken: sandbox.appToken, basePath: sandbox.url, logger: silentLogger(), appId: sandbox.appId });
  await connector.connect();
  return { sandbox, connector };
}

/** The three-object write the shipped mapping makes: companies, contacts, then leads associated with both. */
export async function syncLeads(connector: HubSpotConnector, count: number, knownIds = new Map<string, string>()): Promise<UpsertResult[]> {
  const keys = Array.from({ length: count }, (_, i) => `ref-${String(i).padStart(5, "0")}`);
  const companies = await connector.upsert({ object: "companies", externalIdField: "cosell_customer_key", records: keys.map((key) => ({ key: `name:customer ${key}|gb`, fields: { name: `Customer ${key}` } })) });
  const contacts = await connector.upsert({ object: "contacts", externalIdField: "email", records: keys.map((key) => ({ key: `${key}@customer.example`, fields: { firstname: "Luc", lastname: key } })) });
  const id = (results: UpsertResult[], index: number) => {
    const result = results[index];
    return result && result.outcome !== "failed" ? result.id : "";
  };
  const request: UpsertRequest = {
    object: "leads",
    externalIdField: "cosell_referral_id",
    records: keys.map((key, index) => ({
      key,
      ...(knownIds.has(key) ? { id: knownIds.get(key) as string } : {}),
      fields: { hs_lead_name: `Lead ${key}`, cosell_status: "new" },
      associations: [
        { object: "contacts", id: id(contacts, index) },
        { object: "companies", id: id(companies, index) },
      ],
    })),
  };
  return connector.upsert(request);
}
