import type { Config } from "./schema.js";

export interface ConfigSummary {
  store: "sqlite" | "postgres";
  sandbox: boolean;
  accounts: string[];
  crms: Array<{ name: string; type: string; auth: string }>;
  pairs: Array<{ name: string; partnerCenter: string; crm: string; mapping: string; enabled: boolean }>;
}

/** What a config sets up, with no secret in it: for `config check` and the start-up log line. */
export function describeConfig(config: Config): ConfigSummary {
  return {
    store: config.store.url.startsWith("sqlite:") ? "sqlite" : "postgres",
    sandbox: config.sandbox.enabled,
    accounts: Object.keys(config.partnerCenter.accounts),
    crms: Object.entries(config.crms).map(([name, crm]) => ({ name, type: crm.type, auth: crm.auth.mode })),
    pairs: config.pairs.map(({ name, partnerCenter, crm, mapping, enabled }) => ({ name, partnerCenter, crm, mapping, enabled })),
  };
}
