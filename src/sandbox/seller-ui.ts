import type { DataverseSandbox } from "../../connectors/dynamics/sandbox/server.js";
import { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import { CosellError } from "../shared/errors.js";
import { groupBy } from "../shared/group-by.js";
import { PARTNER_SELLERS } from "../../connectors/sandbox-people.js";

export type SellerState = "new" | "accepted" | "won" | "lost" | "declined" | "converted";

/** One lead as a seller sees it in the CRM's list view. */
export interface SellerRecord {
  id: string;
  referralId: string;
  status: SellerState | "other";
  qualify: boolean;
  evaluate: boolean;
  syncError: string;
  /** Titles of the reminder tasks on the record (what the seller sees in their task list). */
  reminders: string[];
  /** The record's owner id (a user, or a queue or team). */
  owner: string;
}

/** A partner seller as a CRM user a record can be handed to. */
export interface Colleague {
  id: string;
  email: string;
  /** What the seller's save writes to the owner field. */
  value: unknown;
}

/**
 * What a seller does in one CRM, through that CRM's public API with the seller's own credentials
 * (so the daemon sees a user's edit, not its own): read the lead list and save a record. Field names
 * are the shipped mappings'.
 */
export interface SellerUi {
  readonly crm: "salesforce" | "hubspot" | "dynamics";
  /** Field names of the status, substage flags, close reason and sync error. */
  readonly fields: { status: string; qualify: string; evaluate: string; reason: string; error: string; dealValue: string };
  value(state: SellerState): unknown;
  flag(on: boolean): unknown;
  /** The field a save writes to hand a record to someone else. */
  readonly ownerField: string;
  /** The active partner sellers in this CRM. */
  colleagues(): Colleague[];
  records(): SellerRecord[];
  /** Reminder tasks in this CRM. */
  taskCount(): number;
  read(id: string): Record<string, unknown>;
  save(id: string, fields: Record<string, unknown>): Promise<void>;
}

/** The partner sellers (not the admin, not the integration user) a record may be handed to. */
const sellerEmails = new Set(PARTNER_SELLERS.map((seller) => seller.email));

const DYNAMICS_STATUS: Record<SellerState, number> = { new: 100000000, accepted: 100000001, won: 100000002, lost: 100000003, declined: 100000004, converted: 100000007 };
const SALESFORCE_STATUS: Record<SellerState, string> = { new: "New", accepted: "Accepted", won: "Won", lost: "Lost", declined: "Declined", converted: "Converted to opportunity" };

function stateOf(value: unknown, table: Record<SellerState, unknown>): SellerState | "other" {
  const found = (Object.keys(table) as SellerState[]).find((state) => String(table[state]) === String(value));
  return found ?? "other";
}

async function expectOk(res: Response, what: string): Promise<void> {
  if (!res.ok) throw new CosellError("SANDBOX_SELLER_EDIT_REFUSED", `The CRM sandbox refused a seller's ${what}: ${res.status} ${await res.text()}`);
}

export function sellerUiFor(sandbox: SalesforceSandbox | HubSpotSandbox | DataverseSandbox): SellerUi {
  if (sandbox instanceof SalesforceSandbox) {
    const fields = { status: "Cosell_Status__c", qualify: "Cosell_Qualify_Complete__c", evaluate: "Cosell_Evaluate_Complete__c", reason: "Cosell_Close_Reason__c", error: "Cosell_Sync_Error__c", dealValue: "Cosell_Deal_Value__c" };
    return {
      crm: "salesforce",
      fields,
      value: (state) => SALESFORCE_STATUS[state],
      flag: (on) => on,
      records: () => {
        const tasks = groupBy([...sandbox.org.tasks.values()], (t) => String(t.WhoId), (t) => String(t.Subject));
        return [...sandbox.org.leads.values()]
          .filter((r) => typeof r.Cosell_Referral_Id__c === "string")
          .map((r) => ({ id: r.Id, referralId: String(r.Cosell_Referral_Id__c), status: stateOf(r[fields.status], SALESFORCE_STATUS), qualify: r[fields.qualify] === true, evaluate: r[fields.evaluate] === true, syncError: String(r[fields.error] ?? ""), reminders: tasks.get(r.Id) ?? [], owner: String(r.OwnerId ?? "") }));
      },
      ownerField: "OwnerId",
      colleagues: () => [...sandbox.org.users.values()].filter((u) => u.IsActive && sellerEmails.has(u.Email)).map((u) => ({ id: u.Id, email: u.Email, value: u.Id })),
      taskCount: () => sandbox.org.tasks.size,
      read: (id) => ({ ...sandbox.org.leads.get(id) }),
      save: async (id, values) => {
        const res = await fetch(`${sandbox.url}/services/data/v62.0/sobjects/Lead/${id}`, {
          method: "PATCH",
          headers: { Authorization: `Bearer ${sandbox.tokenFor(sandbox.seller.Id)}`, "Content-Type": "application/json" },
          body: JSON.stringify(values),
        });
        await expectOk(res, "save");
      },
    };
  }
  if (sandbox instanceof HubSpotSandbox) {
    const fields = { status: "cosell_status", qualify: "cosell_qualify_complete", evaluate: "cosell_evaluate_complete", reason: "cosell_close_reason", error: "cosell_sync_error", dealValue: "cosell_deal_value" };
    const table = Object.fromEntries((Object.keys(DYNAMICS_STATUS) as SellerState[]).map((s) => [s, s])) as Record<SellerState, string>;
    return {
      crm: "hubspot",
      fields,
      value: (state) => state,
      flag: (on) => String(on),
      records: () =>
        sandbox
          .all("leads")
          .filter((r) => r.properties.cosell_referral_id)
          .map((r) => ({
            id: r.id,
            referralId: String(r.properties.cosell_referral_id),
            status: stateOf(r.properties[fields.status], table),
            qualify: r.properties[fields.qualify] === "true",
            evaluate: r.properties[fields.evaluate] === "true",
            syncError: String(r.properties[fields.error] ?? ""),
            reminders: r.associations.filter((a) => a.toType === "tasks").map((a) => String(sandbox.get("tasks", a.toId)?.properties.hs_task_subject ?? "")),
            owner: String(r.properties.hubspot_owner_id ?? ""),
          })),
      ownerField: "hubspot_owner_id",
      colleagues: () => sandbox.owners.filter((o) => !o.archived && sellerEmails.has(o.email)).map((o) => ({ id: o.id, email: o.email, value: o.id })),
      taskCount: () => sandbox.count("tasks"),
      read: (id) => ({ ...sandbox.get("leads", id)?.properties }),
      save: async (id, values) => {
        const res = await fetch(`${sandbox.url}/crm/v3/objects/leads/${id}`, {
          method: "PATCH",
          headers: { Authorization: `Bearer ${sandbox.sellerToken}`, "Content-Type": "application/json" },
          body: JSON.stringify({ properties: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)])) }),
        });
        await expectOk(res, "save");
      },
    };
  }
  const fields = { status: "cosell_status", qualify: "cosell_qualifycomplete", evaluate: "cosell_evaluatecomplete", reason: "cosell_closereason", error: "cosell_syncerror", dealValue: "cosell_dealvalue" };
  const seller = sandbox.entra.registerUser(sandbox.app, "seller@partner.example", "Sam Seller");
  return {
    crm: "dynamics",
    fields,
    value: (state) => DYNAMICS_STATUS[state],
    flag: (on) => on,
    records: () => {
      const tasks = groupBy([...sandbox.tasks.values()], (t) => String(t.regardingLeadId), (t) => String(t.subject));
      return sandbox.rows
        .filter((r) => typeof r.cosell_referralid === "string")
        .map((r) => ({ id: String(r.leadid), referralId: String(r.cosell_referralid), status: stateOf(r[fields.status], DYNAMICS_STATUS), qualify: r[fields.qualify] === true, evaluate: r[fields.evaluate] === true, syncError: String(r[fields.error] ?? ""), reminders: tasks.get(String(r.leadid)) ?? [], owner: String(r._ownerid_value ?? "") }));
    },
    ownerField: "ownerid@odata.bind",
    colleagues: () => sandbox.users.filter((u) => !u.isdisabled && sellerEmails.has(u.internalemailaddress ?? "")).map((u) => ({ id: u.systemuserid, email: u.internalemailaddress ?? "", value: `/systemusers(${u.systemuserid})` })),
    taskCount: () => sandbox.tasks.size,
    read: (id) => ({ ...sandbox.row(id) }),
    save: async (id, values) => {
      const token = sandbox.entra.issueAccessToken({ kind: "user", clientId: sandbox.app.clientId, audience: sandbox.url, user: { oid: seller.oid, upn: seller.upn } });
      const res = await fetch(`${sandbox.url}/api/data/v9.2/leads(${id})`, {
        method: "PATCH",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "If-Match": "*" },
        body: JSON.stringify(values),
      });
      await expectOk(res, "save");
    },
  };
}
