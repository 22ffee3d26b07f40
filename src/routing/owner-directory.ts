import type { CrmConnector, CrmOwner, OwnerQuery } from "../../connectors/types.js";
import type { Person } from "../domain/lead.js";
import type { Answered, RateBudget } from "../shared/call-meter.js";
import { metered } from "../shared/call-meter.js";
import type { Clock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";
import type { RoutingDecision } from "./decide.js";
import { describeOwnerSpec } from "./decide.js";
import type { OwnerSpec } from "./schema.js";

/** Why a candidate owner was passed over; the lead went to the next one. */
export interface RoutingProblem {
  code: "ROUTING_OWNER_NOT_FOUND" | "ROUTING_OWNER_INACTIVE";
  owner: OwnerSpec;
  message: string;
}

/** Who a lead goes to in the CRM, and what was passed over on the way. */
export interface RoutedOwner {
  /** Undefined only when no candidate, the central owner or default included, exists in the CRM. */
  owner?: CrmOwner;
  /** The candidate that won and why it was a candidate. */
  via?: { owner: OwnerSpec; why: string };
  problems: RoutingProblem[];
}

/** How long a looked-up owner is trusted when the pair's routing does not say (pairs[].routing.cacheTtl). */
export const DEFAULT_OWNER_TTL_MS = 15 * 60_000;

interface Entry {
  at: number;
  owner: Promise<CrmOwner | undefined>;
}

/**
 * One CRM's users and teams as routing needs them, cached for a TTL: a backfill of 100,000 leads
 * routed to a handful of sellers asks the CRM a handful of times. A failed lookup is not cached
 * (the next lead asks again); an owner that does not exist is, until the TTL runs out.
 */
export class OwnerDirectory {
  readonly #connector: CrmConnector;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #crmName: string;
  readonly #entries = new Map<string, Entry>();
  readonly #pace: ((calls: number, budget?: RateBudget) => Promise<Answered | undefined>) | undefined;

  /**
   * `pace` waits for the CRM's rate before each call a lookup makes: lookups come from CRM writes
   * and from Partner Center pushes alike, and are the CRM's calls either way.
   */
  constructor(options: { connector: CrmConnector; clock: Clock; ttlMs: number; crmName: string; pace?: (calls: number, budget?: RateBudget) => Promise<Answered | undefined> }) {
    this.#connector = options.connector;
    this.#clock = options.clock;
    this.#ttlMs = options.ttlMs;
    this.#crmName = options.crmName;
    this.#pace = options.pace;
  }

  find(query: OwnerQuery): Promise<CrmOwner | undefined> {
    const find = this.#connector.findOwner?.bind(this.#connector);
    if (!find) throw new CosellError("ROUTING_UNSUPPORTED", `The ${this.#connector.kind} connector cannot look up owners; remove routing from the pair.`);
    const key = JSON.stringify("email" in query ? { email: query.email.trim().toLowerCase() } : "team" in query ? { team: query.team.trim().toLowerCase() } : query);
    const now = this.#clock.now().getTime();
    const cached = this.#entries.get(key);
    if (cached && now - cached.at < this.#ttlMs) return cached.owner;
    const pace = this.#pace;
    const owner = pace ? metered(() => find(query), pace).then(({ value }) => value) : find(query);
    this.#entries.set(key, { at: now, owner });
    owner.catch(() => {
      if (this.#entries.get(key)?.owner === owner) this.#entries.delete(key);
    });
    return owner;
  }

  /** Drops what is cached for an owner (the CRM refused it: deactivated since it was looked up). */
  forget(owner: CrmOwner): void {
    for (const [key, entry] of this.#entries) {
      void entry.owner.then((found) => {
        if (found?.id === owner.id && this.#entries.get(key) === entry) this.#entries.delete(key);
      }, () => undefined);
    }
  }

  /** The first candidate of a routing decision the CRM has as an active user or a team. */
  async resolve(decision: Pick<RoutingDecision, "candidates">): Promise<RoutedOwner> {
    const problems: RoutingProblem[] = [];
    for (const candidate of decision.candidates) {
      const owner = await this.find("user" in candidate.owner ? { email: candidate.owner.user } : { team: candidate.owner.team });
      if (owner?.active) return { owner, via: candidate, problems };
      problems.push(this.#problem(candidate.owner, candidate.why, owner));
    }
    return { problems };
  }

  /**
   * The person a CRM owner id stands for, as Partner Center's team needs one (name and email), or
   * undefined for a queue or team, an unknown id, or a user without an email.
   */
  async person(ownerId: string): Promise<Person | undefined> {
    // A record the integration user owns (the CRM's default owner for what we create) has no seller.
    if (ownerId === this.#connector.userId) return undefined;
    const owner = await this.find({ id: ownerId });
    return owner ? personOf(owner) : undefined;
  }

  #problem(spec: OwnerSpec, why: string, found: CrmOwner | undefined): RoutingProblem {
    const who = describeOwnerSpec(spec);
    if (found) {
      return { code: "ROUTING_OWNER_INACTIVE", owner: spec, message: `${who} (${why}) is deactivated in CRM "${this.#crmName}"; the lead went to the next owner in line. Reactivate the user or change pairs[].routing.` };
    }
    const what = "user" in spec ? `no ${this.#connector.kind} user has the email ${spec.user}` : `no ${this.#connector.kind === "salesforce" ? "queue" : "team"} is named "${spec.team}"`;
    return { code: "ROUTING_OWNER_NOT_FOUND", owner: spec, message: `${who} (${why}): ${what} in CRM "${this.#crmName}"; the lead went to the next owner in line. Add the user, or correct pairs[].routing.` };
  }
}

/** A CRM user as a Partner Center team member; teams and users without email are not people to add. */
export function personOf(owner: CrmOwner): Person | undefined {
  if (owner.kind !== "user" || !owner.email) return undefined;
  const [first, ...rest] = owner.name.split(" ");
  return {
    firstName: owner.firstName ?? first ?? owner.email,
    lastName: owner.lastName ?? (rest.join(" ") || owner.email),
    email: owner.email,
    ...(owner.phone ? { phoneNumber: owner.phone } : {}),
    ...(owner.title ? { title: owner.title } : {}),
  };
}
