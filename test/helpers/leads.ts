import type { LifecycleSnapshot, Person } from "../../src/domain/index.js";
import { DAY_MS, emptySubstages } from "../../src/domain/index.js";

export const RECEIVED = new Date("2026-03-02T09:00:00Z");

export const OWNER: Person = { firstName: "Ada", lastName: "Lovelace", email: "ada@partner.example" };

export function newLead(overrides: Partial<LifecycleSnapshot> = {}): LifecycleSnapshot {
  return { state: "new", receivedAt: RECEIVED, substages: emptySubstages(), ...overrides };
}

export function daysAfter(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY_MS);
}
