import { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { parseConfigText } from "../../src/config/index.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { silentLogger } from "../../src/log/logger.js";
import type { PartnerCenterSandbox } from "../../src/sandbox/partner-center/sandbox.js";
import { sellerUiFor } from "../../src/sandbox/seller-ui.js";
import type { Clock, ManualClock } from "../../src/shared/clock.js";
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

function sellerView(daemon: Daemon): SellerView {
  const sandbox = daemon.crmSandbox("crm");
  if (!sandbox) throw new Error("no CRM sandbox");
  // The seller simulator's own CRM access: each CRM's public API with a seller's credentials.
  const ui = sellerUiFor(sandbox);
  return { ...ui.fields, value: (state) => ui.value(state), flag: (on) => ui.flag(on), edit: (id, fields) => ui.save(id, fields), read: (id) => ui.read(id) };
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

/**
 * On a manual clock the outbox cannot pace (a reading that stands still lets calls go unpaced), so
 * the HubSpot sandbox's real-time limit of five searches a second would refuse a test's quick
 * passes. These tests are about the sync, not the rate: the limit is lifted for them.
 */
export function liftSearchLimit(daemon: Daemon, crm: string): void {
  const sandbox = daemon.crmSandbox(crm);
  if (sandbox instanceof HubSpotSandbox) sandbox.limits.searchesPerSecond = Number.POSITIVE_INFINITY;
}

/** The whole daemon, one pair, on in-process sandboxes and a manual clock; the test drives each pass. */
export async function startTwoWay(kind: CrmKind, clock: ManualClock, options: { debounce?: string; mail?: boolean; teams?: boolean; crmTasks?: boolean; http?: string; env?: NodeJS.ProcessEnv; routing?: string; mapping?: string; rateClock?: Clock } = {}): Promise<TwoWayRig> {
  const database: TestDatabase = await createTestDatabase("sqlite");
  const config = parseConfigText(
    [
      `store:\n  url: ${database.url}`,
      ...(options.http !== undefined ? [`http:\n  host: 127.0.0.1\n  port: 0\n${options.http}`] : []),
      ...(options.mail || options.teams
        ? [
            ["notify:", ...(options.mail ? ["  mail:\n    sender: reminders@partner.example\n    auth:\n      mode: sandbox"] : []), ...(options.teams ? ["  teams:\n    mode: sandbox\n    timeZone: Europe/Berlin"] : [])].join("\n"),
            `deadlines:\n  admin: referrals@partner.example\n  crmTasks: ${String(options.crmTasks ?? true)}`,
          ]
        : []),
      "partnerCenter:\n  accounts:\n    pc:\n      auth:\n        mode: sandbox",
      `crms:\n  crm:\n    type: ${kind}\n    auth:\n      mode: sandbox`,
      `pairs:\n  - name: p\n    partnerCenter: pc\n    crm: crm\n    mapping: ${options.mapping ?? `mappings/${kind}.yaml`}\n    debounce: ${options.debounce ?? "30s"}\n    acceptAs: { firstName: Ana, lastName: Seller, email: ana.seller@partner.example }${options.routing ? `\n    routing: ${options.routing}` : ""}`,
    ].join("\n"),
    "two-way.yaml",
    { env: options.env ?? {}, cwd: process.cwd() },
  );
  const daemon = new Daemon({ config, logger: silentLogger(), clock, oneShot: true, serveHttp: options.http !== undefined, ...(options.rateClock ? { rateClock: options.rateClock } : {}) });
  await daemon.start();
  // Paced on a real rate clock, the test keeps HubSpot's search limit.
  if (!options.rateClock) liftSearchLimit(daemon, "crm");
  const pc = daemon.partnerCenter("pc").sandbox;
  if (!pc) throw new Error("no Partner Center sandbox");
  const inboundName = "lead";
  const view = sellerView(daemon);
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
