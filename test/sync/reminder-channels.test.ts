import { afterEach, describe, expect, it } from "vitest";
import type { CrmKind } from "../../connectors/types.js";
import type { DataverseSandbox } from "../../connectors/dynamics/sandbox/server.js";
import type { HubSpotSandbox } from "../../connectors/hubspot/sandbox/server.js";
import type { SalesforceSandbox } from "../../connectors/salesforce/sandbox/server.js";
import { ManualClock } from "../../src/shared/clock.js";
import type { TwoWayRig } from "../helpers/two-way.js";
import { startTwoWay } from "../helpers/two-way.js";

const DAY = 86_400_000;

interface CrmTask {
  subject: string;
  owner: string | undefined;
  due: string;
  onRecord: string | undefined;
}

/** The tasks a CRM sandbox holds, in one shape. */
function tasksIn(kind: CrmKind, rig: TwoWayRig): CrmTask[] {
  const sandbox = rig.daemon.crmSandbox("crm");
  if (kind === "salesforce") {
    return [...(sandbox as SalesforceSandbox).org.tasks.values()].map((t) => ({ subject: String(t.Subject), owner: String(t.OwnerId), due: String(t.ActivityDate), onRecord: String(t.WhoId) }));
  }
  if (kind === "hubspot") {
    const hubspot = sandbox as HubSpotSandbox;
    return hubspot.all("tasks").map((t) => ({ subject: String(t.properties.hs_task_subject), owner: t.properties.hubspot_owner_id ?? undefined, due: String(t.properties.hs_timestamp), onRecord: t.associations.find((a) => a.toType === "leads")?.toId }));
  }
  return [...(sandbox as DataverseSandbox).tasks.values()].map((t) => ({ subject: String(t.subject), owner: t.ownerId, due: String(t.scheduledend), onRecord: t.regardingLeadId }));
}

/** Hands the record to the CRM's seller, as a manager's reassignment would. */
function assignToSeller(kind: CrmKind, rig: TwoWayRig, recordId: string): string {
  const sandbox = rig.daemon.crmSandbox("crm");
  if (kind === "salesforce") {
    const sf = sandbox as SalesforceSandbox;
    sf.org.update(recordId, { OwnerId: sf.seller.Id }, sf.seller.Id);
    return sf.seller.Id;
  }
  if (kind === "hubspot") {
    const hubspot = sandbox as HubSpotSandbox;
    hubspot.editAsSeller("leads", [recordId], { hubspot_owner_id: hubspot.sellerOwnerId });
    return hubspot.sellerOwnerId;
  }
  const dataverse = sandbox as DataverseSandbox;
  dataverse.assign(recordId, dataverse.sellerUserId);
  return dataverse.sellerUserId;
}

function expectedDue(kind: CrmKind, at: Date): string {
  if (kind === "salesforce") return at.toISOString().slice(0, 10);
  if (kind === "hubspot") return String(at.getTime());
  return at.toISOString();
}

