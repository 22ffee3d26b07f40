import { createLogger } from "../src/log/logger.js";
import { benchBackfill } from "./backfill.js";

/**
 * One backfill benchmark in a fresh process (so its peak RSS is the daemon's alone): prints the
 * figures as one JSON line. Usage: node dist/bench/backfill-main.js <crm> <leads> [latency ms per API call, default 20] [--daemon-only]
 */
const log = createLogger({ name: "cosell-bench", destination: process.stderr as never, pretty: "never" });
const figures = await benchBackfill(process.argv[2] as "salesforce" | "hubspot" | "dynamics", Number(process.argv[3] ?? 10_000), log, Number(process.argv[4] ?? 20), { daemonOnly: process.argv.includes("--daemon-only") });
process.stdout.write(`${JSON.stringify(figures)}\n`);
process.exit(0);
