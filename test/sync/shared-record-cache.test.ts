import { expect, it } from "vitest";
import { fieldsHash, SharedRecordCache } from "../../src/sync/shared-record-cache.js";

const company = { object: "companies", externalIdField: "cosell_customer_key", externalId: "name:contoso|gb" };

it("trusts a write only for the same fields, the same record and within its time", () => {
  let now = 1_000;
  const cache = new SharedRecordCache({ ttlMs: 60_000, now: () => now });
  const hash = fieldsHash({ name: "Contoso", city: "Leeds" });
  expect(cache.unchanged(company, hash)).toBeUndefined();
  cache.remember(company, hash, "101");
  expect(cache.unchanged(company, hash)).toBe("101");
  // Other fields, or the same key on another object or id field: written again.
  expect(cache.unchanged(company, fieldsHash({ name: "Contoso", city: "York" }))).toBeUndefined();
  expect(cache.unchanged({ ...company, object: "contacts" }, hash)).toBeUndefined();
  expect(cache.unchanged({ ...company, externalIdField: "domain" }, hash)).toBeUndefined();
  expect(cache.hits).toBe(1);
  now += 60_001;
  expect(cache.unchanged(company, hash)).toBeUndefined();
  cache.remember(company, hash, "101");
  cache.forget(company);
  expect(cache.unchanged(company, hash)).toBeUndefined();
});

it("stays within its bound, forgetting the least recently used", () => {
  const cache = new SharedRecordCache({ max: 2 });
  const ref = (n: number) => ({ ...company, externalId: `c${n}` });
  cache.remember(ref(1), "h", "1");
  cache.remember(ref(2), "h", "2");
  expect(cache.unchanged(ref(1), "h")).toBe("1");
  cache.remember(ref(3), "h", "3");
  expect(cache.size).toBe(2);
  expect(cache.unchanged(ref(2), "h")).toBeUndefined();
  expect(cache.unchanged(ref(1), "h")).toBe("1");
});
