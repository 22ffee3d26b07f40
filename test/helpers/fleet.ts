import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Partner Center and Salesforce sandboxes in a process of their own, so daemons can die around them. */
export interface Fleet {
  settings: FleetSettings;
  /** GET a path of the fixture's control port, as JSON. */
  control<T>(path: string): Promise<T>;
  /** A config for daemons on these sandboxes; `extra` YAML lines are appended. */
  writeConfig(options: { storeUrl: string; lease?: string; extra?: string }): { file: string; env: NodeJS.ProcessEnv };
  close(): Promise<void>;
}

export interface FleetSettings {
  control: string;
  pc: { baseUrl: string; webhookApiUrl: string; authority: string; tenantId: string; clientId: string; clientSecret: string; caFile: string };
  sf: { url: string; clientId: string; clientSecret: string };
}

export interface FleetStats {
  pc: { leads: string[]; listStarts: number; requests: number };
  sf: { keys: string[]; requests: number };
}

export interface FleetState {
  pc: Record<string, { status: string; substatus?: string }>;
  sf: Array<{ key: string; status: string | null }>;
}

export async function startFleet(leads: number): Promise<Fleet> {
  const child: ChildProcess = spawn(process.execPath, ["test/replicas/fixtures/sandboxes.mjs", String(leads)], { stdio: ["ignore", "pipe", "inherit"] });
  const settings = await new Promise<FleetSettings>((resolve, reject) => {
    let text = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes("\n")) resolve(JSON.parse(text.slice(0, text.indexOf("\n"))) as FleetSettings);
    });
    child.once("exit", (code) => reject(new Error(`the sandbox fixture exited ${String(code)}`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    settings,
    control: async <T>(path: string) => (await (await fetch(`${settings.control}${path}`)).json()) as T,
    writeConfig: ({ storeUrl, lease = "5s", extra = "" }) => {
      const dir = mkdtempSync(join(tmpdir(), "cosell-fleet-"));
      const file = join(dir, "config.yaml");
      const { pc, sf } = settings;
      writeFileSync(
        file,
        [
          "store:\n  url: ${STORE_URL}",
          "log:\n  level: info\n  pretty: never",
          "http:\n  host: 127.0.0.1\n  port: 0",
          `outbox:\n  lease: ${lease}\n  poll: 200ms`,
          'deadlines:\n  sweep: "*/2 * * * * *"',
          `partnerCenter:\n  accounts:\n    fleet:\n      baseUrl: ${pc.baseUrl}\n      webhookApiUrl: ${pc.webhookApiUrl}\n      auth:\n        mode: client-credentials\n        tenantId: ${pc.tenantId}\n        clientId: ${pc.clientId}\n        clientSecret: \${PC_SECRET}\n        authority: ${pc.authority}\n        caFile: ${pc.caFile}`,
          `crms:\n  sf:\n    type: salesforce\n    loginUrl: ${sf.url}\n    auth:\n      mode: client-credentials\n      clientId: ${sf.clientId}\n      clientSecret: \${SF_SECRET}`,
          'pairs:\n  - name: fleet-sf\n    partnerCenter: fleet\n    crm: sf\n    mapping: mappings/salesforce.yaml\n    debounce: 1s\n    acceptAs: { firstName: Ana, lastName: Seller, email: ana.seller@partner.example }\n    schedule:\n      pull: "*/2 * * * * *"\n      crmPoll: "*/2 * * * * *"',
          extra,
        ].join("\n"),
      );
      return { file, env: { STORE_URL: storeUrl, PC_SECRET: pc.clientSecret, SF_SECRET: sf.clientSecret } };
    },
    close: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Polls `probe` until it returns a value (real time: these suites drive real processes). */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
