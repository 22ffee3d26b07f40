import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CrmConnector } from "../connectors/types.js";
import { ClientCredentialsTokenProvider } from "../src/auth/msal-token-provider.js";
import { createNetworkClient } from "../src/auth/network-client.js";
import { parseConfigText } from "../src/config/index.js";
import { openCrmConnector } from "../src/daemon/crm-connectors.js";
import { Daemon } from "../src/daemon/daemon.js";
import { Store } from "../src/store/index.js";
import type { Logger } from "../src/log/logger.js";
import { silentLogger } from "../src/log/logger.js";
import type { CrmUpsertPayload, QueuedRecord } from "../src/sync/enqueue-crm-upsert.js";
import { CRM_UPSERT } from "../src/sync/enqueue-crm-upsert.js";
import type { Allowance, MinimalWrites } from "./minimal-writes.js";
import { allowed } from "./minimal-writes.js";

export type Kind = "salesforce" | "hubspot" | "dynamics";

export interface Settings {
  control: string;
  pc: { baseUrl: string; webhookApiUrl: string; authority: string; tenantId: string; clientId: string; clientSecret: string; caFile: string };
  crm: Record<"A" | "B" | "C", Record<string, string>>;
}

interface CrmStats {
  requests: number;
  /** Calls the sandbox answered 429 (not in byRoute). */
  throttled: number;
  byRoute: Record<string, number>;
  counts: Record<string, number>;
}

export interface BackfillFigures {
  crm: Kind;
  leads: number;
  seconds: number;
  /** Of which the pull from Partner Center into the store (and the queueing of every write). */
  pullSeconds: number;
  leadsPerSecond: number;
  peakRssMb: number;
  /** The V8 heap (allocated) when the RSS peaked. */
  heapAtPeakMb: number;
  cpuSecondsPer1000: number;
  writeCalls: number;
  minimumCalls: number;
  callRatio: number;
  /** Calls the CRM answered 429 during the backfill: each costs a wait. */
  throttled: number;
  /** The fewest write calls for the same records, fired straight at a fresh sandbox through the same client as fast as it allows. */
  limitSeconds: number;
  limitCalls: number;
  /** Of which the sandbox refused for the rate and went again. */
  limitThrottled: number;
  /** Daemon throughput as a share of the limit's. */
  shareOfLimit: number;
  /** Records in the CRM at the end, by object (the minimum's base). */
  records: Record<string, number>;
  /** Every call the daemon made to the CRM sandbox during the backfill, by route. */
  callsByRoute: Record<string, number>;
  /** The per-record strategy (look up, then create or update one record), measured on a sample. */
  peer: { sample: number; callsPerLead: number; secondsPerLead: number; callRatio: number; timeRatio: number };
}

/** Write calls by CRM: the routes that carry records (auth, describe and reads are not counted). */
const WRITE_ROUTE: Record<Kind, RegExp> = {
  salesforce: /^PATCH \/composite\/sobjects\//,
  hubspot: /^POST \/crm\/v3\/objects\/\w+\/batch\/(upsert|create|update)$/,
  dynamics: /^POST \/\$batch$/,
};
export const BATCH: Record<Kind, number> = { salesforce: 200, hubspot: 100, dynamics: 1000 };
/**
 * What each sandbox lets one client do, as the service it stands for: HubSpot 190 calls per 10 s
 * (Professional), Dataverse 6,000 per 5 minutes; Salesforce counts only a daily total. Eight calls
 * at once: the most the daemon runs against any CRM by default, and past it the one-threaded
 * sandbox process, not the client, is what waits.
 */
export const ALLOWANCE: Record<Kind, Allowance> = {
  salesforce: { concurrency: 8 },
  hubspot: { concurrency: 8, requestsPerInterval: 190, intervalMs: 10_000 },
  dynamics: { concurrency: 8, requestsPerInterval: 6_000, intervalMs: 300_000 },
};

function crmYaml(kind: Kind, s: Record<string, string>): string {
  if (kind === "salesforce") return `    type: salesforce\n    loginUrl: ${s.url}\n    auth:\n      mode: client-credentials\n      clientId: ${s.clientId}\n      clientSecret: \${CRM_SECRET}`;
  if (kind === "hubspot") return `    type: hubspot\n    basePath: ${s.url}\n    appId: "${s.appId}"\n    auth:\n      mode: private-app\n      accessToken: \${CRM_SECRET}`;
  return `    type: dynamics\n    url: ${s.url}\n    auth:\n      mode: client-credentials\n      tenantId: ${s.tenantId}\n      clientId: ${s.clientId}\n      clientSecret: \${CRM_SECRET}\n      authority: ${s.authority}\n      caFile: ${s.caFile}`;
}

