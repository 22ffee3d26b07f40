import type { Config } from "../config/index.js";
import { loadConfig } from "../config/index.js";
import { createLogger } from "../log/logger.js";
import { Store } from "../store/index.js";
import type { CliIo } from "./io.js";
import type { ConfigOptions } from "./options.js";

/** Opens the configured store (migrated), runs one command's work on it, and always closes it. */
export async function withStore<T>(options: ConfigOptions, io: CliIo, work: (store: Store, config: Config) => Promise<T>): Promise<T> {
  const { config } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
  const logger = createLogger({ level: "warn", pretty: "never", destination: io.stderr as never });
  const store = await Store.open({ url: config.store.url, busyTimeoutMs: config.store.busyTimeoutMs, poolMax: config.store.poolMax, cwd: io.cwd }, logger);
  try {
    await store.migrate();
    return await work(store, config);
  } finally {
    await store.close();
  }
}
