import { createServer } from "node:http";
import type { Server } from "node:http";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StaticTokenProvider } from "../../src/auth/token-provider.js";
import { parseConfigText } from "../../src/config/index.js";
import { WebhookReceiver } from "../../src/daemon/webhook-receiver.js";
import { HttpServer } from "../../src/http/server.js";
import { silentLogger } from "../../src/log/logger.js";
import { adaptReferral } from "../../src/partner-center/adapter.js";
import { ReferralClient } from "../../src/partner-center/client.js";
import { WebhookVerifier } from "../../src/partner-center/webhook-verifier.js";
import { generateLeads } from "../../src/sandbox/partner-center/generator.js";
import { ManualClock } from "../../src/shared/clock.js";
import { CosellError } from "../../src/shared/errors.js";
import { Store } from "../../src/store/index.js";
import { pullChangedLeads } from "../../src/sync/pull-leads.js";
import { captureLogger } from "../helpers/log-capture.js";
import type { TestDatabase } from "../helpers/stores.js";
import { createTestDatabase } from "../helpers/stores.js";

const NOW = new Date("2026-11-24T09:00:00Z");
/** How many inputs each part tried, for the README's figures. */
const tried = { referrals: 0, webhooks: 0, configs: 0 };

/** A valid referral with one part broken: a field replaced by arbitrary JSON, removed, or bloated. */
const brokenReferral = fc
  .tuple(fc.nat(), fc.constantFrom("id", "name", "status", "substatus", "customerProfile", "details", "team", "createdDateTime", "updatedDateTime", "expirationDateTime", "referralProgram", "direction", "qualification", "eTag"), fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined), fc.string({ minLength: 5_000, maxLength: 20_000 })))
  .map(([seed, key, value]) => {
    const referral = generateLeads({ count: 1, seed, now: NOW, idPrefix: `f${seed}-` })[0] as unknown as Record<string, unknown>;
    return (value === undefined ? Object.fromEntries(Object.entries(referral).filter(([name]) => name !== key)) : { ...referral, [key]: value }) as unknown;
  });
const validReferral = fc.nat().map((seed) => generateLeads({ count: 1, seed, now: NOW, idPrefix: `v${seed}-` })[0] as unknown);
const anyItem = fc.oneof(validReferral, brokenReferral, fc.jsonValue({ maxDepth: 4 }));

