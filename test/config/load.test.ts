import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ConfigIssue } from "../../src/config/index.js";
import { loadConfig, parseConfigText } from "../../src/config/index.js";
import { outboxTargets } from "../../src/daemon/outbox-targets.js";
import { CosellError } from "../../src/shared/errors.js";

const EXAMPLE_ENV = {
  COSELL_PG_PASSWORD: "pg-pass",
  PC_CLIENT_SECRET: "pc-secret",
  PC_REFRESH_TOKEN: "pc-refresh",
  SF_JWT_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----",
  PC_TOKEN_CACHE_KEY: "k".repeat(32),
  HUBSPOT_TOKEN: "pat-na1-xyz",
  DYNAMICS_CLIENT_SECRET: "dyn-secret",
  COSELL_GRAPH_CLIENT_SECRET: "graph-secret",
  COSELL_TEAMS_WORKFLOW_URL: "https://prod-42.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s3cr3t",
};

const MINIMAL = `
partnerCenter:
  accounts:
    acme:
      auth:
        mode: sandbox
crms:
  acme-sf:
    type: salesforce
    auth:
      mode: sandbox
pairs:
  - name: acme-sf
    partnerCenter: acme
    crm: acme-sf
    mapping: mappings/salesforce.yaml
`;

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): ConfigIssue[] {
  try {
    parseConfigText(text, "test.yaml", { env, cwd });
  } catch (error) {
    expect(error).toBeInstanceOf(CosellError);
    const cosell = error as CosellError;
    expect(cosell.code).toBe("CONFIG_INVALID");
    return cosell.details.issues as ConfigIssue[];
  }
  throw new Error("expected the config to be refused");
}

describe("config: the shipped files", () => {
  it("config/example.yaml passes with its env vars set, and resolves references", async () => {
    const { config } = await loadConfig("config/example.yaml", { env: EXAMPLE_ENV });
    expect(config.pairs.map((p) => p.name)).toEqual(["contoso-salesforce", "contoso-hubspot", "contoso-dynamics"]);
    expect(config.store.url).toBe("postgres://cosell:pg-pass@127.0.0.1:5432/cosell");
    const hubspot = config.crms["contoso-hubspot"];
    expect(hubspot?.type === "hubspot" && hubspot.auth.mode === "private-app" && hubspot.auth.accessToken).toBe("pat-na1-xyz");
  });

  it("config/example.yaml without its env vars names every missing variable", async () => {
    const error = await loadConfig("config/example.yaml", { env: {} }).catch((e: unknown) => e as CosellError);
    expect(error).toBeInstanceOf(CosellError);
    const issues = (error as CosellError).details.issues as ConfigIssue[];
    const missing = issues.filter((i) => i.code === "CONFIG_ENV_MISSING").map((i) => i.path);
    expect(missing).toEqual(
      expect.arrayContaining(["store.url", "crms.contoso-hubspot.auth.accessToken", "crms.contoso-dynamics.auth.clientSecret"]),
    );
  });

  it("config/default.yaml runs the sandboxes on SQLite with defaults filled in", async () => {
    const { config } = await loadConfig("config/default.yaml", { env: {} });
    expect(config.store.url).toBe("sqlite:./data/cosell-sync.db");
    expect(config.sandbox.enabled).toBe(true);
    expect(config.http.port).toBe(8787);
    expect(config.pairs).toHaveLength(3);
    expect(config.pairs[0]?.schedule).toEqual({ pull: "* * * * *", reconcile: "0 3 * * *", crmPoll: "* * * * *" });
  });

  it("a missing file says how to get one", async () => {
    await expect(loadConfig("config/nope.yaml")).rejects.toMatchObject({ code: "CONFIG_NOT_FOUND" });
  });
});

