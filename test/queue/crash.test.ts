import { spawn } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync } from "node:fs";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { SeededRandom } from "../../src/shared/seeded-random.js";
import type { Store } from "../../src/store/index.js";
import { createTestDatabase, describeEachStore, openMigratedStore } from "../helpers/stores.js";

/**
 * Kill -9 suite: a real worker process runs 2,000 jobs against a target that records each effect by
 * idempotency key; the worker is SIGKILLed at random moments (some while a request is half done),
 * restarted, and at the end every effect happened, none was lost, and repeats were absorbed.
 */
const FIXTURE = "test/queue/fixtures/outbox-worker.mjs";
const JOBS = 2_000;

beforeAll(() => {
  if (!existsSync("dist/src/queue/worker.js")) throw new Error("dist/ is missing: run `npm run build` (npm test does it first)");
});

interface Target {
  url: string;
  effects: Map<string, number>;
  byWorker: Map<string, number>;
  overlaps: number;
  /** Called on every effect request, before it is answered. */
  onEffect: (response: () => void) => void;
  close(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  const inFlight = new Set<string>();
  const target: Target = {
    url: "",
    effects: new Map(),
    byWorker: new Map(),
    overlaps: 0,
    onEffect: (respond) => respond(),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on("end", () => {
      const key = String(req.headers["idempotency-key"]);
      if (inFlight.has(key)) target.overlaps += 1;
      inFlight.add(key);
      // The idempotency key absorbs repeats: the effect is applied once, repeats only counted.
      target.effects.set(key, (target.effects.get(key) ?? 0) + 1);
      const worker = String(req.headers["x-worker"]);
      target.byWorker.set(worker, (target.byWorker.get(worker) ?? 0) + 1);
      target.onEffect(() => {
        inFlight.delete(key);
        if (!res.destroyed) res.writeHead(200).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  target.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/effects`;
  return target;
}

function startWorker(env: Record<string, string>) {
  const child = spawn(process.execPath, [FIXTURE], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve();
    });
    child.on("exit", (code, signal) => reject(new Error(`worker exited early (${code ?? signal}): ${stderr}`)));
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return { child, ready, exited, stderr: () => stderr };
}

async function enqueueJobs(store: Store, count: number): Promise<void> {
  const now = new Date();
  for (let offset = 0; offset < count; offset += 200) {
    await store.transaction(async (repos) => {
      for (let i = offset; i < Math.min(count, offset + 200); i += 1) {
        await repos.outbox.enqueue({ target: "test:target", kind: "effect", payload: { i }, coalesceKey: null, idempotencyKey: `effect-${i}`, maxAttempts: 1_000 }, now);
      }
    });
  }
}

async function doneCount(store: Store): Promise<number> {
  const stats = await store.repos.outbox.stats(new Date());
  return stats.byState.done?.["test:target"] ?? 0;
}

describeEachStore("outbox under kill -9", (kind) => {
  it(
    "loses no job across 20+ SIGKILLs; repeats are absorbed by the idempotency key",
    async () => {
      const database = await createTestDatabase(kind);
      const store = await openMigratedStore(database);
      const target = await startTarget();
      const random = new SeededRandom(`crash-${kind}`);
      await enqueueJobs(store, JOBS);
      const env = { COSELL_STORE_URL: database.url, COSELL_TARGET_URL: target.url };
      let kills = 0;
      try {
        while (kills < 20) {
          const worker = startWorker(env);
          await worker.ready;
          // Kill after a random number of effects; half the time while that effect's request is
          // still unanswered (applied at the target, not yet completed in the outbox).
          const threshold = random.int(5, 60);
          const midRequest = random.chance(0.5);
          let seen = 0;
          await new Promise<void>((resolve) => {
            target.onEffect = (respond) => {
              seen += 1;
              if (seen === threshold) {
                if (!midRequest) respond();
                worker.child.kill("SIGKILL");
                resolve();
                if (midRequest) respond();
                return;
              }
              respond();
            };
          });
          await worker.exited;
          target.onEffect = (respond) => respond();
          kills += 1;
        }
        const finisher = startWorker(env);
        await finisher.ready;
        let done = await doneCount(store);
        const started = Date.now();
        while (done < JOBS) {
          if (Date.now() - started > 120_000) throw new Error(`stuck at ${done}/${JOBS}: ${finisher.stderr()}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
          done = await doneCount(store);
        }
        finisher.child.kill("SIGTERM");
        await finisher.exited;
      } finally {
        await target.close();
      }
      expect(kills).toBeGreaterThanOrEqual(20);
      expect(await doneCount(store)).toBe(JOBS);
      expect(target.effects.size).toBe(JOBS);
      for (let i = 0; i < JOBS; i += 1) expect(target.effects.has(`effect-${i}`)).toBe(true);
      const repeats = [...target.effects.values()].reduce((sum, n) => sum + n - 1, 0);
      // Only jobs caught mid-flight by a kill may repeat: at most a couple of batches per kill.
      expect(repeats).toBeLessThanOrEqual(kills * 2 * 10);
      const stats = await store.repos.outbox.stats(new Date());
      expect(stats.byState.dead).toBeUndefined();
      await store.close();
      await database.drop();
    },
    180_000,
  );
});

describe.skipIf(inject("pgUrl") === null)("two workers [postgres]", () => {
  it(
    "on one PostgreSQL database never run the same job at once, and share the work",
    async () => {
      const database = await createTestDatabase("postgres");
      const store = await openMigratedStore(database);
      const target = await startTarget();
      await enqueueJobs(store, 1_000);
      // Hold each effect open for a moment so that overlapping runs would be seen.
      target.onEffect = (respond) => setTimeout(respond, 2);
      const env = { COSELL_STORE_URL: database.url, COSELL_TARGET_URL: target.url, COSELL_LEASE_MS: "5000" };
      const a = startWorker({ ...env, COSELL_WORKER_NAME: "a" });
      const b = startWorker({ ...env, COSELL_WORKER_NAME: "b" });
      try {
        await Promise.all([a.ready, b.ready]);
        const started = Date.now();
        while ((await doneCount(store)) < 1_000) {
          if (Date.now() - started > 60_000) throw new Error("workers did not finish");
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        a.child.kill("SIGTERM");
        b.child.kill("SIGTERM");
        await Promise.all([a.exited, b.exited]);
        await target.close();
      }
      expect(target.overlaps).toBe(0);
      expect(target.effects.size).toBe(1_000);
      expect([...target.effects.values()].every((n) => n === 1)).toBe(true);
      expect(target.byWorker.get("a")).toBeGreaterThan(100);
      expect(target.byWorker.get("b")).toBeGreaterThan(100);
      await store.close();
      await database.drop();
    },
    120_000,
  );
});
