/** The Lead object of the sandbox org: standard fields plus the Co-sell custom fields (connectors/salesforce/README.md). */
export type SfFieldType = "id" | "string" | "textarea" | "email" | "phone" | "url" | "picklist" | "boolean" | "double" | "currency" | "int" | "date" | "datetime" | "reference";

export interface SfField {
  name: string;
  label: string;
  type: SfFieldType;
  length?: number;
  externalId?: boolean;
  unique?: boolean;
  caseSensitive?: boolean;
  nillable?: boolean;
  createable: boolean;
  updateable: boolean;
  /** Required on create (nillable false and no default). */
  required?: boolean;
  picklistValues?: string[];
  restrictedPicklist?: boolean;
  custom?: boolean;
}

const system = (name: string, type: SfFieldType, label = name): SfField => ({ name, label, type, createable: false, updateable: false, nillable: type !== "id" });
const text = (name: string, length: number, extra: Partial<SfField> = {}): SfField => ({ name, label: name, type: "string", length, createable: true, updateable: true, nillable: true, ...extra });
const custom = (name: string, type: SfFieldType, extra: Partial<SfField> = {}): SfField => ({ name, label: name.replace(/__c$/, "").replace(/_/g, " "), type, createable: true, updateable: true, nillable: type !== "boolean", custom: true, ...extra });

export const COSELL_STATUS = ["New", "Accepted", "Won", "Lost", "Declined", "Expired", "Closed in error", "Converted to opportunity"];