describe.each<CrmKind>(["salesforce", "hubspot", "dynamics"])("reminders on every channel: %s", (kind) => {
  let rig: TwoWayRig | undefined;

  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it("leaves one task on the record for its owner, posts one Teams card and mails once, across repeated sweeps", async () => {
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay(kind, clock, { mail: true, teams: true });
    await rig.pass();
    await rig.pass();
    const referral = rig.pc.referrals.all().find((r) => r.referralProgram === "JointPlanning" && r.direction === "Incoming" && r.status === "New");
    const lead = await rig.daemon.store.repos.leads.findByReferralId("pc", referral?.id ?? "");
    if (!lead?.acceptBy) throw new Error("no new lead");
    const recordId = await rig.recordOf(lead.referralId);
    const owner = assignToSeller(kind, rig, recordId);
    const before = tasksIn(kind, rig).length;

    clock.set(lead.acceptBy.getTime() - 3 * DAY);
    await rig.daemon.sweepNow();
    await rig.daemon.drainOutbox();
    await rig.daemon.sweepNow();
    await rig.daemon.drainOutbox();

    const tasks = tasksIn(kind, rig).filter((t) => t.onRecord === recordId);
    expect(tasks).toHaveLength(1);
    expect(tasksIn(kind, rig).length - before).toBeGreaterThanOrEqual(1);
    const [task] = tasks;
    expect(task?.subject).toContain(lead.name.slice(0, 40));
    expect(task?.subject).toMatch(/^Accept by .* UTC \(3 days left\)/);
    expect(task?.owner).toBe(owner);
    expect(task?.due).toBe(expectedDue(kind, lead.acceptBy));

    const cards = rig.daemon.teams?.sandbox?.channel.filter((post) => JSON.stringify(post.card).includes(lead.referralId)) ?? [];
    expect(cards).toHaveLength(1);
    const card = cards[0]?.card as { body: Array<{ facts?: Array<{ title: string; value: string }> }>; actions: Array<{ url: string }> };
    const deadline = card.body.flatMap((b) => b.facts ?? []).find((f) => f.title === "Deadline")?.value;
    expect(deadline).toContain("(Europe/Berlin)");
    expect(card.actions[0]?.url).toContain(lead.referralId);
    expect(rig.daemon.teams?.sandbox?.runs.every((run) => run.status === "Succeeded")).toBe(true);

    const mails = rig.daemon.mail?.sandbox?.mailbox.filter((m) => m.content.includes(lead.referralId)) ?? [];
    expect(mails).toHaveLength(1);
    if (kind === "hubspot") expect(mails[0]?.content).toMatch(new RegExp(`https://app-eu1\\.hubspot\\.com/contacts/\\d+/record/0-136/${recordId}`));

    const timeline = await rig.daemon.store.repos.events.timeline(lead.id, { limit: 500 });
    const reminder = timeline.find((e) => e.kind === "reminder");
    expect(reminder?.details).toMatchObject({ channels: ["mail", "teams", "task:p"] });
    expect(timeline.filter((e) => e.kind === "reminder-task")).toHaveLength(1);
  });

  it("a retried task create after a lost answer finds the first task instead of adding a second", async () => {
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay(kind, clock);
    await rig.pass();
    const referral = rig.pc.referrals.all().find((r) => r.referralProgram === "JointPlanning" && r.direction === "Incoming");
    const recordId = await rig.recordOf(referral?.id ?? "");
    const connector = rig.daemon.crm("crm");
    const object = kind === "salesforce" ? "Lead" : kind === "hubspot" ? "leads" : "lead";
    const request = { object, recordId, key: `${referral?.id ?? ""}:accept:x:1`, subject: "Accept by Monday: a lead", body: "Accept it.", dueAt: new Date("2026-12-01T12:00:00Z") };
    const first = await connector.createTask?.(request);
    const second = await connector.createTask?.(request);
    expect(first?.outcome).toBe("created");
    expect(second).toMatchObject({ id: first?.id, outcome: "existing" });
    expect(tasksIn(kind, rig).filter((t) => t.onRecord === recordId)).toHaveLength(1);
  });

  it("with crmTasks off, reminders leave no task", async () => {
    const clock = new ManualClock("2026-11-24T09:00:00Z");
    rig = await startTwoWay(kind, clock, { mail: true, crmTasks: false });
    await rig.pass();
    const lead = (await rig.daemon.store.repos.leads.list({ state: "new", limit: 1 }))[0];
    if (!lead?.acceptBy) throw new Error("no new lead");
    clock.set(lead.acceptBy.getTime() - 1 * DAY);
    await rig.daemon.sweepNow();
    await rig.daemon.drainOutbox();
    expect(tasksIn(kind, rig)).toHaveLength(0);
    expect(rig.daemon.mail?.sandbox?.mailbox.length).toBeGreaterThan(0);
  });
});
