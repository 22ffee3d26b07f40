import type { CrmConnector } from "../../connectors/types.js";
import type { JobHandler } from "../queue/types.js";
import type { Clock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import type { Store } from "../store/index.js";
import { crmUpsertHandler } from "./crm-upsert-handler.js";

/**
 * One handler for the `crm-upsert` kind across every CRM: a leased batch is always one target, so
 * the batch's target picks the connector.
 */
export function crmUpsertByTarget(options: { connectors: Map<string, CrmConnector>; store: Store; clock: Clock }): JobHandler {
  const handlers = new Map([...options.connectors].map(([target, connector]) => [target, crmUpsertHandler({ connector, store: options.store, clock: options.clock })]));
  return {
    handle(jobs, context) {
      const target = jobs[0]?.target ?? "";
      const handler = handlers.get(target);
      if (!handler) throw new CosellError("OUTBOX_UNKNOWN_TARGET", `No CRM connector for outbox target "${target}"; check the pair's crm name in the config.`);
      return handler.handle(jobs, context);
    },
  };
}
