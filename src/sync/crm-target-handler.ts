import type { CrmConnector } from "../../connectors/types.js";
import type { JobHandler } from "../queue/types.js";
import { CosellError } from "../shared/errors.js";
import type { CrmUpsertOptions } from "./crm-upsert-handler.js";
import { crmUpsertHandler } from "./crm-upsert-handler.js";
import { SharedLookahead } from "./shared-lookahead.js";
import { SharedRecordCache } from "./shared-record-cache.js";

/**
 * One handler for the `crm-upsert` kind across every CRM: a leased batch is always one target, so
 * the batch's target picks the connector.
 */
export function crmUpsertByTarget(options: Omit<CrmUpsertOptions, "connector" | "shared" | "lookahead"> & { connectors: Map<string, CrmConnector> }): JobHandler {
  const { connectors, ...common } = options;
  // Each CRM remembers its own shared records (a company id means nothing in another CRM).
  const handlers = new Map(
    [...connectors].map(([target, connector]) => {
      const shared = new SharedRecordCache();
      return [target, crmUpsertHandler({ ...common, connector, shared, lookahead: new SharedLookahead({ store: common.store, target, cache: shared }) })];
    }),
  );
  return {
    handle(jobs, context) {
      const target = jobs[0]?.target ?? "";
      const handler = handlers.get(target);
      if (!handler) throw new CosellError("OUTBOX_UNKNOWN_TARGET", `No CRM connector for outbox target "${target}"; check the pair's crm name in the config.`);
      return handler.handle(jobs, context);
    },
  };
}
