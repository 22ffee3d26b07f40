import { afterEach, describe, expect, it } from "vitest";
import type { DynamicsConnector } from "../../connectors/dynamics/connector.js";
import type { DataverseSandbox } from "../../connectors/dynamics/sandbox/server.js";
import type { ChangePage } from "../../connectors/types.js";
import { boundaryOf, decodeBatch, encodeBatch } from "../../connectors/dynamics/batch.js";
import { ManualClock } from "../../src/shared/clock.js";
import { dataverseLeads, startDataverse } from "../helpers/dynamics.js";

const LEAD = { object: "lead", externalIdField: "cosell_referralid" };
const INBOUND = ["cosell_status", "cosell_qualifycomplete"];
let sandbox: DataverseSandbox;
let connector: DynamicsConnector;

afterEach(async () => {
  await sandbox?.close();
});

async function allChanges(request: Parameters<DynamicsConnector["changes"]>[0]): Promise<ChangePage[]> {
  const pages: ChangePage[] = [];
  for await (const page of connector.changes(request)) pages.push(page);
  return pages;
}

describe("Dataverse connector against the sandbox", () => {
  it("upserts 1,000 leads in one $batch call; a re-sync creates nothing", async () => {
    ({ sandbox, connector } = await startDataverse());
    const before = sandbox.stats.requests;
    const first = await connector.upsert({ ...LEAD, records: dataverseLeads(1000) });
    expect(sandbox.stats.requests - before).toBe(1);
    expect(first.every((r) => r.outcome === "created")).toBe(true);
    const again = await connector.upsert({ ...LEAD, records: dataverseLeads(1000) });
    expect(again.every((r) => r.outcome === "updated")).toBe(true);
    expect(sandbox.rows).toHaveLength(1000);
    expect(again.map((r) => (r.outcome === "updated" ? r.id : ""))).toEqual(first.map((r) => (r.outcome === "created" ? r.id : "")));
  });

  it("a bad record in a batch fails alone, typed", async () => {
    ({ sandbox, connector } = await startDataverse());
    const records = dataverseLeads(4);
    records[1] = { key: "too-long", fields: { ...records[1]?.fields, subject: "x".repeat(301) } as never };
    records[2] = { key: "bad-choice", fields: { ...records[2]?.fields, cosell_status: 42 } as never };
    const results = await connector.upsert({ ...LEAD, records });
    expect(results.map((r) => (r.outcome === "failed" ? [r.key, r.error.code, r.error.retryable] : [r.key, r.outcome]))).toEqual([
      ["ref-00000", "created"],
      ["too-long", "CRM_VALUE_TOO_LONG", false],
      ["bad-choice", "CRM_BAD_PICKLIST_VALUE", false],
      ["ref-00003", "created"],
    ]);
    expect(sandbox.rows).toHaveLength(2);
  });

  it("seller edits arrive through the delta link and ours do not", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startDataverse({ clock }));
    const written = await connector.upsert({ ...LEAD, records: dataverseLeads(3) });
    const start = await allChanges({ ...LEAD, fields: INBOUND, since: new Date("2026-11-24T09:00:00Z") });
    expect(start.flatMap((p) => p.changes)).toEqual([]);
    const cursor = start.at(-1)?.cursor;
    expect(cursor?.token).toMatch(/\$deltatoken=/);

    clock.advance(60_000);
    const target = written[2];
    sandbox.editAsSeller(target?.outcome === "created" ? target.id : "", { cosell_status: 100000001, cosell_qualifycomplete: true });
    await connector.upsert({ ...LEAD, records: dataverseLeads(2).map((r) => ({ ...r, fields: { cosell_substage: "Qualify" } })) });
    const delta = await allChanges({ ...LEAD, fields: INBOUND, ...(cursor ? { cursor } : {}) });
    expect(delta.flatMap((p) => p.changes)).toEqual([
      { id: target?.outcome === "created" ? target.id : "", externalId: "ref-00002", modifiedAt: "2026-11-24T10:01:00.000Z", modifiedBy: sandbox.sellerUserId, fields: { cosell_status: 100000001, cosell_qualifycomplete: true } },
    ]);
  });

  it("an expired delta token recovers with one full read and loses no edit", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startDataverse({ clock }));
    const written = await connector.upsert({ ...LEAD, records: dataverseLeads(5) });
    clock.advance(60_000);
    const early = written[0];
    sandbox.editAsSeller(early?.outcome === "created" ? early.id : "", { cosell_status: 100000003 });
    const first = await allChanges({ ...LEAD, fields: INBOUND, since: new Date("2026-11-24T09:00:00Z") });
    expect(first.flatMap((p) => p.changes)).toHaveLength(1);
    const cursor = first.at(-1)?.cursor;

    clock.advance(60_000);
    const late = written[3];
    sandbox.editAsSeller(late?.outcome === "created" ? late.id : "", { cosell_status: 100000002 });
    sandbox.expireDeltaTokens();
    const recovered = await allChanges({ ...LEAD, fields: INBOUND, ...(cursor ? { cursor } : {}) });
    expect(recovered.flatMap((p) => p.changes).map((c) => [c.externalId, c.fields.cosell_status])).toEqual([["ref-00003", 100000002]]);
    expect(recovered.at(-1)?.cursor.token).toMatch(/\$deltatoken=/);
  });

  it("pages change tracking with nextLink before handing over the delta link", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startDataverse({ clock }, 40));
    const written = await connector.upsert({ ...LEAD, records: dataverseLeads(100) });
    clock.advance(60_000);
    for (const r of written) sandbox.editAsSeller(r.outcome === "created" ? r.id : "", { cosell_qualifycomplete: true });
    const pages = await allChanges({ ...LEAD, fields: INBOUND, since: new Date("2026-11-24T10:00:30Z") });
    expect(pages.map((p) => p.changes.length)).toEqual([40, 40, 20]);
    expect(new Set(pages.flatMap((p) => p.changes.map((c) => c.id))).size).toBe(100);
  });

  it("checkSchema finds the alternate key and the columns the shipped mapping needs", async () => {
    ({ sandbox, connector } = await startDataverse());
    expect(await connector.checkSchema([{ ...LEAD, fields: [{ name: "subject", maxLength: 300 }, { name: "cosell_acceptby" }] }])).toEqual({ ok: true, problems: [] });
    const report = await connector.checkSchema([{ ...LEAD, fields: [{ name: "subject", maxLength: 400 }, { name: "cosell_nope" }] }]);
    expect(report.problems.map((p) => [p.field, p.problem])).toEqual([
      ["subject", "too-short"],
      ["cosell_nope", "missing"],
    ]);
  });
});

