import type { Daemon } from "../../src/daemon/daemon.js";
import { mappingSource } from "../../src/mapping/index.js";
import { adaptReferral } from "../../src/partner-center/adapter.js";
import { sellerUiFor } from "../../src/sandbox/seller-ui.js";
import { sameValue } from "../../src/sync/poll-seller-changes.js";

export interface AgreementReport {
  referrals: number;
  checkedRecords: number;
  /** Leads whose CRM record shows a seller's refused value next to its reason (agreement by design). */
  refusalsShown: number;
  problems: string[];
}

/**
 * Partner Center (the sandbox's records), the store and each pair's CRM compared field by field:
 * every Joint Planning lead is stored with Partner Center's eTag and state, and has exactly one
 * record in each CRM whose lifecycle fields show what the mapping makes of Partner Center's record
 * (or the seller's refused value with its reason).
 */
export async function checkAgreement(daemon: Daemon, account: string, pairs: Array<{ pair: string; crm: string; mapping: string }>): Promise<AgreementReport> {
  const problems: string[] = [];
  const pc = daemon.partnerCenter(account).sandbox;
  if (!pc) throw new Error("the checker reads the Partner Center sandbox");
  const referrals = pc.referrals.all().filter((r) => r.referralProgram === "JointPlanning" && r.direction === "Incoming");
  const stored = new Map((await daemon.store.repos.leads.list({ account, limit: 1_000_000 })).map((lead) => [lead.referralId, lead]));
  for (const referral of referrals) {
    const lead = stored.get(referral.id);
    if (!lead) problems.push(`${referral.id}: in Partner Center, not in the store`);
    else if (lead.eTag !== referral.eTag) problems.push(`${referral.id}: store has eTag ${lead.eTag}, Partner Center ${referral.eTag ?? ""}`);
  }
  if (stored.size !== referrals.length) problems.push(`store holds ${stored.size} leads, Partner Center ${referrals.length}`);
  let checkedRecords = 0;
  let refusalsShown = 0;
  // The lifecycle fields compared do not depend on the time of mapping.
  const now = new Date(0);
  for (const { pair, crm, mapping: file } of pairs) {
    const sandbox = daemon.crmSandbox(crm);
    if (!sandbox) throw new Error(`no sandbox for ${crm}`);
    const ui = sellerUiFor(sandbox);
    const mapping = daemon.mappings.get(file);
    const name = mapping.inboundTarget()?.name ?? "lead";
    const byReferral = new Map<string, string[]>();
    for (const record of ui.records()) byReferral.set(record.referralId, [...(byReferral.get(record.referralId) ?? []), record.id]);
    for (const referral of referrals) {
      const ids = byReferral.get(referral.id) ?? [];
      if (ids.length !== 1) {
        problems.push(`${pair}: ${referral.id} has ${ids.length} CRM records`);
        continue;
      }
      checkedRecords += 1;
      const record = ui.read(ids[0] as string);
      const adapted = adaptReferral(referral);
      const expected = mapping.outbound(mappingSource(referral as Record<string, unknown>, adapted.lead, now), { create: true }).records.find((r) => r.name === name)?.fields ?? {};
      const lead = stored.get(referral.id);
      const link = lead ? await daemon.store.repos.crmLinks.find(lead.id, pair, name) : undefined;
      const errorShown = String(record[ui.fields.error] ?? "");
      if ((link?.syncError ?? "") !== errorShown) problems.push(`${pair}: ${referral.id} shows sync error "${errorShown}", the store "${link?.syncError ?? ""}"`);
      if (errorShown) {
        refusalsShown += 1;
        continue;
      }
      for (const field of [ui.fields.status, ui.fields.qualify, ui.fields.evaluate]) {
        if (!sameValue(record[field], expected[field])) problems.push(`${pair}: ${referral.id} ${field} is ${JSON.stringify(record[field])}, Partner Center says ${JSON.stringify(expected[field])}`);
      }
    }
    for (const [referralId] of byReferral) if (!referrals.some((r) => r.id === referralId)) problems.push(`${pair}: CRM record for unknown referral ${referralId}`);
  }
  return { referrals: referrals.length, checkedRecords, refusalsShown, problems };
}
