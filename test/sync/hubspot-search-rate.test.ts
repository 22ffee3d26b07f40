import { afterEach, expect, it } from "vitest";
import type { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import { ManualClock, systemClock } from "../../src/shared/clock.js";
import type { TwoWayRig } from "../helpers/two-way.js";
import { startTwoWay } from "../helpers/two-way.js";

let rig: TwoWayRig | undefined;

afterEach(async () => {
  await rig?.close();
});

it("the daemon keeps HubSpot's search within its own five a second: back-to-back change polls wait their turn instead of drawing 429s", async () => {
  // Business time stands still; the outbox paces on real time, as a deployed daemon does.
  rig = await startTwoWay("hubspot", new ManualClock("2026-11-24T09:00:00Z"), { rateClock: systemClock });
  await rig.pass();
  const sandbox = rig.daemon.crmSandbox("crm") as HubSpotSandbox;
  expect(sandbox.limits.searchesPerSecond).toBe(5);
  const searches = () => sandbox.stats.byRoute["POST /crm/v3/objects/leads/search"] ?? 0;
  const before = searches();
  const throttledBefore = sandbox.stats.throttled;
  for (let i = 0; i < 12; i += 1) await rig.daemon.pollCrmsNow();
  expect(searches() - before).toBeGreaterThanOrEqual(12);
  expect(sandbox.stats.throttled - throttledBefore).toBe(0);
});
