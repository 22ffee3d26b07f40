import type { Command } from "commander";
import type { Config, PartnerCenterAccountConfig } from "../../config/index.js";
import { loadConfig } from "../../config/index.js";
import { webhookRegistrationClientFor } from "../../daemon/partner-center-access.js";
import { createLogger } from "../../log/logger.js";
import type { WebhookRegistration } from "../../partner-center/webhook-registration.js";
import { registerWebhook } from "../../partner-center/webhook-registration.js";
import { CosellError } from "../../shared/errors.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";

interface AccountOptions extends ConfigOptions, JsonOptions {
  account?: string;
}

function pickAccount(config: Config, requested: string | undefined): [string, PartnerCenterAccountConfig] {
  const names = Object.keys(config.partnerCenter.accounts);
  const name = requested ?? (names.length === 1 ? names[0] : undefined);
  const account = name ? config.partnerCenter.accounts[name] : undefined;
  if (!name || !account) {
    throw new CosellError("CLI_ACCOUNT_UNKNOWN", requested ? `No Partner Center account "${requested}" in the config (known: ${names.join(", ")}).` : `Name the account with --account (known: ${names.join(", ")}).`);
  }
  return [name, account];
}

function describe(registration: WebhookRegistration): string {
  return `${registration.webhookUrl}\n  events: ${registration.events.join(", ")}\n  signature in: ${registration.signatureInHeader ? "x-ms-signature" : "Authorization"}`;
}

export function registerWebhookCommands(program: Command, io: CliIo): void {
  const webhook = program.command("webhook").description("Partner Center webhook registration (one URL per event per account)");
  const logger = () => createLogger({ level: "warn", pretty: "never", destination: io.stderr as never });

  const status = webhook.command("status").description("show where this account's Partner Center webhooks go").option("-a, --account <name>", "Partner Center account (needed when there are several)");
  withJsonOption(withConfigOption(status)).action(async (options: AccountOptions) => {
    const { config } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
    const [name, account] = pickAccount(config, options.account);
    const current = await webhookRegistrationClientFor(name, account, logger(), io.cwd).get();
    const expected = account.webhook.publicUrl;
    if (options.json) {
      printJson(io, { ok: true, account: name, registration: current ?? null, expectedUrl: expected ?? null, ours: current !== undefined && current.webhookUrl === expected });
      return;
    }
    if (!current) io.stdout.write(`${name}: no webhook registered\n`);
    else io.stdout.write(`${name}: webhooks go to ${describe(current)}\n${expected && current.webhookUrl !== expected ? `  (not this daemon: its URL is ${expected})\n` : ""}`);
  });

  const register = webhook
    .command("register")
    .description("point this account's Partner Center webhooks at this daemon")
    .option("-a, --account <name>", "Partner Center account (needed when there are several)")
    .option("--url <url>", "public URL Partner Center posts to (default: the account's webhook.publicUrl)")
    .option("--force", "replace a registration that points elsewhere (another tool stops getting events)")
    .addHelpText("after", "\nAn existing registration is shown first and never replaced without --force.\nExit codes: 0 registered or unchanged, 1 refused (registered elsewhere) or failed, 78 bad config.");
  withJsonOption(withConfigOption(register)).action(async (options: AccountOptions & { url?: string; force?: boolean }) => {
    const { config } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
    const [name, account] = pickAccount(config, options.account);
    const url = options.url ?? account.webhook.publicUrl;
    if (!url) throw new CosellError("CLI_WEBHOOK_URL_MISSING", `Give --url, or set partnerCenter.accounts.${name}.webhook.publicUrl in the config.`);
    const desired = { webhookUrl: url, events: [...account.webhook.events], signatureInHeader: account.webhook.signatureInHeader };
    const outcome = await registerWebhook(webhookRegistrationClientFor(name, account, logger(), io.cwd), desired, { force: options.force === true });
    if (options.json) {
      printJson(io, { ok: true, account: name, ...outcome });
      return;
    }
    if (outcome.action === "unchanged") io.stdout.write(`${name}: already registered: ${describe(outcome.registration)}\n`);
    else if (outcome.action === "created") io.stdout.write(`${name}: registered ${describe(outcome.registration)}\n`);
    else io.stdout.write(`${name}: replaced ${describe(outcome.previous)}\nwith ${describe(outcome.registration)}\n`);
  });
}
