export { Store } from "./store.js";
export type { MigrationReport, Repositories } from "./store.js";
export type { StoreKind, StoreOptions } from "./connect.js";
export { redactUrl, storeKind } from "./connect.js";
export type { LeadRecord, LeadInput, SavedLead, SaveOutcome, DueLead } from "./repositories/leads-repository.js";
export type { CrmLink } from "./repositories/crm-links-repository.js";
export type { StoredCursor } from "./repositories/cursors-repository.js";
export type { LeadEvent, NewLeadEvent, EventSide } from "./repositories/lead-events-repository.js";
export type { EnqueueResult, FailureListQuery, JobState, LeaseRequest, NewJob, OutboxJob, OutboxStats, Settlement } from "./repositories/outbox-repository.js";
