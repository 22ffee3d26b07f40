import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { createLogger } from "../../log/logger.js";
import { PartnerCenterSandbox } from "../../sandbox/partner-center/sandbox.js";
import type { CliIo } from "../io.js";

const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError("must be a whole number ≥ 0");
  return parsed;
}

function rate(value: string): number {
  const parsed = Number(value);
  if (!(parsed >= 0 && parsed <= 1)) throw new InvalidArgumentError("must be between 0 and 1");
  return parsed;
}

interface SandboxOptions {
  host: string;
  port: number;
  leads: number;
  seed: string;
  caOut?: string;
  json?: boolean;
  refuseAppOnly?: boolean;
  throttleRate: number;
  errorRate: number;
  webhookDropRate: number;
}

export function registerSandboxCommands(program: Command, io: CliIo): void {
  const sandbox = program.command("sandbox").description("run a local sandbox of an external service");
  sandbox
    .command("partner-center")
    .description("run the Partner Center sandbox (referral API, webhooks, token issuer) until Ctrl-C")
    .option("--host <host>", "address to listen on (loopback only)", "127.0.0.1")
    .option("--port <n>", "port for the referral API (0: any free port)", integer, 0)
    .option("--leads <n>", "Joint Planning leads to generate at start", integer, 50)
    .option("--seed <seed>", "seed for generated leads and faults", "1")
    .option("--ca-out <file>", "where to write the sandbox CA certificate (default: a temp file)")
    .option("--refuse-app-only", "refuse app-only tokens, as the real referral API does")
    .option("--throttle-rate <r>", "share of calls answered 429", rate, 0)
    .option("--error-rate <r>", "share of calls answered 503", rate, 0)
    .option("--webhook-drop-rate <r>", "share of webhook events dropped", rate, 0)
    .option("--json", "print the connection settings as one JSON line")
    .addHelpText("after", "\nPrints the URLs and credentials to put in a config account (mode: client-credentials with caFile).")
    .action(async (options: SandboxOptions) => {
      if (!["127.0.0.1", "localhost", "::1"].includes(options.host)) throw new InvalidArgumentError("the sandbox listens on loopback only");
      const logger = createLogger({ level: "info", pretty: "never", destination: io.stderr as never, name: "pc-sandbox" });
      const pc = await PartnerCenterSandbox.start({
        host: options.host,
        port: options.port,
        leads: options.leads,
        seed: options.seed,
        autoDeliverWebhooks: true,
        allowAppOnly: options.refuseAppOnly !== true,
        faults: { throttleRate: options.throttleRate, errorRate: options.errorRate, webhookDropRate: options.webhookDropRate },
        logger,
      });
      const caFile = resolve(io.cwd, options.caOut ?? join(mkdtempSync(join(tmpdir(), "cosell-pc-sandbox-")), "sandbox-ca.pem"));
      writeFileSync(caFile, pc.caPem);
      const settings = {
        url: pc.url,
        baseUrl: pc.baseUrl,
        webhookApiUrl: pc.webhookApiUrl,
        certificateUrl: pc.certificateUrl,
        authority: pc.entra.url,
        tenantId: pc.app.tenantId,
        clientId: pc.app.clientId,
        clientSecret: pc.app.clientSecret,
        serviceUser: pc.user.upn,
        refreshToken: pc.user.refreshToken,
        caFile,
        leads: pc.referrals.size,
      };
      if (options.json) io.stdout.write(`${JSON.stringify(settings)}\n`);
      else {
        io.stdout.write(
          [
            `Partner Center sandbox on ${pc.url} with ${settings.leads} leads (Ctrl-C to stop).`,
            "",
            "A config account for it (the secret goes in the environment):",
            "  partnerCenter:",
            "    accounts:",
            "      sandbox:",
            `        baseUrl: ${pc.baseUrl}`,
            `        webhookApiUrl: ${pc.webhookApiUrl}`,
            "        auth:",
            "          mode: client-credentials",
            `          tenantId: ${pc.app.tenantId}`,
            `          clientId: ${pc.app.clientId}`,
            "          clientSecret: ${PC_SANDBOX_SECRET}",
            `          authority: ${pc.entra.url}`,
            `          caFile: ${caFile}`,
            "        webhook:",
            `          certificateHosts: ["${new URL(pc.url).host}"]`,
            `          trustedCaFile: ${caFile}`,
            "",
            `  export PC_SANDBOX_SECRET='${pc.app.clientSecret}'`,
            `Service user ${pc.user.upn}, refresh token: ${pc.user.refreshToken}`,
            "",
          ].join("\n"),
        );
      }
      const signal = await new Promise<string>((done) => {
        for (const name of STOP_SIGNALS) process.once(name, () => done(name));
      });
      for (const name of STOP_SIGNALS) process.removeAllListeners(name);
      await pc.close();
      logger.info({ signal }, "sandbox stopped");
    });
}
