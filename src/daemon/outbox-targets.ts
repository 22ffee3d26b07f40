import { crmTarget } from "../sync/enqueue-crm-upsert.js";
import type { Config } from "../config/index.js";
import type { TargetSettings } from "../queue/types.js";

/**
 * Pacing per outbox target: sensible defaults from each service's published limits, overridden by
 * `outbox.targets` in the config.
 */
// Partner Center takes one referral per call; a batch of five is leased and settled in one
// transaction each (a backfill's write-backs are thousands), and the earliest deadline is leased
// first, so an urgent push waits at most for a batch slot, about half a second at 10 calls a second.
const PARTNER_CENTER: TargetSettings = { concurrency: 4, batchSize: 5, requestsPerInterval: 10, intervalMs: 1_000 };
const NOTIFY: TargetSettings = { concurrency: 2, batchSize: 1, requestsPerInterval: 4, intervalMs: 1_000 };
// The Teams connector behind a Workflows post takes 100 calls a minute per connection.
const TEAMS: TargetSettings = { concurrency: 2, batchSize: 1, requestsPerInterval: 100, intervalMs: 60_000 };

/**
 * A backfill queues a page of leads at a time; a CRM batch holds up to twice that (Salesforce) or
 * ten times (Dataverse). Letting a partial batch wait while pages keep coming fills it, so calls
 * stay at the minimum; a lone webhook lead waits only for the quiet spell (a quarter second).
 */
const CRM_LINGER_MS = 2_000;

function crmDefaults(crm: Config["crms"][string]): TargetSettings {
  switch (crm.type) {
    case "salesforce":
      // sObject Collections take 200 records; long requests are capped at 25 concurrent per org.
      // Salesforce counts calls per day, not per second: the window only keeps a burst civil (each
      // call now waits its turn, and 20 a second held a batch of reminder tasks for seconds).
      return { concurrency: 4, batchSize: 200, requestsPerInterval: 100, intervalMs: 1_000, lingerMs: CRM_LINGER_MS };
    case "hubspot":
      // Private apps: 100 requests / 10 s on Free and Starter, 190 on Professional and Enterprise.
      // Search is exempt from that window (HubSpot's API spec marks it `x-hubspot-rate-limit-exemptions:
      // ten-secondly`) and limited to five a second per account instead.
      return {
        concurrency: 4,
        batchSize: 100,
        requestsPerInterval: crm.tier === "free" || crm.tier === "starter" ? 100 : 190,
        intervalMs: 10_000,
        lingerMs: CRM_LINGER_MS,
        budgets: { search: { requestsPerInterval: 5, intervalMs: 1_000 } },
      };
    case "dynamics":
      // Service protection: 6,000 requests per 5 minutes per user, 52 concurrent.
      return { concurrency: 8, batchSize: 100, requestsPerInterval: 6_000, intervalMs: 300_000, lingerMs: CRM_LINGER_MS };
  }
}

export function outboxTargets(config: Config): Record<string, TargetSettings> {
  const targets: Record<string, TargetSettings> = { "partner-center": PARTNER_CENTER, "notify:mail": NOTIFY, "notify:teams": TEAMS };
  for (const [name, crm] of Object.entries(config.crms)) targets[crmTarget(name)] = crmDefaults(crm);
  for (const [target, override] of Object.entries(config.outbox.targets)) {
    const base = targets[target] ?? NOTIFY;
    targets[target] = {
      concurrency: override.concurrency ?? base.concurrency,
      batchSize: override.batchSize ?? base.batchSize,
      requestsPerInterval: override.requestsPerInterval ?? base.requestsPerInterval,
      intervalMs: override.interval ?? base.intervalMs,
      ...(override.linger !== undefined ? { lingerMs: override.linger } : base.lingerMs !== undefined ? { lingerMs: base.lingerMs } : {}),
      ...(base.budgets ? { budgets: base.budgets } : {}),
    };
  }
  return targets;
}