const secretOf = (kind: Kind, s: Record<string, string>) => (kind === "hubspot" ? (s.appToken ?? "") : (s.clientSecret ?? ""));

export function configFor(kind: Kind, settings: Settings, which: "A" | "B" | "C", storeUrl: string) {
  const text = [
    `store:\n  url: "${storeUrl}"`,
    "log:\n  level: silent",
    `outbox:\n  targets:\n    crm:bench:\n      batchSize: ${BATCH[kind]}`,
    // The sandbox's leads include some near their deadlines; their reminder tasks would share the
    // CRM's call budget with the backfill (and go first, being urgent). Measured apart, not here.
    "deadlines:\n  crmTasks: false",
    `partnerCenter:\n  accounts:\n    bench:\n      baseUrl: ${settings.pc.baseUrl}\n      webhookApiUrl: ${settings.pc.webhookApiUrl}\n      auth:\n        mode: client-credentials\n        tenantId: ${settings.pc.tenantId}\n        clientId: ${settings.pc.clientId}\n        clientSecret: \${PC_SECRET}\n        authority: ${settings.pc.authority}\n        caFile: ${settings.pc.caFile}`,
    `crms:\n  bench:\n${crmYaml(kind, settings.crm[which])}`,
    `pairs:\n  - name: bench\n    partnerCenter: bench\n    crm: bench\n    mapping: mappings/${kind}.yaml`,
  ].join("\n");
  return parseConfigText(text, `bench-${kind}.yaml`, { env: { PC_SECRET: settings.pc.clientSecret, CRM_SECRET: secretOf(kind, settings.crm[which]) }, cwd: process.cwd() });
}

/** The handler's write sequence without the daemon: each object in dependency order, ids passed on. */
async function writeDirect(connector: CrmConnector, payloads: CrmUpsertPayload[]): Promise<void> {
  const written = payloads.map(() => new Map<string, { object: string; id: string }>());
  const names = [...new Set(payloads.flatMap((p) => p.records.map((r) => r.name)))];
  const ordered = names.sort((a, b) => (payloads[0]?.records.find((r) => r.name === b)?.associate.includes(a) ? -1 : payloads[0]?.records.find((r) => r.name === a)?.associate.includes(b) ? 1 : 0));
  for (const name of ordered) {
    const entries = payloads.flatMap((p, i) => {
      const record = p.records.find((r) => r.name === name);
      return record ? [{ i, record }] : [];
    });
    const first = entries[0]?.record as QueuedRecord | undefined;
    if (!first) continue;
    const results = await allowed(() => connector.upsert({
      object: first.object,
      externalIdField: first.externalIdField,
      records: entries.map(({ i, record }) => ({ key: record.externalId, fields: record.fields, associations: record.associate.flatMap((other) => (written[i]?.get(other) ? [written[i]?.get(other) as { object: string; id: string }] : [])) })),
    }));
    results.forEach((result, index) => {
      const entry = entries[index];
      if (entry && result.outcome !== "failed") written[entry.i]?.set(name, { object: entry.record.object, id: result.id });
    });
  }
}

/** One raw lookup by external id, as a per-record flow does before deciding create or update. */
async function lookup(kind: Kind, s: Record<string, string>, token: string, referralId: string): Promise<void> {
  const quoted = referralId.replace(/'/g, "''");
  const res =
    kind === "salesforce"
      ? await fetch(`${s.url}/services/data/v62.0/query?q=${encodeURIComponent(`SELECT Id FROM Lead WHERE Cosell_Referral_Id__c = '${referralId.replace(/'/g, "\\'")}'`)}`, { headers: { Authorization: `Bearer ${token}` } })
      : kind === "hubspot"
        ? await fetch(`${s.url}/crm/v3/objects/leads/search`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify({ filterGroups: [{ filters: [{ propertyName: "cosell_referral_id", operator: "EQ", value: referralId }] }], limit: 1 }) })
        : await fetch(`${s.url}/api/data/v9.2/leads?$filter=${encodeURIComponent(`cosell_referralid eq '${quoted}'`)}&$select=leadid`, { headers: { Authorization: `Bearer ${token}` } });
  await res.text();
  if (res.status === 429) throw Object.assign(new Error("throttled"), { retryable: true, retryAfterMs: Number(res.headers.get("retry-after") ?? 0) * 1000 || Number(res.headers.get("x-hubspot-ratelimit-interval-milliseconds") ?? 1000) });
}

