import { openCrmConnector } from "../src/daemon/crm-connectors.js";
import { silentLogger } from "../src/log/logger.js";
import { Store } from "../src/store/index.js";
import type { Kind, Settings } from "./backfill.js";
import { ALLOWANCE, BATCH, configFor } from "./backfill.js";
import { writeMinimal } from "./minimal-writes.js";

/**
 * The limit of one backfill benchmark, in a process of its own (its memory is not the daemon's,
 * which the benchmark's process is bounded for): the fewest calls for what the daemon wrote, from
 * its store, to the fresh sandbox B. Prints the figures as one JSON line.
 * Usage: node dist/bench/limit-main.js <crm> <store file> <work dir>, settings in COSELL_BENCH_SETTINGS.
 */
const [kind, storeFile, dir] = process.argv.slice(2) as [Kind, string, string];
const settings = JSON.parse(process.env.COSELL_BENCH_SETTINGS ?? "{}") as Settings;
const store = await Store.open({ url: `sqlite:${storeFile}` });
const direct = await openCrmConnector("bench", configFor(kind, settings, "B", "sqlite::memory:").crms.bench as never, silentLogger());
const limit = await writeMinimal(direct.connector, store, "crm:bench", BATCH[kind], ALLOWANCE[kind], dir);
await direct.close();
await store.close();
process.stdout.write(`${JSON.stringify(limit)}\n`);
process.exit(0);
