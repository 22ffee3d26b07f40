import type { CrmOwner } from "./types.js";

/** A CRM's user record as its fields come (any may be missing, empty or not text). */
export interface UserFields {
  id: string;
  value: string;
  fullName?: unknown;
  firstName?: unknown;
  lastName?: unknown;
  email?: unknown;
  /** In order of preference (office, then mobile). */
  phones?: unknown[];
  title?: unknown;
  active: boolean;
}

/** A user as an owner: empty fields left out, the name built from its parts when there is no full name. */
export function userOwner(fields: UserFields): CrmOwner {
  const text = (value: unknown) => (typeof value === "string" && value.trim() !== "" ? value : undefined);
  const firstName = text(fields.firstName);
  const lastName = text(fields.lastName);
  const email = text(fields.email);
  const phone = (fields.phones ?? []).map(text).find(Boolean);
  const title = text(fields.title);
  return {
    id: fields.id,
    kind: "user",
    value: fields.value,
    name: text(fields.fullName) ?? ([firstName, lastName].filter(Boolean).join(" ") || email || fields.id),
    ...(firstName ? { firstName } : {}),
    ...(lastName ? { lastName } : {}),
    ...(email ? { email } : {}),
    ...(phone ? { phone } : {}),
    ...(title ? { title } : {}),
    active: fields.active,
  };
}
