import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataverseSandbox } from "../connectors/dynamics/sandbox/server.js";
import { HubSpotSandbox } from "../connectors/hubspot/sandbox/server.js";
import { SalesforceSandbox } from "../connectors/salesforce/sandbox/server.js";
import { silentLogger } from "../src/log/logger.js";
import { PartnerCenterSandbox } from "../src/sandbox/partner-center/sandbox.js";

/**
 * The sandboxes a backfill benchmark talks to, in a process of their own so their memory and CPU
 * are not the daemon's: Partner Center with N leads and three sandboxes of one CRM (A for the
 * daemon, B for the direct "limit" calls, C for the per-record peer pattern). Prints one JSON line
 * of settings and serves `/stats` until SIGTERM.
 * Usage: node dist/bench/crm-sandboxes.js <salesforce|hubspot|dynamics> <leads>
 */
type Kind = "salesforce" | "hubspot" | "dynamics";
const kind = process.argv[2] as Kind;
const leads = Number(process.argv[3] ?? 1000);
/** Time every API call takes on top of loopback: what a network and a cloud service add. */
const latencyMs = Number(process.argv[4] ?? 0);
const dir = mkdtempSync(join(tmpdir(), "cosell-bench-crm-"));

const pc = await PartnerCenterSandbox.start({ leads, seed: "bench", autoDeliverWebhooks: false, allowAppOnly: true, logger: silentLogger(), faults: { latencyMs } });
const pcCa = join(dir, "pc-ca.pem");
writeFileSync(pcCa, pc.caPem);

type Sandbox = SalesforceSandbox | HubSpotSandbox | DataverseSandbox;
async function startCrm(name: string): Promise<{ sandbox: Sandbox; settings: Record<string, string> }> {
  if (kind === "salesforce") {
    const sandbox = await SalesforceSandbox.start({ seed: name, dailyLimit: 10_000_000, faults: { latencyMs } });
    return { sandbox, settings: { url: sandbox.url, clientId: sandbox.connectedApp.clientId, clientSecret: sandbox.connectedApp.clientSecret } };
  }
  if (kind === "hubspot") {
    const sandbox = await HubSpotSandbox.start({ seed: name, faults: { latencyMs } });
    return { sandbox, settings: { url: sandbox.url, appToken: sandbox.appToken, appId: sandbox.appId } };
  }
  const sandbox = await DataverseSandbox.start({ seed: name, faults: { latencyMs } });
  const caFile = join(dir, `${name}-ca.pem`);
  writeFileSync(caFile, sandbox.entra.caPem);
  return { sandbox, settings: { url: sandbox.url, authority: sandbox.entra.url, tenantId: sandbox.app.tenantId, clientId: sandbox.app.clientId, clientSecret: sandbox.app.clientSecret, caFile } };
}

const crms = { A: await startCrm("A"), B: await startCrm("B"), C: await startCrm("C") };

function counts(sandbox: Sandbox): Record<string, number> {
  if (sandbox instanceof SalesforceSandbox) return { leads: sandbox.org.leads.size };
  if (sandbox instanceof HubSpotSandbox) return { companies: sandbox.count("companies"), contacts: sandbox.count("contacts"), leads: sandbox.count("leads") };
  // Polled ten times a second while the backfill runs: a count, never a copy of the table.
  return { leads: sandbox.rowCount };
}

const control = createServer((req, res) => {
  const which = new URL(req.url ?? "/", "http://control").searchParams.get("crm") as keyof typeof crms;
  const { sandbox } = crms[which];
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ requests: sandbox.stats.requests, throttled: "throttled" in sandbox.stats ? sandbox.stats.throttled : 0, byRoute: sandbox.stats.byRoute, counts: counts(sandbox), pcRequests: pc.stats.requests }));
});
await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));

process.stdout.write(
  `${JSON.stringify({
    control: `http://127.0.0.1:${(control.address() as { port: number }).port}`,
    pc: { baseUrl: pc.baseUrl, webhookApiUrl: pc.webhookApiUrl, authority: pc.entra.url, tenantId: pc.app.tenantId, clientId: pc.app.clientId, clientSecret: pc.app.clientSecret, caFile: pcCa },
    crm: { A: crms.A.settings, B: crms.B.settings, C: crms.C.settings },
  })}\n`,
);
process.once("SIGTERM", () => process.exit(0));
// A benchmark that dies without stopping this (out of memory) takes it along: left running, it held
// 1.6 GB and skewed the next run's figures.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1_000).unref();
