import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { HubSpotConnector } from "../../connectors/hubspot/connector.js";
import type { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { writeMinimal } from "../../bench/minimal-writes.js";
import type { WireReferral } from "../../src/partner-center/wire.js";
import { ManualClock } from "../../src/shared/clock.js";
import { startHubSpot } from "../helpers/hubspot.js";
import type { InboundRig } from "../helpers/inbound.js";
import { startInboundRig } from "../helpers/inbound.js";
import { describeEachStore } from "../helpers/stores.js";

const WRITES = /^POST \/crm\/v3\/objects\/(\w+)\/batch\/(upsert|create|update)$/;

/**
 * The benchmark's limit: the fewest calls for what the daemon wrote. It is only a fair yardstick if
 * it really is the fewest (each distinct record once, every call full but the last of an object)
 * and writes the same records the daemon did, associations included.
 */
describeEachStore("bench limit: the fewest calls for what the daemon wrote", (kind) => {
  const clock = new ManualClock("2026-11-24T10:00:00Z");
  let daemonSide: { sandbox: HubSpotSandbox; connector: HubSpotConnector };
  let limitSide: { sandbox: HubSpotSandbox; connector: HubSpotConnector };
  let rig: InboundRig;
  let dir: string;

  beforeEach(async () => {
    daemonSide = await startHubSpot({ clock });
    limitSide = await startHubSpot({ clock, seed: "limit" });
    rig = await startInboundRig({ kind, clock, crm: "hubspot", pair: "contoso-hubspot", mappingFile: "hubspot.yaml", connector: daemonSide.connector, seed: "bench-limit", leads: 9 });
    dir = mkdtempSync(join(tmpdir(), "cosell-limit-test-"));
  });

  afterEach(async () => {
    await rig.close();
    await daemonSide.sandbox.close();
    await limitSide.sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes each distinct record once in full calls, objects in association order, leads associated", async () => {
    // Four of the nine leads are one customer's: its company and contact are one record each.
    const [first, ...rest] = rig.pc.referrals.all() as [WireReferral, ...WireReferral[]];
    for (const other of rest.slice(0, 3)) {
      rig.pc.referrals.touch(other.id, (referral) => {
        referral.customerProfile = structuredClone(first.customerProfile);
        if (referral.details?.requirements && first.details?.requirements) referral.details.requirements.industries = [...(first.details.requirements.industries ?? [])];
      });
    }
    await rig.pull();
    expect(await rig.drain()).toBe(9);
    const counts = { companies: daemonSide.sandbox.count("companies"), contacts: daemonSide.sandbox.count("contacts"), leads: daemonSide.sandbox.count("leads") };
    expect(counts.leads).toBe(9);
    expect(counts.companies).toBeLessThan(9);

    const batch = 2;
    const limit = await writeMinimal(limitSide.connector, rig.store, rig.target, batch, { concurrency: 3 }, dir);

    const minimum = Object.values(counts).reduce((sum, n) => sum + Math.ceil(n / batch), 0);
    expect(limit.calls).toBe(minimum);
    expect(limit.throttled).toBe(0);
    const byObject: Record<string, number> = {};
    for (const [route, n] of Object.entries(limitSide.sandbox.stats.byRoute)) {
      const object = WRITES.exec(route)?.[1];
      if (object) byObject[object] = (byObject[object] ?? 0) + n;
    }
    expect(byObject).toEqual({ companies: Math.ceil(counts.companies / batch), contacts: Math.ceil(counts.contacts / batch), leads: Math.ceil(counts.leads / batch) });
    expect({ companies: limitSide.sandbox.count("companies"), contacts: limitSide.sandbox.count("contacts"), leads: limitSide.sandbox.count("leads") }).toEqual(counts);
    // Every lead went after its company and contact, and names both, as the daemon's do.
    for (const lead of limitSide.sandbox.all("leads")) {
      expect(new Set(lead.associations.map((a) => a.toType))).toEqual(new Set(daemonSide.sandbox.all("leads")[0]?.associations.map((a) => a.toType)));
      for (const association of lead.associations) expect(limitSide.sandbox.get(association.toType as "companies" | "contacts", association.toId)).toBeDefined();
    }
  });
});