async function tokenFor(kind: Kind, s: Record<string, string>): Promise<string> {
  if (kind === "hubspot") return s.appToken ?? "";
  if (kind === "salesforce") {
    const res = await fetch(`${s.url}/services/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: s.clientId ?? "", client_secret: s.clientSecret ?? "" }) });
    return ((await res.json()) as { access_token: string }).access_token;
  }
  const tokens = new ClientCredentialsTokenProvider(
    { tenantId: s.tenantId ?? "", clientId: s.clientId ?? "", clientSecret: s.clientSecret ?? "", authority: s.authority ?? "" },
    { scopes: [`${s.url}/.default`], logger: silentLogger(), networkClient: createNetworkClient({ ca: readFileSync(s.caFile ?? "", "utf8") }) },
  );
  return tokens.getToken();
}

/** The limit, measured in a process of its own (bench/limit-main.ts). */
async function measureLimit(kind: Kind, settings: Settings, storeFile: string, dir: string): Promise<MinimalWrites> {
  const child = spawn(process.execPath, ["dist/bench/limit-main.js", kind, storeFile, dir], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, COSELL_BENCH_SETTINGS: JSON.stringify(settings) } });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`the ${kind} limit measurement exited ${String(code)}`);
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as MinimalWrites;
}

/**
 * A backfill of `count` leads from Partner Center into one CRM through the whole daemon (pull,
 * store, outbox, connector) against sandboxes in their own process; then the same writes straight
 * through the client (the limit), and a per-record strategy on a sample (the peer pattern).
 */
export async function benchBackfill(kind: Kind, count: number, log: Logger, latencyMs = 0, options: { daemonOnly?: boolean } = {}): Promise<BackfillFigures> {
  const child = spawn(process.execPath, ["dist/bench/crm-sandboxes.js", kind, String(count), String(latencyMs)], { stdio: ["ignore", "pipe", "inherit"] });
  let dir: string | undefined;
  try {
    const settings = await new Promise<Settings>((resolve, reject) => {
      let text = "";
      child.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes("\n")) resolve(JSON.parse(text.slice(0, text.indexOf("\n"))) as Settings);
      });
      child.once("exit", (code) => reject(new Error(`the sandbox process exited ${String(code)}`)));
    });
    const stats = async (which: "A" | "B" | "C") => (await (await fetch(`${settings.control}/stats?crm=${which}`)).json()) as CrmStats;
    dir = mkdtempSync(join(tmpdir(), `cosell-bench-${kind}-`));
    // The daemon as `cosell-sync run` runs it: the pull at start, the outbox worker writing to the
    // CRM while later pages are still read, and the pair's scheduled CRM polls beside them.
    const daemon = new Daemon({ config: configFor(kind, settings, "A", `sqlite:${join(dir, "store.db")}`), logger: process.env.BENCH_DAEMON_LOG ? log : silentLogger(), serveHttp: false });
    let peakRss = process.memoryUsage().rss;
    // The V8 heap at the peak: what of the RSS the daemon's own objects take (the rest is the node
    // binary, native libraries and malloc).
    let heapAtPeak = process.memoryUsage().heapTotal;
    const sampler = setInterval(() => {
      const memory = process.memoryUsage();
      if (memory.rss > peakRss) [peakRss, heapAtPeak] = [memory.rss, memory.heapTotal];
    }, 100);
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    const payloads: CrmUpsertPayload[] = [];
    let pullSeconds = 0;
    try {
      await daemon.start();
      let reported = 0;
      let progressAt = Date.now();
      let last = 0;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (Date.now() - progressAt > 60_000) throw new Error(`the backfill stalled at ${last} of ${count} leads; outbox: ${JSON.stringify((await daemon.store.repos.outbox.stats(new Date())).byState)}`);
        if (pullSeconds === 0 && (await daemon.store.repos.syncRuns.all()).some((run) => run.kind === "pull" && run.lastSuccessAt)) {
          pullSeconds = Number(process.hrtime.bigint() - started) / 1e9;
          log.info({ crm: kind, seconds: Number(pullSeconds.toFixed(1)) }, "Partner Center pull finished");
        }
        const done = (await stats("A")).counts.leads ?? 0;
        if (done > last) [last, progressAt] = [done, Date.now()];
        if (done - reported >= count / 10 || done >= count) {
          log.info({ crm: kind, written: done, of: count }, "backfill progress");
          reported = done;
        }
        if (done >= count) break;
      }
    } finally {
      clearInterval(sampler);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // The CRM kept pace with the pull: its last leads landed before the pull's run was seen recorded.
    if (pullSeconds === 0) pullSeconds = seconds;
    const used = process.cpuUsage(cpu);
    const a = await stats("A");
    const writeCalls = Object.entries(a.byRoute).filter(([route]) => WRITE_ROUTE[kind].test(route)).reduce((sum, [, n]) => sum + n, 0);
    const minimumCalls = Object.values(a.counts).reduce((sum, n) => sum + Math.ceil(n / BATCH[kind]), 0);
    const written = a.counts.leads ?? 0;
    await daemon.stop("bench");
    const daemonFigures = { crm: kind, leads: written, seconds, pullSeconds, leadsPerSecond: written / seconds, peakRssMb: peakRss / 1024 / 1024, heapAtPeakMb: heapAtPeak / 1024 / 1024, cpuSecondsPer1000: ((used.user + used.system) / 1e6 / Math.max(1, written)) * 1000, writeCalls, minimumCalls, callRatio: writeCalls / Math.max(1, minimumCalls), throttled: a.throttled, records: a.counts, callsByRoute: a.byRoute };
    // Profiling the daemon alone: the limit and the peer pattern take as long again.
    if (options.daemonOnly) return { ...daemonFigures, limitSeconds: Number.NaN, limitCalls: 0, limitThrottled: 0, shareOfLimit: Number.NaN, peer: { sample: 0, callsPerLead: Number.NaN, secondsPerLead: Number.NaN, callRatio: Number.NaN, timeRatio: Number.NaN } };

    // The peer pattern's sample: the first 300 leads' writes, read a batch at a time (a 100,000-lead
    // run's payloads would double the process's memory).
    const store = await Store.open({ url: `sqlite:${join(dir, "store.db")}` });
    for (let afterId = 0; payloads.length < 300; ) {
      const jobs = await store.repos.outbox.list({ state: "done", target: "crm:bench", limit: 300, afterId });
      if (jobs.length === 0) break;
      afterId = jobs.at(-1)?.id ?? afterId;
      payloads.push(...jobs.filter((job) => job.kind === CRM_UPSERT).map((job) => job.payload as CrmUpsertPayload).slice(0, 300 - payloads.length));
    }
    await store.close();
    // The limit: the fewest calls for the same records, sent as fast as the sandbox allows.
    const limit = await measureLimit(kind, settings, join(dir, "store.db"), dir);
    const limitSeconds = limit.seconds;

    // The peer pattern: per lead, look it up, then write each of its records alone.
    const sample = payloads.slice(0, Math.min(300, payloads.length));
    const peerConnector = await openCrmConnector("bench", configFor(kind, settings, "C", "sqlite::memory:").crms.bench as never, silentLogger());
    const token = await tokenFor(kind, settings.crm.C);
    const before = await stats("C");
    const peerStarted = process.hrtime.bigint();
    for (const payload of sample) {
      await allowed(() => lookup(kind, settings.crm.C, token, payload.referralId));
      await writeDirect(peerConnector.connector, [payload]);
    }
    const peerSeconds = Number(process.hrtime.bigint() - peerStarted) / 1e9;
    const after = await stats("C");
    await peerConnector.close();
    const peerCalls = after.requests - before.requests;
    const daemonCallsPerLead = writeCalls / Math.max(1, written);
    const peer = {
      sample: sample.length,
      callsPerLead: peerCalls / Math.max(1, sample.length),
      secondsPerLead: peerSeconds / Math.max(1, sample.length),
      callRatio: peerCalls / Math.max(1, sample.length) / daemonCallsPerLead,
      timeRatio: peerSeconds / Math.max(1, sample.length) / (seconds / Math.max(1, written)),
    };
    return { ...daemonFigures, limitSeconds, limitCalls: limit.calls, limitThrottled: limit.throttled, shareOfLimit: limitSeconds / seconds, peer };
  } finally {
    child.kill("SIGTERM");
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