describe("Dataverse without change tracking on the table", () => {
  it("falls back to tie-safe modifiedon polling and keeps to it", async () => {
    const clock = new ManualClock("2026-11-24T10:00:00Z");
    ({ sandbox, connector } = await startDataverse({ clock, changeTracking: false }, 30));
    const written = await connector.upsert({ ...LEAD, records: dataverseLeads(80) });
    clock.advance(60_000);
    // A mass edit: 80 rows with one modifiedon, paged by 30.
    for (const r of written) sandbox.editAsSeller(r.outcome === "created" ? r.id : "", { cosell_status: 100000001 });
    const pages = await allChanges({ ...LEAD, fields: INBOUND, since: new Date("2026-11-24T10:00:30Z") });
    expect(pages.map((p) => p.changes.length)).toEqual([30, 30, 20]);
    expect(new Set(pages.flatMap((p) => p.changes.map((c) => c.id))).size).toBe(80);
    expect(pages.at(-1)?.cursor.token).toBe("poll:modifiedon");
    expect(sandbox.stats.byRoute["GET /leads"]).toBeGreaterThanOrEqual(4);

    clock.advance(60_000);
    const one = written[7];
    sandbox.editAsSeller(one?.outcome === "created" ? one.id : "", { cosell_status: 100000002 });
    const next = await allChanges({ ...LEAD, fields: INBOUND, cursor: pages.at(-1)?.cursor });
    expect(next.flatMap((p) => p.changes.map((c) => [c.externalId, c.fields.cosell_status]))).toEqual([["ref-00007", 100000002]]);
  });

  it("answers 429 past 52 concurrent requests, and 503 by the fault knob", async () => {
    ({ sandbox, connector } = await startDataverse());
    sandbox.faults.latencyMs = 150;
    const settled = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => connector.upsert({ ...LEAD, records: [{ key: `c${i}`, fields: { subject: "S" } }] })));
    const refused = settled.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as { code: string; details: { crmCode: string }; retryAfterMs: number });
    expect(refused.length).toBe(8);
    expect(refused[0]).toMatchObject({ code: "CRM_THROTTLED", details: { crmCode: "0x80072326" }, retryAfterMs: 1000 });
    sandbox.faults.latencyMs = 0;
    sandbox.faults.errorRate = 1;
    await expect(connector.upsert({ ...LEAD, records: dataverseLeads(1) })).rejects.toMatchObject({ code: "CRM_UNAVAILABLE", retryable: true });
  });
});

