import type { Command } from "commander";
import { CosellError } from "../../shared/errors.js";
import { systemClock } from "../../shared/clock.js";
import { parseDuration } from "../../shared/duration.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";
import { withStore } from "../store-access.js";

interface DueRow {
  at: string;
  deadline: "accept" | "act";
  overdue: boolean;
  leadId: number;
  referralId: string;
  name: string;
  state: string;
  account: string;
  pairs: string[];
  owner: string;
}

const stamp = (date: Date) => date.toISOString().slice(0, 16).replace("T", " ");

export function registerDeadlinesCommand(program: Command, io: CliIo): void {
  const command = program
    .command("deadlines")
    .description("open leads whose accept-by or act-by falls within a window, soonest first, by pair and owner")
    .option("--within <time>", "how far ahead to look (e.g. 24h, 7d)", "7d")
    .option("--limit <n>", "at most this many leads", "200")
    .addHelpText("after", "\nOverdue leads (the sweep has not closed them yet) come first.\nExit codes: 0 listed (even when none), 2 bad usage, 69 store unreachable, 78 bad config.");
  withJsonOption(withConfigOption(command)).action(async (options: ConfigOptions & JsonOptions & { within: string; limit: string }) => {
    const withinMs = parseDuration(options.within);
    if (withinMs === undefined) throw new CosellError("CLI_USAGE", `--within takes a duration like "24h" or "7d" (got "${options.within}").`);
    const limit = Number(options.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new CosellError("CLI_USAGE", "--limit takes a positive whole number.");
    const now = systemClock.now();
    const rows = await withStore(options, io, async (store, config) => {
      const due = await store.repos.leads.listDueBy(new Date(now.getTime() + withinMs), limit);
      return due.map(({ lead, deadline, at }): DueRow => ({
        at: at.toISOString(),
        deadline,
        overdue: at <= now,
        leadId: lead.id,
        referralId: lead.referralId,
        name: lead.name,
        state: lead.state,
        account: lead.account,
        pairs: config.pairs.filter((pair) => pair.enabled && pair.partnerCenter === lead.account).map((pair) => pair.name),
        owner: lead.ownerEmail ?? "unassigned",
      }));
    });
    if (options.json) return printJson(io, { ok: true, within: options.within, now: now.toISOString(), leads: rows });
    if (rows.length === 0) {
      io.stdout.write(`No open lead has a deadline within ${options.within}.\n`);
      return;
    }
    for (const pair of [...new Set(rows.flatMap((row) => (row.pairs.length > 0 ? row.pairs : ["(no pair)"])))]) {
      io.stdout.write(`${pair}\n`);
      const mine = rows.filter((row) => (row.pairs.length > 0 ? row.pairs.includes(pair) : pair === "(no pair)"));
      for (const owner of [...new Set(mine.map((row) => row.owner))]) {
        io.stdout.write(`  ${owner}\n`);
        for (const row of mine.filter((r) => r.owner === owner)) {
          io.stdout.write(`    ${row.overdue ? "OVERDUE " : ""}${row.deadline === "accept" ? "accept by" : "act by"} ${stamp(new Date(row.at))}  ${row.referralId}  ${row.name}\n`);
        }
      }
    }
  });
}
