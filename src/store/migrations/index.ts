import type { Knex } from "knex";
import * as initial from "./001-initial.js";
import * as outbox from "./002-outbox.js";
import * as crmLinkSyncState from "./003-crm-link-sync-state.js";
import * as localCloses from "./004-local-closes.js";
import * as reminders from "./005-reminders.js";
import * as syncRuns from "./006-sync-runs.js";
import * as scheduleLeases from "./007-schedule-leases.js";
import * as outboxLeaseOrder from "./008-outbox-lease-order.js";
import * as crmLinksByLead from "./009-crm-links-by-lead.js";
import * as crmLinksPushedModstamp from "./010-crm-links-pushed-modstamp.js";
import * as leanIndexes from "./011-lean-indexes.js";

/**
 * Migrations are listed here rather than discovered on disk, so the same list runs from compiled
 * JavaScript, under the test runner and inside a bundled image. Append; never edit a shipped one.
 */
const MIGRATIONS: ReadonlyArray<{ name: string; migration: Knex.Migration }> = [
  { name: "001-initial", migration: initial },
  { name: "002-outbox", migration: outbox },
  { name: "003-crm-link-sync-state", migration: crmLinkSyncState },
  { name: "004-local-closes", migration: localCloses },
  { name: "005-reminders", migration: reminders },
  { name: "006-sync-runs", migration: syncRuns },
  { name: "007-schedule-leases", migration: scheduleLeases },
  { name: "008-outbox-lease-order", migration: outboxLeaseOrder },
  { name: "009-crm-links-by-lead", migration: crmLinksByLead },
  { name: "010-crm-links-pushed-modstamp", migration: crmLinksPushedModstamp },
  { name: "011-lean-indexes", migration: leanIndexes },
];

export const migrationSource: Knex.MigrationSource<{ name: string; migration: Knex.Migration }> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (entry) => entry.name,
  getMigration: async (entry) => entry.migration,
};

export const MIGRATION_TABLE = "cosell_migrations";