describe("config: errors name the key path and the line", () => {
  it("a misspelt option", () => {
    const issues = issuesOf(MINIMAL.replace("    mapping:", "    mapin: x\n    mapping:"));
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: "CONFIG_UNKNOWN_KEY", path: "pairs[0].mapin", line: 16, message: 'is not a known option here; did you mean "mapping"?' }),
      ]),
    );
  });

  it("a dangling reference from a pair", () => {
    const issues = issuesOf(MINIMAL.replace("crm: acme-sf\n    mapping", "crm: acme-sfx\n    mapping"));
    expect(issues).toEqual([
      expect.objectContaining({ path: "pairs[0].crm", line: 15, message: expect.stringContaining("known: acme-sf") }),
    ]);
  });

  it("a missing required key points at its parent's line", () => {
    const issues = issuesOf(MINIMAL.replace("    mapping: mappings/salesforce.yaml\n", ""));
    expect(issues).toEqual([expect.objectContaining({ path: "pairs[0].mapping", line: 13, message: "is required but missing" })]);
  });

  it("a wrong value type and a bad cron expression", () => {
    const text = `${MINIMAL}    schedule:\n      pull: "every minute"\nhttp:\n  port: nope\n`;
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ["pairs[0].schedule.pull", 18],
      ["http.port", 20],
    ]);
  });

  it("duplicate pair names and a pair joining the same account and CRM twice", () => {
    const twice = `${MINIMAL}  - name: acme-sf\n    partnerCenter: acme\n    crm: acme-sf\n    mapping: m.yaml\n`;
    const messages = issuesOf(twice).map((i) => i.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringContaining("pair names must be unique"),
        expect.stringContaining("would write every lead twice"),
      ]),
    );
  });

  it("an alias to an anchor that does not exist", () => {
    expect(issuesOf(`${MINIMAL}log: *missing\n`)[0]).toMatchObject({ code: "CONFIG_YAML_INVALID" });
  });

  it("a YAML syntax error", () => {
    const issues = issuesOf("pairs:\n  - name: a\n   bad: [\n");
    expect(issues[0]).toMatchObject({ code: "CONFIG_YAML_INVALID" });
    expect(issues[0]?.line).toBeGreaterThan(1);
  });

  it("the error message lists file:line per problem", () => {
    try {
      parseConfigText(MINIMAL.replace("type: salesforce", "type: pipedrive"), "cfg.yaml", { env: {}, cwd: "." });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(/^Config cfg\.yaml has 1 problem; nothing was started:\n {2}cfg\.yaml:9:\d+ crms\.acme-sf\.type: /);
    }
  });
});

describe("config: secrets", () => {
  const withSecret = (value: string) =>
    MINIMAL.replace("crms:\n  acme-sf:\n    type: salesforce\n    auth:\n      mode: sandbox", `crms:\n  acme-sf:\n    type: salesforce\n    instanceUrl: https://x.my.salesforce.com\n    auth:\n      mode: access-token\n      accessToken: ${value}`);

  it("refuses a secret written in clear and says how to move it", () => {
    const issues = issuesOf(withSecret("00Dxx0000001gPL!AR8AQ"));
    expect(issues).toEqual([
      expect.objectContaining({
        code: "CONFIG_SECRET_IN_CLEAR",
        path: "crms.acme-sf.auth.accessToken",
        line: 13,
        message: expect.stringContaining("${COSELL_CRMS_ACME_SF_AUTH_ACCESS_TOKEN}"),
      }),
    ]);
  });

  it("refuses a secret with a clear default, and a password inside a URL", () => {
    expect(issuesOf(withSecret("${SF_TOKEN:-abc}"))[0]?.code).toBe("CONFIG_SECRET_IN_CLEAR");
    const url = `store:\n  url: postgres://u:hunter2@db/x\n${MINIMAL}`;
    expect(issuesOf(url)[0]).toMatchObject({ code: "CONFIG_SECRET_IN_CLEAR", path: "store.url", line: 2 });
  });

  it("reads a secret from the environment or from a file", () => {
    const fromEnv = parseConfigText(withSecret("${SF_TOKEN}"), "t.yaml", { env: { SF_TOKEN: "tok-env" }, cwd: "." });
    const sf = fromEnv.crms["acme-sf"];
    expect(sf?.type === "salesforce" && sf.auth.mode === "access-token" && sf.auth.accessToken).toBe("tok-env");

    const dir = mkdtempSync(join(tmpdir(), "cosell-secret-"));
    writeFileSync(join(dir, "token"), "tok-file\n");
    const fromFile = parseConfigText(withSecret("${file:token}"), "t.yaml", { env: {}, cwd: dir });
    const sf2 = fromFile.crms["acme-sf"];
    expect(sf2?.type === "salesforce" && sf2.auth.mode === "access-token" && sf2.auth.accessToken).toBe("tok-file");
  });

  it("names an unreadable secret file", () => {
    const issues = issuesOf(withSecret("${file:/nonexistent/secret}"));
    expect(issues).toEqual([expect.objectContaining({ code: "CONFIG_SECRET_FILE_UNREADABLE", path: "crms.acme-sf.auth.accessToken" })]);
  });

  it("never puts a secret's value into the error", () => {
    try {
      parseConfigText(withSecret("s3cr3t-value"), "t.yaml", { env: {}, cwd: "." });
      expect.unreachable();
    } catch (error) {
      expect(JSON.stringify((error as CosellError).toJSON())).not.toContain("s3cr3t-value");
      expect((error as Error).message).not.toContain("s3cr3t-value");
    }
  });
});