describe("bad input ends in a clear error and touches nothing else", () => {
  let database: TestDatabase;
  let store: Store;
  let api: Server;
  let apiUrl = "";
  let page: unknown[] = [];

  beforeAll(async () => {
    database = await createTestDatabase("sqlite");
    store = await Store.open({ url: database.url });
    await store.migrate();
    api = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ value: page }));
    });
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
    apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    process.stdout.write(`bad inputs tried: ${JSON.stringify(tried)}\n`);
    await new Promise<void>((resolve) => api.close(() => resolve()));
    await store.close();
    await database.drop();
  });

  it("fuzzed referral pages: every readable Joint Planning lead is stored, every other record skipped with its code", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(anyItem, { minLength: 1, maxLength: 12 }), async (items) => {
        run += 1;
        tried.referrals += items.length;
        const account = `fuzz-${run}`;
        page = items;
        const capture = captureLogger("warn");
        const client = new ReferralClient({ baseUrl: `${apiUrl}/v1.0/engagements`, tokens: new StaticTokenProvider("t"), logger: capture.logger, clock: new ManualClock(NOW) });
        await pullChangedLeads({ account, client, store, clock: new ManualClock(NOW), logger: capture.logger });
        const readable = new Set<string>();
        let unreadable = 0;
        for (const item of items) {
          try {
            const adapted = adaptReferral(item);
            if (adapted.lead.program.toLowerCase() === "jointplanning") readable.add(adapted.referral.id);
          } catch {
            unreadable += 1;
          }
        }
        const stored = await store.repos.leads.list({ account, limit: 100 });
        expect(new Set(stored.map((lead) => lead.referralId))).toEqual(readable);
        const refusals = capture.lines().filter((line) => line.msg === "skipped a referral that could not be read" || line.msg === "skipped a referral without an id");
        expect(refusals.length).toBe(unreadable);
        for (const line of refusals) expect((line.err as { code?: string } | undefined)?.code ?? line.code).toBe("PC_RECORD_INVALID");
      }),
      { numRuns: 60 },
    );
  });

  it("hostile webhook bodies and headers: refused with a WEBHOOK_ code, nothing pulled", async () => {
    const hints: string[] = [];
    const verifier = new WebhookVerifier({ allowedCertificateHosts: ["certs.partner.example"], trustedCaPems: [], useSystemRoots: false });
    const receiver = new WebhookReceiver({ verifiers: new Map([["acme", verifier]]), hint: async (_account, id) => hints.push(id), logger: silentLogger() });
    const server = new HttpServer({ logger: silentLogger(), readiness: async () => [], webhook: (account, headers, body) => receiver.receive(account, headers, body) });
    const url = await server.listen("127.0.0.1", 0);
    const header = fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom("Signature keyId=x,algorithm=rsa-sha256,signature=AAAA", 'SharedKey eyJhbGciOiJub25lIn0.e30.', "Bearer x", "Signature certUrl=http://evil.example/c.pem", "\u0000\u0001"));
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 2_000 }).map((bytes) => Buffer.from(bytes)),
      fc.jsonValue({ maxDepth: 5 }).map((value) => Buffer.from(JSON.stringify(value))),
      fc.constant(Buffer.from(JSON.stringify({ EventName: "referral-created", ResourceUri: "https://api.partner.microsoft.com/v1.0/engagements/referrals/x", ResourceName: "referral", ResourceChangeUtcDate: NOW.toISOString() }))),
      fc.constant(Buffer.from(`{"a":${"[".repeat(5_000)}${"]".repeat(5_000)}}`)),
    );
    try {
      await fc.assert(
        fc.asyncProperty(body, fc.option(header), fc.option(header), fc.constantFrom("acme", "nobody", ""), async (payload, authorization, signature, account) => {
          tried.webhooks += 1;
          const headers: Record<string, string> = { "Content-Type": "application/json" };
          const clean = (value: string) => value.replace(/[^\t\x20-\x7e]/g, "");
          if (authorization !== null) headers.Authorization = clean(authorization);
          if (signature !== null) headers["x-ms-signature"] = clean(signature);
          const res = await fetch(`${url}/webhooks/partner-center${account ? `/${account}` : ""}`, { method: "POST", headers, body: payload });
          const answer = (await res.json()) as { error?: string };
          expect(res.status, JSON.stringify(answer)).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(answer.error ?? "").toMatch(/^WEBHOOK_/);
        }),
        { numRuns: 150 },
      );
    } finally {
      await server.close();
    }
    expect(hints).toEqual([]);
  });

  it("malformed config files: loaded, or refused with a CONFIG_ code naming the place", () => {
    const shipped = ["config/example.yaml", "config/default.yaml", "config/docker.yaml"].map((file) => readFileSync(file, "utf8"));
    const env = { COSELL_PG_PASSWORD: "p", PC_CLIENT_SECRET: "s", PC_REFRESH_TOKEN: "r", PC_TOKEN_CACHE_KEY: "k".repeat(32), SF_JWT_PRIVATE_KEY: "k", HUBSPOT_TOKEN: "t", DYNAMICS_CLIENT_SECRET: "d", COSELL_GRAPH_CLIENT_SECRET: "g", COSELL_TEAMS_WORKFLOW_URL: "https://x.example/w?sig=1", COSELL_STATUS_TOKEN: "t" };
    const edit = fc.tuple(fc.constantFrom(...shipped), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 30 }), fc.string({ maxLength: 10 })), { minLength: 1, maxLength: 6 }));
    fc.assert(
      fc.property(edit, ([text, edits]) => {
        tried.configs += 1;
        let mutated = text;
        for (const [at, cut, insert] of edits) {
          const i = at % (mutated.length + 1);
          mutated = mutated.slice(0, i) + insert + mutated.slice(i + cut);
        }
        try {
          parseConfigText(mutated, "fuzz.yaml", { env, cwd: process.cwd() });
        } catch (error) {
          expect(error).toBeInstanceOf(CosellError);
          expect((error as CosellError).code).toMatch(/^CONFIG_/);
          // Every refusal says where: each issue has a line (or names its key) and a message.
          const issues = ((error as CosellError).details.issues ?? []) as Array<{ path?: string; line?: number; message: string }>;
          expect(issues.length).toBeGreaterThan(0);
          for (const issue of issues) expect(issue.message.length > 0 && (issue.line !== undefined || issue.path !== undefined)).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });
});
