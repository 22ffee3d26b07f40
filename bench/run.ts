import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { LeadState, LifecycleSnapshot } from "../src/domain/index.js";
import { DAY_MS, emptySubstages, LEAD_STATES, planTransition, transition } from "../src/domain/index.js";
import { createLogger } from "../src/log/logger.js";
import { contentHash } from "../src/shared/content-hash.js";
import type { LeadInput } from "../src/store/index.js";
import { Store } from "../src/store/index.js";
import { benchDataverse } from "./dataverse.js";
import { benchMappings } from "./mapping.js";
import { benchOutbox } from "./outbox.js";
import { benchPull } from "./pull-partner-center.js";
import type { BackfillFigures } from "./backfill.js";
import { benchLatency } from "./latency.js";

/** The old-space bound the launchers (npm start, systemd unit, Dockerfile) give the daemon. */
const SHIPPED_HEAP_MB = 256;

/**
 * `npm run bench`: speed and memory of what the daemon does today, written to
 * bench/results/latest.json and latest.md. Later issues add the sync, CRM and replica figures.
 */
const { values: args } = parseArgs({
  options: {
    leads: { type: "string", default: "10000" },
    out: { type: "string", default: "bench/results" },
    pg: { type: "string", default: process.env.COSELL_BENCH_PG_URL ?? "" },
    "pull-leads": { type: "string", default: "10000" },
    "mapping-leads": { type: "string", default: "100000" },
    "backfill-leads": { type: "string", default: "10000" },
    "backfill-crms": { type: "string", default: "salesforce,hubspot,dynamics" },
    "latency-crms": { type: "string", default: "salesforce,hubspot,dynamics" },
    "latency-samples": { type: "string", default: "20" },
    only: { type: "string", default: "" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (args.help) {
  process.stdout.write(
    "Usage: npm run bench -- [--leads N] [--pull-leads N] [--backfill-leads N,M] [--backfill-crms LIST] [--latency-crms LIST] [--latency-samples N] [--only GROUPS] [--out DIR] [--pg postgres://…]\n\nWrites DIR/latest.json and DIR/latest.md. --pg (or COSELL_BENCH_PG_URL) adds the PostgreSQL store figures;\n--pull-leads sets how many sandbox leads the Partner Center pull benchmark pulls (default 10000);\n--only runs some groups (domain,store,pull,backfill,latency,dataverse,mapping) and keeps the other figures of latest.json.\n",
  );
  process.exit(0);
}

const groups = new Set(args.only.split(",").map((g) => g.trim()).filter(Boolean));
const wants = (group: string) => groups.size === 0 || groups.has(group);
const log = createLogger({ name: "cosell-bench", destination: process.stderr as never, pretty: "auto" });
const leadCount = Number(args.leads);
const started = new Date();

interface Figure {
  name: string;
  value: number;
  unit: string;
  note?: string;
}
const figures: Figure[] = [];

function record(name: string, value: number, unit: string, note?: string): void {
  figures.push({ name, value: Math.round(value * 100) / 100, unit, ...(note ? { note } : {}) });
  log.info({ figure: name, value: Math.round(value), unit }, "measured");
}

function leadInput(i: number, now: Date): LeadInput {
  const raw = { id: `ref-${i}`, name: `Lead ${i}`, status: "New", customerProfile: { name: `Customer ${i}` } };
  return {
    account: "bench",
    referralId: `ref-${i}`,
    engagementId: `eng-${i}`,
    program: "JointPlanning",
    name: `Lead ${i}`,
    state: "new",
    status: "New",
    substatus: "Received",
    eTag: `"${i}"`,
    remoteCreatedAt: now,
    remoteUpdatedAt: now,
    acceptBy: new Date(now.getTime() + 14 * DAY_MS),
    contentHash: contentHash(raw),
    raw,
  };
}

function benchDomain(): void {
  const runs = 200_000;
  const start = new Date("2026-01-01T00:00:00Z");
  const owner = { firstName: "A", lastName: "B", email: "a@b.example" };
  const base: LifecycleSnapshot = { state: "new", receivedAt: start, substages: emptySubstages() };
  const accepted = transition(base, { type: "accept", owner }, start);
  const leads = [base, accepted.ok ? accepted.lead : base];
  const targets: LeadState[] = [...LEAD_STATES];
  const t0 = process.hrtime.bigint();
  let ok = 0;
  for (let i = 0; i < runs; i += 1) {
    const lead = leads[i % 2] as LifecycleSnapshot;
    const plan = planTransition(lead, { state: targets[i % targets.length] as LeadState, owner, reason: "r", qualifyComplete: true, evaluateComplete: true }, start);
    if (plan.ok) ok += 1;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  record("domain.planTransition", runs / seconds, "plans/s", `${ok} of ${runs} plans succeeded`);
}

async function benchStore(label: string, url: string): Promise<void> {
  const store = await Store.open({ url });
  await store.migrate();
  try {
    const now = new Date();
    const single = Math.min(leadCount, 2_000);
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < single; i += 1) {
      await store.transaction((repos) => repos.leads.save(leadInput(i, now), now));
    }
    let seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    record(`${label}.save.oneTransactionPerLead`, single / seconds, "leads/s", "every commit synced (worst case: one lead per page)");

    t0 = process.hrtime.bigint();
    const batch = 100;
    for (let offset = single; offset < single + leadCount; offset += batch) {
      await store.transaction(async (repos) => {
        for (let i = offset; i < Math.min(offset + batch, single + leadCount); i += 1) await repos.leads.save(leadInput(i, now), now);
      });
      if ((offset - single) % (batch * 20) === 0) log.info({ store: label, done: offset - single, of: leadCount }, "progress");
    }
    seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    record(`${label}.save.pageOf100`, leadCount / seconds, "leads/s", "one transaction per Partner Center page of 100");

    t0 = process.hrtime.bigint();
    for (let i = single; i < single + leadCount; i += 1) await store.repos.leads.save(leadInput(i, now), now);
    seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    record(`${label}.save.unchangedReplay`, leadCount / seconds, "leads/s", "replays skip the write (hash and eTag match)");

    const outbox = await benchOutbox(store, leadCount, log);
    record(`${label}.outbox.enqueue`, outbox.enqueuePerSecond, "jobs/s", "100 per transaction");
    record(`${label}.outbox.throughput`, outbox.throughputPerSecond, "jobs/s", "lease, no-op handler, settle; batches of 100");
    record(`${label}.outbox.costPerJob`, outbox.queuedJobMicros, "µs", "enqueue + lease + run + settle");
    record(`${label}.outbox.plainInsert`, outbox.plainInsertMicros, "µs", "one plain row insert, same batching");
    record(`${label}.outbox.extraPerJob`, outbox.extraMicrosPerJob, "µs", "what the outbox adds over a plain insert");
  } finally {
    await store.close();
  }
}

/** One backfill in its own process: its peak RSS is the daemon's alone. */
async function backfill(crm: string, count: number): Promise<BackfillFigures> {
  const { spawn } = await import("node:child_process");
  // The daemon as the shipped launchers run it: V8's old space bounded (see docs/operations.md).
  const child = spawn(process.execPath, [`--max-old-space-size=${SHIPPED_HEAP_MB}`, "dist/bench/backfill-main.js", crm, String(count)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`the ${crm} backfill benchmark exited ${String(code)}`);
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as BackfillFigures;
}

const dir = mkdtempSync(join(tmpdir(), "cosell-bench-"));
try {
  log.info({ leads: leadCount }, "bench starting");
  if (wants("domain")) benchDomain();
  if (wants("store")) {
    await benchStore("sqlite", `sqlite:${join(dir, "bench.db")}`);
    if (args.pg) await benchStore("postgres", args.pg);
    else log.info("no --pg / COSELL_BENCH_PG_URL: PostgreSQL figures skipped");
  }
  if (wants("pull")) {
    const pulled = await benchPull(Number(args["pull-leads"]), log);
    record("partnerCenter.pull.rate", pulled.leadsPerSecond, "leads/s", `${pulled.leads} sandbox leads over HTTP into SQLite, sandbox in its own process`);
    record("partnerCenter.pull.peakRss", pulled.peakRssMb, "MB", "peak RSS of the pulling process");
    record("partnerCenter.pull.rssGrowth", pulled.rssGrowthMb, "MB", "RSS at the end minus after the first 10% of pages (flat ≈ 0)");
    record("partnerCenter.pull.heapGrowth", pulled.heapGrowthMb, "MB", "heap used at the end minus after the first 10% of pages");
  }
  for (const crm of wants("backfill") ? args["backfill-crms"].split(",").filter(Boolean) : []) {
    for (const count of args["backfill-leads"].split(",").map(Number)) {
      const b = await backfill(crm, count);
      const tag = `backfill.${crm}.${count}`;
      record(`${tag}.rate`, b.leadsPerSecond, "leads/s", `${b.leads} leads Partner Center → daemon → ${crm} in ${Math.round(b.seconds)} s (target: 100,000 in < 120 s)`);
      record(`${tag}.peakRss`, b.peakRssMb, "MB", `daemon process (sandboxes in their own process; target < 250), of which the V8 heap ${b.heapAtPeakMb.toFixed(0)} MB`);
      record(`${tag}.cpuPer1000`, b.cpuSecondsPer1000, "CPU s", "per 1,000 leads, daemon process");
      record(`${tag}.callRatio`, b.callRatio, "× minimum", `${b.writeCalls} write calls for a minimum of ${b.minimumCalls} at ${crm}'s batch sizes (target ≤ 1.05)`);
      record(`${tag}.limitSeconds`, b.limitSeconds, "s", `the limit: the fewest calls for the same records (${b.limitCalls}; ${b.limitThrottled} refused for the rate went again) straight through the client to a fresh sandbox, as fast as it allows`);
      record(`${tag}.shareOfLimit`, b.shareOfLimit, "of limit", `the daemon's speed as a share of the limit's (1 = as fast as the sandbox allows)`);
      record(`${tag}.peerCallRatio`, b.peer.callRatio, "×", `per-record strategy: ${b.peer.callsPerLead.toFixed(2)} calls per lead on ${b.peer.sample} leads (target ≥ 20)`);
      record(`${tag}.peerTimeRatio`, b.peer.timeRatio, "×", `per-record strategy: ${(b.peer.secondsPerLead * 1000).toFixed(1)} ms per lead (target ≥ 20)`);
    }
  }
  for (const crm of wants("latency") ? args["latency-crms"].split(",").filter(Boolean) : []) {
    const l = await benchLatency(crm as "salesforce" | "hubspot" | "dynamics", Number(args["latency-samples"]), log);
    const note = `${l.samples} leads, whole daemon on in-process sandboxes`;
    record(`latency.${crm}.webhook.p50`, l.webhook.p50, "ms", `lead created in Partner Center, webhook delivered at once → record in ${crm}; ${note}`);
    record(`latency.${crm}.webhook.p95`, l.webhook.p95, "ms");
    record(`latency.${crm}.poll.p50`, l.poll.p50, "ms", `lead created without a webhook → record in ${crm}, 5 s pull schedule`);
    record(`latency.${crm}.poll.p95`, l.poll.p95, "ms");
    record(`latency.${crm}.sellerEdit.p50`, l.sellerEdit.p50, "ms", `seller accepts in ${crm} → Partner Center shows it accepted, 5 s CRM poll, no debounce`);
    record(`latency.${crm}.sellerEdit.p95`, l.sellerEdit.p95, "ms");
  }
  if (wants("dataverse")) {
    const dataverse = await benchDataverse(1_000, log);
    record("dataverse.batch.1000", dataverse.batchSeconds * 1000, "ms", "$batch with continue-on-error, sandbox on loopback");
    record("dataverse.upsertMultiple.1000", dataverse.upsertMultipleSeconds * 1000, "ms", "UpsertMultiple, sandbox on loopback");
    record("dataverse.batch.survivorsOfOneBadIn100", dataverse.batchBadRecordSurvivors, "records", "$batch: the bad record fails alone");
    record("dataverse.upsertMultiple.survivorsOfOneBadIn100", dataverse.upsertMultipleBadRecordSurvivors, "records", "UpsertMultiple: all or nothing");
  }
  // Last: it holds 100,000 lead sources at once, which would inflate the memory figures above.
  for (const figure of wants("mapping") ? benchMappings(Number(args["mapping-leads"]), log) : []) {
    record(`mapping.${figure.crm}`, figure.leadsPerSecond, "leads/s", `shipped mapping, ${Math.round(figure.fieldsPerLead)} fields per lead, one thread (target ≥ 100,000)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const usage = process.resourceUsage();
record("process.peakRss", usage.maxRSS / 1024, "MB");
record("process.cpu", (usage.userCPUTime + usage.systemCPUTime) / 1e6, "s");

// A partial run (--only) keeps the figures it did not measure.
if (groups.size > 0 && existsSync(join(args.out, "latest.json"))) {
  const previous = (JSON.parse(readFileSync(join(args.out, "latest.json"), "utf8")) as { figures: Figure[] }).figures;
  const measured = new Set(figures.map((f) => f.name));
  figures.unshift(...previous.filter((f) => !measured.has(f.name) && !f.name.startsWith("process.")));
}

const result = {
  startedAt: started.toISOString(),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  leads: leadCount,
  figures,
};
mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, "latest.json"), `${JSON.stringify(result, null, 2)}\n`);
const table = [
  `# cosell-sync bench (${result.startedAt}, Node ${result.node}, ${leadCount} leads)`,
  "",
  "| figure | value | unit | note |",
  "|---|---:|---|---|",
  ...figures.map((f) => `| ${f.name} | ${f.value} | ${f.unit} | ${f.note ?? ""} |`),
  "",
].join("\n");
writeFileSync(join(args.out, "latest.md"), table);
process.stdout.write(table);
log.info({ out: args.out }, "bench written");