describe("config: the Teams reminder channel", () => {
  it("takes the workflow URL only from the environment or a secret file, and checks it and the time zone", () => {
    const teams = (lines: string) => `${MINIMAL}notify:\n  teams:\n${lines}`;
    const inClear = issuesOf(teams("    mode: webhook\n    webhookUrl: https://prod-42.logic.azure.com/workflows/abc?sig=s3cr3t\n"));
    expect(inClear[0]).toMatchObject({ code: "CONFIG_SECRET_IN_CLEAR", path: "notify.teams.webhookUrl" });
    const notUrl = issuesOf(teams("    mode: webhook\n    webhookUrl: ${TEAMS_URL}\n"), { TEAMS_URL: "not a url" });
    expect(notUrl[0]).toMatchObject({ path: "notify.teams.webhookUrl" });
    const badZone = issuesOf(teams("    mode: sandbox\n    timeZone: Mars/Olympus\n"));
    expect(badZone[0]?.message).toContain("IANA time zone");
    const ok = parseConfigText(teams("    mode: webhook\n    webhookUrl: ${TEAMS_URL}\n"), "t.yaml", { env: { TEAMS_URL: "https://prod-42.logic.azure.com/workflows/abc?sig=s3cr3t" }, cwd: process.cwd() });
    expect(ok.notify.teams).toMatchObject({ mode: "webhook", timeZone: "UTC" });
    expect(ok.deadlines.crmTasks).toBe(true);
  });
});

describe("config: outbox target pacing", () => {
  it("an override changes only what it names: the CRM's interval and linger stand", () => {
    const config = parseConfigText(`${MINIMAL}\noutbox:\n  targets:\n    crm:acme-sf:\n      batchSize: 100\n`, "test.yaml", { env: {}, cwd: process.cwd() });
    expect(outboxTargets(config)["crm:acme-sf"]).toEqual({ concurrency: 4, batchSize: 100, requestsPerInterval: 100, intervalMs: 1_000, lingerMs: 2_000 });
    const hubspot = parseConfigText(`${MINIMAL}\noutbox:\n  targets:\n    crm:acme-sf:\n      linger: 0s\n      interval: 10s\n`, "test.yaml", { env: {}, cwd: process.cwd() });
    expect(outboxTargets(hubspot)["crm:acme-sf"]).toMatchObject({ batchSize: 200, intervalMs: 10_000, lingerMs: 0 });
  });
});

describe("config: routing", () => {
  const withRouting = (routing: string, crm = "salesforce") => MINIMAL.replace("type: salesforce", `type: ${crm}`).replace("mapping: mappings/salesforce.yaml", `mapping: mappings/${crm === "dynamics" ? "dynamics" : crm}.yaml\n    routing: ${routing}`);

  it("reads each mode, with its cache TTL", () => {
    const direct = parseConfigText(withRouting("{ mode: direct, owner: { team: Joint Planning Leads }, cacheTtl: 5m }"), "t.yaml", { env: {}, cwd: process.cwd() });
    expect(direct.pairs[0]?.routing).toEqual({ mode: "direct", owner: { team: "Joint Planning Leads" }, cacheTtl: 300_000 });
    const rules = parseConfigText(withRouting("{ mode: rules, rules: [{ when: { country: [US, CA] }, owner: { user: na@partner.example } }], default: { user: referrals@partner.example } }"), "t.yaml", { env: {}, cwd: process.cwd() });
    expect(rules.pairs[0]?.routing).toMatchObject({ mode: "rules", rules: [{ when: { country: ["US", "CA"] } }], cacheTtl: 900_000 });
  });

  it("points at what is wrong: a missing default, an unknown mode, a team owner for HubSpot", () => {
    expect(issuesOf(withRouting("{ mode: rules, rules: [{ when: { country: US }, owner: { user: a@b.example } }] }")).map((i) => i.path)).toEqual(["pairs[0].routing.default"]);
    expect(issuesOf(withRouting("{ mode: round-robin }"))[0]?.message).toMatch(/needs mode: central, direct or rules/);
    const hubspot = issuesOf(withRouting("{ mode: rules, rules: [{ when: { country: US }, owner: { team: Sales } }], default: { user: a@b.example } }", "hubspot"));
    expect(hubspot.map((i) => [i.path, i.message])).toEqual([["pairs[0].routing.rules[0].owner.team", expect.stringMatching(/cannot own HubSpot records/)]]);
  });
});
