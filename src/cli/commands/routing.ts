import type { Command } from "commander";
import type { PairConfig } from "../../config/index.js";
import { loadConfig } from "../../config/index.js";
import { openCrmConnector } from "../../daemon/crm-connectors.js";
import { createLogger } from "../../log/logger.js";
import { adaptReferral } from "../../partner-center/adapter.js";
import type { RoutingDecision } from "../../routing/decide.js";
import { decideRouting, describeOwnerSpec } from "../../routing/decide.js";
import type { RoutedOwner } from "../../routing/owner-directory.js";
import { OwnerDirectory } from "../../routing/owner-directory.js";
import { systemClock } from "../../shared/clock.js";
import { CosellError } from "../../shared/errors.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";
import { readSampleLead } from "./mapping.js";

interface ExplainOptions extends ConfigOptions, JsonOptions {
  lead: string;
  pair?: string;
  resolve?: boolean;
}

export function registerRoutingCommands(program: Command, io: CliIo): void {
  const routing = program.command("routing").description("see who a pair's leads go to in the CRM");
  const explain = routing
    .command("explain")
    .description("show which routing rule a lead matches and the owners it would go to, in order")
    .requiredOption("-l, --lead <file>", "a Partner Center referral as JSON (mappings/samples/joint-planning-lead.json is one)")
    .option("-p, --pair <name>", "the sync pair (default: the only pair with routing)")
    .option("--resolve", "also ask the pair's CRM which of the owners exists and is active (who the lead would get)")
    .addHelpText("after", "\nExit codes: 0 explained, 1 --resolve found no owner in the CRM (or the lead file or pair cannot be used), 78 invalid config.");
  withJsonOption(withConfigOption(explain)).action(async (options: ExplainOptions) => {
    const { config } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
    const pair = pickPair(config.pairs, options.pair);
    const routingConfig = pair.routing;
    if (!routingConfig) throw new CosellError("ROUTING_NOT_CONFIGURED", `Pair "${pair.name}" has no routing: its CRM gives new records its default owner. Add pairs[].routing (mode central, direct or rules) to route leads.`);
    const { lead } = adaptReferral(await readSampleLead(options.lead, io.cwd));
    const decision = decideRouting(routingConfig, lead);
    let resolved: RoutedOwner | undefined;
    if (options.resolve) {
      const crm = config.crms[pair.crm];
      if (!crm) throw new CosellError("CLI_PAIR_UNKNOWN", `Pair "${pair.name}" names CRM "${pair.crm}", which the config does not define.`);
      const opened = await openCrmConnector(pair.crm, crm, createLogger({ level: "warn", pretty: "never", destination: io.stderr as never }));
      try {
        resolved = await new OwnerDirectory({ connector: opened.connector, clock: systemClock, ttlMs: 0, crmName: pair.crm }).resolve(decision);
      } finally {
        await opened.close();
      }
    }
    if (options.json) printJson(io, { pair: pair.name, referralId: lead.referralId, ...decision, ...(resolved ? { resolved } : {}) });
    else printExplanation(io, pair.name, lead.referralId, decision, resolved);
    if (resolved && !resolved.owner) throw Object.assign(new CosellError("ROUTING_NO_OWNER", "No owner the routing names exists in the CRM."), { alreadyReported: true });
  });
}

function pickPair(pairs: PairConfig[], name: string | undefined): PairConfig {
  if (name) {
    const pair = pairs.find((p) => p.name === name);
    if (!pair) throw new CosellError("CLI_PAIR_UNKNOWN", `No pair "${name}" in the config (known: ${pairs.map((p) => p.name).join(", ")}).`);
    return pair;
  }
  const routed = pairs.filter((p) => p.routing);
  if (routed.length === 1) return routed[0] as PairConfig;
  throw new CosellError("CLI_PAIR_REQUIRED", routed.length === 0 ? "No pair in the config has routing; add pairs[].routing, or name a pair with --pair." : `Several pairs have routing (${routed.map((p) => p.name).join(", ")}); name one with --pair.`);
}

function printExplanation(io: CliIo, pair: string, referralId: string, decision: RoutingDecision, resolved: RoutedOwner | undefined): void {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  out(`${pair}: lead ${referralId}, routing mode ${decision.mode}`);
  for (const rule of decision.rules ?? []) {
    out(`  ${rule.matched ? "✔" : "✘"} ${rule.name}`);
    for (const check of rule.conditions) out(`      ${check.matched ? "✔" : "✘"} ${check.condition} in [${check.wanted.join(", ")}]: the lead has ${check.actual.length > 0 ? check.actual.join(", ") : "nothing"}`);
  }
  out(`Decided by: ${decision.reason}`);
  out("Owners, in order (the first one active in the CRM gets the lead):");
  decision.candidates.forEach((candidate, index) => out(`  ${index + 1}. ${describeOwnerSpec(candidate.owner)}  (${candidate.why})`));
  if (!resolved) {
    out("(Run with --resolve to ask the CRM which of them exists.)");
    return;
  }
  for (const problem of resolved.problems) out(`  skipped: ${problem.message}`);
  out(resolved.owner ? `The lead goes to ${resolved.owner.name}${resolved.owner.email ? ` <${resolved.owner.email}>` : ""} (${resolved.owner.kind} ${resolved.owner.id}).` : "No owner exists in the CRM: the record would keep the CRM's default owner.");
}
