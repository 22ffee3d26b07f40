import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";

/** Partner Center and Salesforce sandboxes in a process of their own, so daemons can die around them. */
export interface Fleet {
  settings: FleetSettings;
  /** GET a path of the fixture's control port, as JSON. */
  control<T>(path: string): Promise<T>;
  /** A config for daemons on these sandboxes; `extra` YAML lines are appended. */
  writeConfig(options: {
    storeUrl: string;
    lease?: string;
    extra?: string;
    pcOrigin?: string;
    sfUrl?: string;
    /** Pacing of the Salesforce target (`outbox.targets.crm:sf`), e.g. small batches so one replica cannot hold all the work. */
    sfTarget?: { batchSize?: number; concurrency?: number };
  }): { file: string; env: NodeJS.ProcessEnv };
  close(): Promise<void>;
}

export interface FleetSettings {
  control: string;
  pc: { baseUrl: string; webhookApiUrl: string; authority: string; tenantId: string; clientId: string; clientSecret: string; caFile: string };
  sf: { url: string; clientId: string; clientSecret: string };
}

export interface FleetStats {
  pc: { leads: string[]; listStarts: number; requests: number };
  /** `writes`: how often the daemons wrote each lead's record, by referral id (lower case). */
  sf: { keys: string[]; requests: number; writes: Record<string, number> };
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
    writeConfig: ({ storeUrl, lease = "5s", extra = "", pcOrigin, sfUrl, sfTarget }) => {
      const dir = mkdtempSync(join(tmpdir(), "cosell-fleet-"));
      const file = join(dir, "config.yaml");
      // A proxy in front of a sandbox takes its origin's place.
      const via = (url: string, origin: string | undefined) => (origin ? url.replace(new URL(url).origin, origin) : url);
      const pc = { ...settings.pc, baseUrl: via(settings.pc.baseUrl, pcOrigin), webhookApiUrl: via(settings.pc.webhookApiUrl, pcOrigin) };
      const sf = { ...settings.sf, url: sfUrl ?? settings.sf.url };
      writeFileSync(
        file,
        [
          "store:\n  url: ${STORE_URL}",
          "log:\n  level: info\n  pretty: never",
          "http:\n  host: 127.0.0.1\n  port: 0",
          // Retries back off to at most 3 s: these suites wait for the queue to drain after faults.
          `outbox:\n  lease: ${lease}\n  poll: 200ms\n  backoff:\n    cap: 3s${sfTarget ? `\n  targets:\n    "crm:sf": ${JSON.stringify(sfTarget)}` : ""}`,
          'deadlines:\n  sweep: "*/2 * * * * *"',
          `partnerCenter:\n  accounts:\n    fleet:\n      baseUrl: ${pc.baseUrl}\n      webhookApiUrl: ${pc.webhookApiUrl}\n      auth:\n        mode: client-credentials\n        tenantId: ${pc.tenantId}\n        clientId: ${pc.clientId}\n        clientSecret: \${PC_SECRET}\n        authority: ${pc.authority}\n        caFile: ${pc.caFile}`,
          `crms:\n  sf:\n    type: salesforce\n    loginUrl: ${sf.url}\n    timeout: 5s\n    auth:\n      mode: client-credentials\n      clientId: ${sf.clientId}\n      clientSecret: \${SF_SECRET}`,
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

/** The lead state → Salesforce Cosell Status table, as the shipped mapping writes it. */
const SF_STATUS = (parse(readFileSync("mappings/salesforce.yaml", "utf8")) as { tables: { status: Record<string, string> } }).tables.status;

/**
 * Waits until Partner Center, the daemon's SQLite store and Salesforce agree, as an undisturbed run
 * would leave them: every lead once in Salesforce, every seller's accept in Partner Center, the
 * store holding Partner Center's status, every record showing the lead's state, the outbox drained
 * with no dead job and no twin link. Returns what it compared.
 */
export async function expectAgreement(fleet: Fleet, storeFile: string, accepted: ReadonlySet<string>, expect: ExpectLike): Promise<{ leads: number }> {
  const state = await until(
    "Partner Center and Salesforce to agree",
    async () => {
      const current = await fleet.control<FleetState>("/state");
      const keys = new Set(current.sf.map((r) => r.key));
      const everyLead = Object.keys(current.pc).every((id) => keys.has(id));
      const acceptsArrived = [...accepted].every((id) => current.pc[id]?.status !== "New");
      return everyLead && acceptsArrived ? current : undefined;
    },
    120_000,
  );
  expect(new Set(state.sf.map((r) => r.key)).size, "no lead written as two records").toBe(state.sf.length);
  expect(state.sf.length).toBe(Object.keys(state.pc).length);
  const { default: knex } = await import("knex");
  const db = knex({ client: "sqlite3", connection: { filename: storeFile }, useNullAsDefault: true });
  try {
    await until(
      "the outbox to drain",
      async () => {
        const [open] = await db("outbox_jobs").whereIn("state", ["pending", "running"]).count({ n: "*" });
        return Number(open?.n ?? 0) === 0 ? true : undefined;
      },
      60_000,
    ).catch(async (error: unknown) => {
      // Which jobs did not drain, and why: the failure is otherwise silent about its cause.
      const open = await db("outbox_jobs")
        .whereIn("state", ["pending", "running"])
        .select("id", "kind", "state", "attempts", "run_at", "lease_expires_at", "last_error_code", "last_error_message", "created_at")
        .limit(20);
      process.stderr.write(`outbox jobs still open: ${JSON.stringify(open, null, 1)}\n`);
      throw error;
    });
    const final = await fleet.control<FleetState>("/state");
    const leads = (await db("leads").select("referral_id", "state", "status")) as Array<{ referral_id: string; state: string; status: string }>;
    expect(leads).toHaveLength(Object.keys(final.pc).length);
    for (const lead of leads) {
      const id = lead.referral_id.toLowerCase();
      expect([id, lead.status]).toEqual([id, final.pc[id]?.status]);
      expect([id, final.sf.find((r) => r.key === id)?.status]).toEqual([id, SF_STATUS[lead.state]]);
      if (accepted.has(id)) expect([id, lead.state]).toEqual([id, "accepted"]);
    }
    const [dead] = await db("outbox_jobs").where({ state: "dead" }).count({ n: "*" });
    expect(Number(dead?.n), "no dead job").toBe(0);
    const twins = await db("crm_links").select("lead_id").count({ n: "*" }).groupBy("lead_id", "pair", "crm_object").havingRaw("count(*) > 1");
    expect(twins).toEqual([]);
    return { leads: leads.length };
  } finally {
    await db.destroy();
  }
}

/** vitest's expect, as far as the checker needs it (helpers do not import the runner's globals). */
export type ExpectLike = (value: unknown, message?: string) => { toBe(expected: unknown): void; toEqual(expected: unknown): void; toHaveLength(length: number): void };

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