describe("Dataverse $batch change sets", () => {
  it("a change set is all or nothing; operations outside one stand alone", async () => {
    const started = await startDataverse();
    sandbox = started.sandbox;
    const patch = (key: string, subject: string, id: number) => ({ method: "PATCH", url: `/api/data/v9.2/leads(cosell_referralid='${key}')`, headers: { "Content-Type": "application/json", "Content-ID": String(id) }, body: JSON.stringify({ subject }) });
    const body = encodeBatch("batch_t", [{ headers: {}, changeset: [patch("cs-ok", "fine", 1), patch("cs-bad", "x".repeat(400), 2)] }, patch("alone", "fine", 3)], "request");
    const token = await started.tokens.getToken();
    const response = await fetch(`${sandbox.url}/api/data/v9.2/$batch`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "multipart/mixed; boundary=batch_t", Prefer: "odata.continue-on-error" }, body });
    const parts = decodeBatch(await response.text(), boundaryOf(response.headers.get("content-type") ?? "") ?? "");
    expect(parts.map((p) => p.status)).toEqual([400, 204]);
    expect(sandbox.rows.map((r) => r.cosell_referralid)).toEqual(["alone"]);
  });
});

describe("Dataverse upsert semantics and deletions", () => {
  it("If-None-Match: * only creates, If-Match: * only updates, and a deletion arrives as $deletedEntity without becoming a change", async () => {
    const started = await startDataverse();
    sandbox = started.sandbox;
    connector = started.connector;
    const token = await started.tokens.getToken();
    const patch = (key: string, header: Record<string, string>) =>
      fetch(`${sandbox.url}/api/data/v9.2/leads(cosell_referralid='${key}')`, { method: "PATCH", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...header }, body: JSON.stringify({ subject: "S" }) });
    expect((await patch("only-update", { "If-Match": "*" })).status).toBe(404);
    expect((await patch("new", { "If-None-Match": "*" })).status).toBe(204);
    expect((await patch("new", { "If-None-Match": "*" })).status).toBe(412);
    expect((await patch("new", { "If-Match": "*" })).status).toBe(204);

    const first = await allChanges({ ...LEAD, fields: INBOUND });
    sandbox.deleteAsSeller(String(sandbox.rows[0]?.leadid));
    const after = await allChanges({ ...LEAD, fields: INBOUND, cursor: first.at(-1)?.cursor });
    expect(after.flatMap((p) => p.changes)).toEqual([]);
    expect(sandbox.rows).toHaveLength(0);
  });
});