export function leadFields(): SfField[] {
  return [
    system("Id", "id", "Lead ID"),
    system("IsDeleted", "boolean", "Deleted"),
    text("LastName", 80, { required: true, nillable: false }),
    text("FirstName", 40),
    text("Company", 255, { required: true, nillable: false }),
    { ...text("Email", 80), type: "email" },
    { ...text("Phone", 40), type: "phone" },
    text("Title", 128),
    { ...text("Street", 255), type: "textarea" },
    text("City", 40),
    text("State", 80),
    text("PostalCode", 20),
    text("Country", 80),
    { name: "NumberOfEmployees", label: "Employees", type: "int", createable: true, updateable: true, nillable: true },
    { name: "Industry", label: "Industry", type: "picklist", createable: true, updateable: true, nillable: true, picklistValues: ["Manufacturing", "Financial Services", "Healthcare", "Retail", "Public Sector", "Education", "Energy", "Media and Communications", "Professional Services", "Technology"] },
    { name: "LeadSource", label: "Lead Source", type: "picklist", createable: true, updateable: true, nillable: true, picklistValues: ["Web", "Phone Inquiry", "Partner Referral", "Microsoft Joint Planning", "Other"] },
    { name: "Status", label: "Status", type: "picklist", createable: true, updateable: true, nillable: false, picklistValues: ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"] },
    { ...text("Description", 32000), type: "textarea" },
    { name: "OwnerId", label: "Owner ID", type: "reference", createable: true, updateable: true, nillable: false },
    system("CreatedDate", "datetime", "Created Date"),
    system("CreatedById", "reference", "Created By ID"),
    system("LastModifiedDate", "datetime", "Last Modified Date"),
    system("LastModifiedById", "reference", "Last Modified By ID"),
    system("SystemModstamp", "datetime", "System Modstamp"),
    custom("Cosell_Referral_Id__c", "string", { length: 64, externalId: true, unique: true, caseSensitive: false }),
    custom("Cosell_Engagement_Id__c", "string", { length: 64 }),
    custom("Cosell_Status__c", "picklist", { picklistValues: COSELL_STATUS, restrictedPicklist: true }),
    custom("Cosell_Qualify_Complete__c", "boolean"),
    custom("Cosell_Evaluate_Complete__c", "boolean"),
    custom("Cosell_Close_Reason__c", "string", { length: 255 }),
    custom("Cosell_Deal_Value__c", "currency"),
    custom("Cosell_Deal_Currency__c", "string", { length: 3 }),
    custom("Cosell_Close_Date__c", "date"),
    custom("Cosell_Solution__c", "string", { length: 255 }),
    custom("Cosell_Accept_By__c", "datetime"),
    custom("Cosell_Act_By__c", "datetime"),
    custom("Cosell_Substage__c", "string", { length: 64 }),
    custom("Cosell_Urgency__c", "string", { length: 16 }),
    custom("Cosell_Partner_Center_Link__c", "url", { length: 255 }),
    custom("Cosell_Microsoft_Seller__c", "string", { length: 255 }),
    custom("Cosell_Last_Sync__c", "datetime"),
    custom("Cosell_Sync_Error__c", "textarea", { length: 2000 }),
  ];
}

export function userFields(): SfField[] {
  return [
    system("Id", "id", "User ID"),
    text("Username", 80),
    text("Email", 128),
    text("FirstName", 40),
    text("LastName", 80),
    system("Name", "string", "Full Name"),
    { ...text("Phone", 40), type: "phone" },
    { ...text("MobilePhone", 40), type: "phone" },
    text("Title", 80),
    { name: "IsActive", label: "Active", type: "boolean", createable: true, updateable: true },
  ];
}

/** Group (queues and public groups): what an owner lookup reads. */
export function groupFields(): SfField[] {
  return [system("Id", "id", "Group ID"), text("Name", 40), text("DeveloperName", 80), { name: "Type", label: "Type", type: "picklist", createable: true, updateable: false, picklistValues: ["Queue", "Regular", "Role"] }];
}

export const TASK_STATUS = ["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"];

/** The Task object: what a reminder writes (standard fields only). */
export function taskFields(): SfField[] {
  return [
    system("Id", "id", "Activity ID"),
    text("Subject", 255),
    { ...text("Description", 32000), type: "textarea", label: "Comments" },
    { name: "ActivityDate", label: "Due Date Only", type: "date", createable: true, updateable: true, nillable: true },
    { name: "Status", label: "Status", type: "picklist", createable: true, updateable: true, nillable: false, picklistValues: TASK_STATUS },
    { name: "Priority", label: "Priority", type: "picklist", createable: true, updateable: true, nillable: false, picklistValues: ["High", "Normal", "Low"] },
    { name: "WhoId", label: "Name ID", type: "reference", createable: true, updateable: true, nillable: true },
    { name: "WhatId", label: "Related To ID", type: "reference", createable: true, updateable: true, nillable: true },
    { name: "OwnerId", label: "Assigned To ID", type: "reference", createable: true, updateable: true, nillable: false },
    { name: "IsReminderSet", label: "Reminder Set", type: "boolean", createable: true, updateable: true, nillable: false },
    { name: "ReminderDateTime", label: "Reminder Date/Time", type: "datetime", createable: true, updateable: true, nillable: true },
    system("CreatedDate", "datetime", "Created Date"),
    system("CreatedById", "reference", "Created By ID"),
    system("SystemModstamp", "datetime", "System Modstamp"),
  ];
}

/** Salesforce's describe answer for one field. */
export function describeField(field: SfField): Record<string, unknown> {
  return {
    name: field.name,
    label: field.label,
    type: field.type,
    length: field.length ?? 0,
    externalId: field.externalId ?? false,
    unique: field.unique ?? false,
    caseSensitive: field.caseSensitive ?? false,
    nillable: field.nillable ?? true,
    createable: field.createable,
    updateable: field.updateable,
    custom: field.custom ?? false,
    defaultedOnCreate: field.type === "boolean",
    idLookup: field.name === "Id" || field.externalId === true,
    restrictedPicklist: field.restrictedPicklist ?? false,
    picklistValues: (field.picklistValues ?? []).map((value, index) => ({ active: true, defaultValue: index === 0 && field.name === "Status", label: value, validFor: null, value })),
  };
}
