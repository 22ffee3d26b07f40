import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { afterAll, describe, expect, it } from "vitest";
import knex from "knex";
import type { SpawnedCli } from "../helpers/cli.js";
import { spawnCli } from "../helpers/cli.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase } from "../helpers/stores.js";

interface FleetSettings {
  control: string;
  pc: { baseUrl: string; webhookApiUrl: string; authority: string; tenantId: string; clientId: string; clientSecret: string; caFile: string };
  sf: { url: string; clientId: string; clientSecret: string };
}

interface Stats {
  pc: { leads: string[]; listStarts: number; requests: number };
  sf: { keys: string[]; requests: number };
}

const INITIAL_LEADS = 300;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function sum(metrics: string, name: string, labels: string[]): number {
  return metrics
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) && labels.every((label) => line.includes(label)))
    .reduce((total, line) => total + Number(line.split(" ").at(-1)), 0);
}

/** Three `cosell-sync run` processes on one PostgreSQL store, sharing one Partner Center and one Salesforce org. */
describe.skipIf(inject("pgUrl") === null)("several replicas on PostgreSQL", () => {
  let fixture: ChildProcess | undefined;
  let database: TestDatabase | undefined;
  const replicas: SpawnedCli[] = [];

  afterAll(async () => {
    for (const replica of replicas) replica.signal("SIGTERM");
    await Promise.all(replicas.map((replica) => replica.exited));
    fixture?.kill("SIGTERM");
    await database?.drop();
  });

  it("share the work, write each lead once, take over a killed replica's leases, and run each schedule once per slot", async () => {
    fixture = spawn(process.execPath, ["test/replicas/fixtures/sandboxes.mjs", String(INITIAL_LEADS)], { stdio: ["ignore", "pipe", "inherit"] });
    const fleet = await new Promise<FleetSettings>((resolve, reject) => {
      let text = "";
      fixture?.stdout?.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes("\n")) resolve(JSON.parse(text.slice(0, text.indexOf("\n"))) as FleetSettings);
      });
      fixture?.once("exit", (code) => reject(new Error(`fixture exited ${String(code)}`)));
    });
    const stats = async () => (await (await fetch(`${fleet.control}/stats`)).json()) as Stats;
    database = await createTestDatabase("postgres");
    const dir = mkdtempSync(join(tmpdir(), "cosell-fleet-"));
    const config = join(dir, "config.yaml");
    writeFileSync(
      config,
      [
        "store:\n  url: ${STORE_URL}",
        "log:\n  level: info\n  pretty: never",
        "http:\n  host: 127.0.0.1\n  port: 0",
        "outbox:\n  lease: 5s\n  poll: 200ms",
        'deadlines:\n  sweep: "*/2 * * * * *"',
        `partnerCenter:\n  accounts:\n    fleet:\n      baseUrl: ${fleet.pc.baseUrl}\n      webhookApiUrl: ${fleet.pc.webhookApiUrl}\n      auth:\n        mode: client-credentials\n        tenantId: ${fleet.pc.tenantId}\n        clientId: ${fleet.pc.clientId}\n        clientSecret: \${PC_SECRET}\n        authority: ${fleet.pc.authority}\n        caFile: ${fleet.pc.caFile}`,
        `crms:\n  sf:\n    type: salesforce\n    loginUrl: ${fleet.sf.url}\n    auth:\n      mode: client-credentials\n      clientId: ${fleet.sf.clientId}\n      clientSecret: \${SF_SECRET}`,
        'pairs:\n  - name: fleet-sf\n    partnerCenter: fleet\n    crm: sf\n    mapping: mappings/salesforce.yaml\n    debounce: 1s\n    schedule:\n      pull: "*/2 * * * * *"\n      crmPoll: "*/2 * * * * *"',
      ].join("\n"),
    );
    const env = { STORE_URL: database.url, PC_SECRET: fleet.pc.clientSecret, SF_SECRET: fleet.sf.clientSecret };
    for (let i = 0; i < 3; i += 1) replicas.push(spawnCli(["run", "--config", config], env));
    const urls = await Promise.all(
      replicas.map(async (replica) => {
        await replica.waitFor("HTTP server listening");
        return /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(replica.output())?.[1] ?? "";
      }),
    );
    const metrics = async (url: string) => (await fetch(`${url}/metrics`)).text();

    // The backfill lands, once per lead.
    await until("the backfill", async () => {
      const s = await stats();
      return s.sf.keys.length >= INITIAL_LEADS ? s : undefined;
    });
    const done = await Promise.all(urls.map(async (url) => sum(await metrics(url), "cosell_outbox_jobs_total", ['outcome="done"'])));
    expect(done.filter((n) => n > 0).length, `jobs done per replica: ${done.join(", ")}`).toBeGreaterThanOrEqual(2);

    // Schedules run once per two-second slot across the fleet, not once per replica.
    const before = await stats();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const after = await stats();
    const pulls = after.pc.listStarts - before.pc.listStarts;
    expect(pulls, `${pulls} pulls in 10 s on a 2 s schedule`).toBeLessThanOrEqual(7);
    expect(pulls).toBeGreaterThanOrEqual(3);

    // More leads arrive; one replica is killed holding leased jobs; the others finish them once the lease runs out.
    const db = knex({ client: "pg", connection: database.url });
    try {
      await fetch(`${fleet.control}/generate?n=150`);
      // The victim is whichever replica holds running jobs at that moment.
      const { victim, held } = await until(
        "a replica to hold leased jobs",
        async () => {
          const rows = (await db("outbox_jobs").where({ state: "running" }).select("id", "lease_owner")) as Array<{ id: number; lease_owner: string }>;
          const holder = replicas.find((replica) => rows.some((row) => row.lease_owner.includes(`:${String(replica.pid)}:`)));
          return holder ? { victim: holder, held: rows.filter((row) => row.lease_owner.includes(`:${String(holder.pid)}:`)).map((row) => row.id) } : undefined;
        },
        30_000,
      );
      victim.signal("SIGKILL");
      expect((await victim.exited).signal).toBe("SIGKILL");
      const final = await until("every lead in Salesforce after the kill", async () => {
        const s = await stats();
        return s.sf.keys.length >= s.pc.leads.length ? s : undefined;
      });
      expect(new Set(final.sf.keys).size, "no lead written as two records").toBe(final.sf.keys.length);
      expect([...final.pc.leads].sort()).toEqual([...final.sf.keys].sort());
      const taken = (await until("the victim's jobs to be finished by the others", async () => {
        const rows = (await db("outbox_jobs").whereIn("id", held).select("state", "attempts")) as Array<{ state: string; attempts: number }>;
        return rows.every((row) => row.state === "done") ? rows : undefined;
      })) as Array<{ attempts: number }>;
      expect(taken.every((row) => Number(row.attempts) >= 2), "each was leased again after the victim's lease ran out").toBe(true);

      const twins = await db("crm_links").select("lead_id").count({ n: "*" }).groupBy("lead_id", "pair", "crm_object").havingRaw("count(*) > 1");
      expect(twins).toEqual([]);
      await until("the outbox to drain", async () => {
        const [open] = await db("outbox_jobs").whereIn("state", ["pending", "running"]).whereRaw("run_at <= now()").count({ n: "*" });
        return Number(open?.n ?? 0) === 0 ? true : undefined;
      });
      const [dead] = await db("outbox_jobs").where({ state: "dead" }).count({ n: "*" });
      expect(Number(dead?.n)).toBe(0);
      const claims = await db("schedule_leases").select("name", "owner");
      expect(claims.map((c: { name: string }) => c.name).sort()).toEqual(["crm-poll:fleet-sf", "deadline-sweep", 'pull:fleet:*/2 * * * * *']);
    } finally {
      await db.destroy();
    }
  }, 180_000);
});
