import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { LeadState } from "../../domain/index.js";
import { isLeadState, LEAD_STATES } from "../../domain/index.js";
import { CosellError } from "../../shared/errors.js";
import type { CrmLink, LeadEvent, LeadRecord, Store } from "../../store/index.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";
import { withStore } from "../store-access.js";

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a positive whole number");
  return n;
}

const day = (date: Date | undefined) => (date ? date.toISOString().slice(0, 16).replace("T", " ") : "—");

/** What partner ops read first: what state, and which deadline is next. */
function line(lead: LeadRecord): string {
  const deadline = lead.state === "new" ? `accept by ${day(lead.acceptBy)}` : lead.actBy ? `act by ${day(lead.actBy)}` : "";
  return `${String(lead.id).padStart(6)}  ${lead.state.padEnd(10)} ${lead.referralId.padEnd(36)}  ${deadline.padEnd(26)} ${lead.name}`;
}

/** A lead by store id, or by its Partner Center referral id (in any account when not given). */
async function findLead(store: Store, ref: string, account?: string): Promise<LeadRecord | undefined> {
  if (/^\d+$/.test(ref)) return store.repos.leads.findById(Number(ref));
  if (account) return store.repos.leads.findByReferralId(account, ref);
  const matches = await store.repos.leads.findByReferralIdInAnyAccount(ref);
  if (matches.length > 1) throw new CosellError("CLI_USAGE", `Referral ${ref} is in ${matches.length} accounts (${matches.map((m) => m.account).join(", ")}); say which with --account.`);
  return matches[0];
}

export function registerLeadsCommands(program: Command, io: CliIo): void {
  const leads = program.command("leads").description("what the store knows of each lead: state, deadlines, CRM records and timeline");

  const list = leads
    .command("list")
    .description("leads, newest Partner Center change first")
    .option("--state <state>", `only one state: ${LEAD_STATES.join(", ")}`)
    .option("-a, --account <name>", "only this Partner Center account")
    .option("--limit <n>", "at most this many", positive, 50);
  withJsonOption(withConfigOption(list)).action(async (options: ConfigOptions & JsonOptions & { state?: string; account?: string; limit: number }) => {
    if (options.state !== undefined && !isLeadState(options.state)) throw new CosellError("CLI_USAGE", `--state must be one of ${LEAD_STATES.join(", ")}.`);
    const found = await withStore(options, io, (store) =>
      store.repos.leads.list({ ...(options.state ? { state: options.state as LeadState } : {}), ...(options.account ? { account: options.account } : {}), limit: options.limit }),
    );
    if (options.json) return printJson(io, { ok: true, leads: found.map(({ raw: _raw, ...lead }) => lead) });
    if (found.length === 0) io.stdout.write("No leads.\n");
    for (const lead of found) io.stdout.write(`${line(lead)}\n`);
  });

  const show = leads
    .command("show")
    .description("one lead: state, deadlines, CRM ids, and its timeline (every pull, write, retry and refusal, with its cause)")
    .argument("<lead>", "store id, or Partner Center referral id")
    .option("-a, --account <name>", "the account, when a referral id is in several")
    .option("--events <n>", "at most this many timeline entries, newest first", positive, 100);
  withJsonOption(withConfigOption(show)).action(async (ref: string, options: ConfigOptions & JsonOptions & { account?: string; events: number }) => {
    const result = await withStore(options, io, async (store): Promise<{ lead: LeadRecord; links: CrmLink[]; timeline: LeadEvent[] } | undefined> => {
      const lead = await findLead(store, ref, options.account);
      if (!lead) return undefined;
      return { lead, links: await store.repos.crmLinks.forLead(lead.id), timeline: await store.repos.events.timeline(lead.id, { limit: options.events }) };
    });
    if (!result) throw new CosellError("LEAD_NOT_FOUND", `No lead ${ref} in the store; see \`cosell-sync leads list\`.`);
    const { lead, links, timeline } = result;
    if (options.json) return printJson(io, { ok: true, lead: { ...lead, raw: undefined }, links, timeline });
    io.stdout.write(`${line(lead)}\n`);
    io.stdout.write(`  account ${lead.account}, Partner Center status ${lead.status}${lead.substatus ? ` / ${lead.substatus}` : ""}, eTag ${lead.eTag}\n`);
    io.stdout.write(`  accept by ${day(lead.acceptBy)}   act by ${day(lead.actBy)}   expires ${day(lead.expiresAt)}\n`);
    if (lead.qualifyCompletedAt || lead.evaluateCompletedAt) io.stdout.write(`  Qualify done ${day(lead.qualifyCompletedAt)}   Evaluate done ${day(lead.evaluateCompletedAt)}\n`);
    io.stdout.write(links.length === 0 ? "  CRM: not written yet\n" : "  CRM:\n");
    for (const link of links) io.stdout.write(`    ${link.pair.padEnd(20)} ${link.crmObject.padEnd(10)} ${(link.crmRecordId ?? "—").padEnd(24)} ${link.status}${link.lastPushedAt ? `, pushed ${day(link.lastPushedAt)}` : ""}\n`);
    io.stdout.write("  timeline (newest first):\n");
    for (const event of timeline) io.stdout.write(`    ${event.at.toISOString()}  ${event.side.padEnd(14)} ${event.kind.padEnd(20)} ${event.pair ?? ""}${event.cause ? `  ${event.cause}` : ""}\n`);
  });
}
