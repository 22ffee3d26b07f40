import { DataverseSandbox } from "../../connectors/dynamics/sandbox/server.js";
import { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import { parseConfigText } from "../../src/config/index.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { silentLogger } from "../../src/log/logger.js";
import type { PartnerCenterSandbox } from "../../src/sandbox/partner-center/sandbox.js";
import type { ManualClock } from "../../src/shared/clock.js";
import type { TestDatabase } from "./stores.js";
import { createTestDatabase } from "./stores.js";

export type CrmKind = "salesforce" | "hubspot" | "dynamics";

/** The lifecycle fields of a CRM's shipped mapping, and how a seller writes them. */
export interface SellerView {
  status: string;
  qualify: string;
  evaluate: string;
  reason: string;
  error: string;
  dealValue: string;
  /** The CRM's status values by lead state. */
  value: (state: "new" | "accepted" | "won" | "lost" | "declined" | "converted") => unknown;
  flag: (on: boolean) => unknown;
  edit: (recordId: string, fields: Record<string, unknown>) => Promise<void>;
  read: (recordId: string) => Record<string, unknown>;
}

const DYNAMICS_STATUS = { new: 100000000, accepted: 100000001, won: 100000002, lost: 100000003, declined: 100000004, converted: 100000007 };
const SALESFORCE_STATUS = { new: "New", accepted: "Accepted", won: "Won", lost: "Lost", declined: "Declined", converted: "Converted to opportunity" };

function sellerView(daemon: Daemon, kind: CrmKind): SellerView {
  const sandbox = daemon.crmSandbox("crm");
  if (kind === "salesforce" && sandbox instanceof SalesforceSandbox) {
    return {
      status: "Cosell_Status__c",
      qualify: "Cosell_Qualify_Complete__c",
      evaluate: "Cosell_Evaluate_Complete__c",
      reason: "Cosell_Close_Reason__c",
      error: "Cosell_Sync_Error__c",
      dealValue: "Cosell_Deal_Value__c",
      value: (state) => SALESFORCE_STATUS[state],
      flag: (on) => on,
      edit: async (id, fields) => {
        const res = await fetch(`${sandbox.url}/services/data/v62.0/sobjects/Lead/${id}`, {
          method: "PATCH",
          headers: { Authorization: `Bearer ${sandbox.tokenFor(sandbox.seller.Id)}`, "Content-Type": "application/json" },
          body: JSON.stringify(fields),
        });
        if (res.status !== 204) throw new Error(`seller edit refused: ${res.status} ${await res.text()}`);
      },
      read: (id) => ({ ...sandbox.org.leads.get(id) }),
    };
  }
  if (kind === "hubspot" && sandbox instanceof HubSpotSandbox) {
    return {
      status: "cosell_status",
      qualify: "cosell_qualify_complete",
      evaluate: "cosell_evaluate_complete",
      reason: "cosell_close_reason",
      error: "cosell_sync_error",
      dealValue: "cosell_deal_value",
      value: (state) => state,
      flag: (on) => String(on),
      edit: async (id, fields) => sandbox.editAsSeller("leads", [id], Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)]))),
      read: (id) => ({ ...sandbox.get("leads", id)?.properties }),
    };
  }
  if (kind === "dynamics" && sandbox instanceof DataverseSandbox) {
    return {
      status: "cosell_status",
      qualify: "cosell_qualifycomplete",
      evaluate: "cosell_evaluatecomplete",
      reason: "cosell_closereason",
      error: "cosell_syncerror",
      dealValue: "cosell_dealvalue",
      value: (state) => DYNAMICS_STATUS[state],
      flag: (on) => on,
      edit: async (id, fields) => sandbox.editAsSeller(id, fields),
      read: (id) => ({ ...sandbox.rows.find((row) => row.leadid === id) }),
    };
  }
  throw new Error(`no ${kind} sandbox`);
}

export interface TwoWayRig {
  daemon: Daemon;
  pc: PartnerCenterSandbox;
  seller: SellerView;
  /** The CRM record id of a lead (its primary object). */
  recordOf(referralId: string): Promise<string>;
  /** One pass each way as `sync --once` runs it: pull, poll CRM changes, drain every target. */
  pass(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** The whole daemon, one pair, on in-process sandboxes and a manual clock; the test drives each pass. */
export async function startTwoWay(kind: CrmKind, clock: ManualClock, options: { debounce?: string } = {}): Promise<TwoWayRig> {
  const database: TestDatabase = await createTestDatabase("sqlite");
  const config = parseConfigText(
    [
      `store:\n  url: ${database.url}`,
      "partnerCenter:\n  accounts:\n    pc:\n      auth:\n        mode: sandbox",
      `crms:\n  crm:\n    type: ${kind}\n    auth:\n      mode: sandbox`,
      `pairs:\n  - name: p\n    partnerCenter: pc\n    crm: crm\n    mapping: mappings/${kind}.yaml\n    debounce: ${options.debounce ?? "30s"}\n    acceptAs: { firstName: Ana, lastName: Seller, email: ana.seller@partner.example }`,
    ].join("\n"),
    "two-way.yaml",
    { env: {}, cwd: process.cwd() },
  );
  const daemon = new Daemon({ config, logger: silentLogger(), clock, oneShot: true });
  await daemon.start();
  const pc = daemon.partnerCenter("pc").sandbox;
  if (!pc) throw new Error("no Partner Center sandbox");
  const inboundName = "lead";
  const view = sellerView(daemon, kind);
  return {
    daemon,
    pc,
    // A seller's save happens a moment after whatever came before it, as in life (a frozen clock
    // would stamp it with the change feed's cursor time).
    seller: { ...view, edit: async (id, fields) => { clock.advance(1_000); await view.edit(id, fields); } },
    recordOf: async (referralId) => {
      const lead = await daemon.store.repos.leads.findByReferralId("pc", referralId);
      const link = lead ? await daemon.store.repos.crmLinks.find(lead.id, "p", inboundName) : undefined;
      if (!link?.crmRecordId) throw new Error(`no CRM record for ${referralId}`);
      return link.crmRecordId;
    },
    pass: async () => {
      await daemon.pullNow();
      await daemon.pollCrmsNow();
      return daemon.drainOutbox();
    },
    close: async () => {
      await daemon.stop("test");
      await database.drop();
    },
  };
}
