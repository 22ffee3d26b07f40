import type { Config } from "../config/index.js";
import type { Logger } from "../log/logger.js";
import { loadMappingFile } from "../mapping/index.js";
import { systemClock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import { redactUrl, Store } from "../store/index.js";
import { describeOwnerSpec } from "../routing/decide.js";
import { OwnerDirectory } from "../routing/owner-directory.js";
import { openCrmConnector } from "./crm-connectors.js";
import { MAX_CLOCK_SKEW_MS } from "./daemon.js";
import { openMail } from "./mail-channel.js";
import { webhookRegistrationClientFor } from "./partner-center-access.js";
import { openPartnerCenter } from "./partner-center-source.js";

export interface DoctorCheck {
  /** What was checked, e.g. "crm demo-hubspot: schema". */
  name: string;
  ok: boolean;
  /** What was found. */
  detail: string;
  /** What to do about a failure. */
  fix?: string;
  /** The error code a failure carried, when it had one. */
  code?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
}

/**
 * Everything a deployment needs, checked against the real systems without changing anything: the
 * store and its migrations, a token and one read for every Partner Center account, CRM and mail
 * channel, each pair's CRM schema against its mapping, each account's webhook registration, and
 * the clock against Partner Center's. Sandbox accounts are checked against in-process sandboxes.
 */
export async function runDoctor(config: Config, options: { logger: Logger; cwd: string }): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const check = async (name: string, work: () => Promise<{ detail: string; ok?: boolean; fix?: string }>) => {
    try {
      const result = await work();
      checks.push({ name, ok: result.ok ?? true, detail: result.detail, ...(result.fix ? { fix: result.fix } : {}) });
    } catch (error) {
      const cosell = error instanceof CosellError ? error : undefined;
      checks.push({ name, ok: false, detail: (error as Error).message, ...(cosell ? { code: cosell.code } : {}) });
    }
  };
  const clock = systemClock;

  await check("store", async () => {
    const store = await Store.open({ url: config.store.url, busyTimeoutMs: config.store.busyTimeoutMs, poolMax: 2, cwd: options.cwd }, options.logger);
    try {
      const status = await store.migrationStatus();
      const where = `${store.kind} at ${redactUrl(config.store.url)}`;
      if (status.applied.length === 0) return { detail: `${where} answers and is empty; the daemon creates the schema when it first starts` };
      if (status.pending.length > 0) return { detail: `${where}, ${status.applied.length} migrations applied; ${status.pending.length} more (${status.pending.join(", ")}) apply at the next start or with \`cosell-sync db migrate\`` };
      return { detail: `${where}, schema up to date (${status.applied.length} migrations)` };
    } finally {
      await store.close();
    }
  });

  const pairs = config.pairs.filter((pair) => pair.enabled);
  for (const pair of pairs) {
    await check(`pair ${pair.name}: mapping`, async () => {
      const { mapping } = await loadMappingFile(pair.mapping, options.cwd);
      return { detail: `${pair.mapping} loads (${mapping.describeObjects().map((o) => o.object).join(", ")})` };
    });
  }

  for (const account of new Set(pairs.map((pair) => pair.partnerCenter))) {
    const settings = config.partnerCenter.accounts[account];
    if (!settings) continue;
    const sandbox = settings.auth.mode === "sandbox";
    let skew: number | undefined;
    await check(`partner center ${account}: token and read`, async () => {
      const opened = await openPartnerCenter(account, settings, { logger: options.logger, clock, cwd: options.cwd });
      try {
        const pages = opened.client.listChanged({ pageSize: 1, filter: "referralProgram eq 'JointPlanning'" });
        const first = await pages.next();
        await pages.return(undefined);
        skew = opened.client.clockSkewMs;
        return { detail: `${sandbox ? "sandbox" : "signed in"}; referrals readable${first.done ? " (none yet)" : ""}` };
      } finally {
        await opened.close();
      }
    });
    if (skew !== undefined) {
      const off = Math.abs(skew) > MAX_CLOCK_SKEW_MS;
      checks.push({
        name: `partner center ${account}: clock`,
        ok: !off,
        detail: Math.abs(skew) < 1000 ? "in step with Partner Center" : `this machine is ${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? "behind" : "ahead of"} Partner Center (Date has 1 s resolution)`,
        ...(off ? { fix: "sync this machine's clock (NTP); deadlines are timed from Partner Center's timestamps" } : {}),
      });
    }
    if (sandbox) continue;
    await check(`partner center ${account}: webhook`, async () => {
      const expected = settings.webhook.publicUrl;
      const current = await webhookRegistrationClientFor(account, settings, options.logger, options.cwd).get();
      if (!expected) return { ok: false, detail: current ? `registered to ${current.webhookUrl}` : "no webhook registered", fix: `set partnerCenter.accounts.${account}.webhook.publicUrl to this daemon's public https URL, then run \`cosell-sync webhook register --account ${account}\` (polling alone works, with up to a poll interval of delay)` };
      if (!current) return { ok: false, detail: "no webhook registered", fix: `run \`cosell-sync webhook register --account ${account}\`` };
      if (current.webhookUrl !== expected) return { ok: false, detail: `webhooks go to ${current.webhookUrl}, not ${expected}`, fix: `run \`cosell-sync webhook register --account ${account} --force\` if that URL is an old one of ours` };
      return { detail: `registered to ${expected} for ${current.events.join(", ")}` };
    });
  }

  for (const crmName of new Set(pairs.map((pair) => pair.crm))) {
    const settings = config.crms[crmName];
    if (!settings) continue;
    await check(`crm ${crmName}: token and schema`, async () => {
      const opened = await openCrmConnector(crmName, settings, options.logger);
      try {
        const problems: string[] = [];
        for (const pair of pairs.filter((p) => p.crm === crmName)) {
          const { mapping } = await loadMappingFile(pair.mapping, options.cwd);
          const report = await opened.connector.checkSchema(mapping.requirements());
          for (const problem of report.problems) problems.push(`${pair.name}: ${problem.object}${problem.field ? `.${problem.field}` : ""}: ${problem.message}`);
        }
        if (problems.length > 0) return { ok: false, detail: problems.join("\n"), fix: `create what is listed (\`cosell-sync crm check --pair <name> [--fix]\`; connectors/${settings.type}/README.md)` };
        return { detail: `${settings.auth.mode === "sandbox" ? "sandbox" : "signed in"}; every field the mappings need is there` };
      } finally {
        await opened.close();
      }
    });
  }

  for (const pair of pairs.filter((p) => p.routing)) {
    const settings = config.crms[pair.crm];
    const routing = pair.routing;
    if (!settings || !routing) continue;
    await check(`pair ${pair.name}: routing owners`, async () => {
      const { mapping } = await loadMappingFile(pair.mapping, options.cwd);
      if (mapping.routedOwnerFields().length === 0) {
        return { ok: false, detail: `${pair.mapping} writes no field from sync.owner, so routing changes nothing`, fix: `add the owner field to the lead object of ${pair.mapping} (Salesforce \`OwnerId: sync.owner\`, HubSpot \`hubspot_owner_id: sync.owner\`, Dataverse \`ownerid@odata.bind: sync.owner\`)` };
      }
      const named = routing.mode === "rules" ? [...routing.rules.map((rule, i) => ({ owner: rule.owner, why: `rule ${i + 1}${rule.name ? ` (${rule.name})` : ""}` })), { owner: routing.default, why: "the default" }] : [{ owner: routing.owner, why: "the central owner" }];
      const opened = await openCrmConnector(pair.crm, settings, options.logger);
      try {
        const directory = new OwnerDirectory({ connector: opened.connector, clock, ttlMs: 0, crmName: pair.crm });
        const found: string[] = [];
        const problems: string[] = [];
        for (const candidate of named) {
          const routed = await directory.resolve({ candidates: [candidate] });
          if (routed.owner) found.push(`${describeOwnerSpec(candidate.owner)} → ${routed.owner.name}`);
          else problems.push(...routed.problems.map((p) => p.message));
        }
        if (problems.length > 0) return { ok: false, detail: problems.join("\n"), fix: "add or reactivate the users named, or correct pairs[].routing (`cosell-sync routing explain --resolve` shows who a lead would get)" };
        return { detail: `${routing.mode}: ${found.join("; ")}` };
      } finally {
        await opened.close();
      }
    });
  }

  const mail = config.notify.mail;
  if (mail) {
    await check("mail: Microsoft Graph token", async () => {
      const opened = await openMail(mail, { logger: options.logger, clock, cwd: options.cwd });
      try {
        const zone = await opened.mail.timeZoneOf(mail.sender);
        return { detail: `token issued; the sender ${mail.sender} is readable (time zone ${zone})` };
      } finally {
        await opened.close();
      }
    });
  }
  const teams = config.notify.teams;
  if (teams) {
    checks.push({ name: "teams: workflow URL", ok: true, detail: teams.mode === "sandbox" ? "sandbox" : `set (${new URL(teams.webhookUrl).host}); not called, a test post would reach the channel` });
  }
  return { ok: checks.every((c) => c.ok), checks };
}
