import type { Logger } from "../log/logger.js";
import { componentLogger } from "../log/logger.js";
import { SeededRandom } from "../shared/seeded-random.js";
import type { SellerRecord, SellerUi } from "./seller-ui.js";

/**
 * How one seller treats one lead, fixed per lead (from a seeded hash), so a run is repeatable:
 * most work it to a win or a loss, some decline, some forget it (the 14- or 60-day rule closes it),
 * some try an illegal jump first (marked won while still new), read the refusal, and fix it, and
 * some leave a lead until the last reminder (a day or hours left) lands in their task list.
 */
export type Persona = "closer" | "loser" | "decliner" | "forgetful" | "stalls" | "rule-breaker" | "last-minute";

const PERSONAS: ReadonlyArray<[Persona, number]> = [
  ["closer", 0.3],
  ["loser", 0.2],
  ["decliner", 0.08],
  ["forgetful", 0.1],
  ["stalls", 0.1],
  ["rule-breaker", 0.12],
  ["last-minute", 0.1],
];

export interface SellerSimulatorOptions {
  crms: SellerUi[];
  logger: Logger;
  seed?: string;
  /** Chance a seller gets to a given lead on one tick. */
  activity?: number;
}

/** `savedByReminder`: accepts a last-minute seller made only once the final reminder arrived. */
/** `reassigned`: records a seller handed to a colleague (the daemon tells Partner Center of the new seller). */
export type SellerActionCounts = Record<"accepted" | "declined" | "qualified" | "evaluated" | "won" | "lost" | "illegal" | "fixed" | "savedByReminder" | "reassigned", number>;

/** Share of worked leads a seller hands to a colleague once, after accepting them. */
const REASSIGN_SHARE = 0.15;

/** The reminders that move a last-minute seller: a day or less left. */
const FINAL_REMINDER = /\((1 day|\d+ hours?|\d+ minutes) left\)/;

/** Sellers working their leads in each CRM sandbox, one step per lead per tick at most. */
export class SellerSimulator {
  readonly counts: SellerActionCounts = { accepted: 0, declined: 0, qualified: 0, evaluated: 0, won: 0, lost: 0, illegal: 0, fixed: 0, savedByReminder: 0, reassigned: 0 };
  /** Leads already handed on (each is handed on at most once). */
  readonly #reassigned = new Set<string>();
  readonly #options: SellerSimulatorOptions;
  readonly #random: SeededRandom;
  readonly #log: Logger;
  readonly #seed: string;
  #ticking: Promise<void> | undefined;

  constructor(options: SellerSimulatorOptions) {
    this.#options = options;
    this.#seed = options.seed ?? "sellers";
    this.#random = new SeededRandom(this.#seed);
    this.#log = componentLogger(options.logger, "seller-simulator");
  }

  /** "crm|referralId" of every lead a seller handed on. */
  get reassigned(): ReadonlySet<string> {
    return this.#reassigned;
  }

  /** One round over every CRM; a round still running when the next is asked for is not doubled. */
  tick(): Promise<void> {
    this.#ticking ??= this.#round().finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  /** Per lead, not per CRM: the sellers of one partner working a lead in several CRMs want the same outcome. */
  personaOf(referralId: string): Persona {
    const roll = new SeededRandom(`${this.#seed}|${referralId}`).next();
    let sum = 0;
    for (const [persona, share] of PERSONAS) {
      sum += share;
      if (roll < sum) return persona;
    }
    return "closer";
  }

  /**
   * The CRM whose sellers work a lead. Every CRM mirrors every lead, but a partner's sellers work a
   * lead in one place; several CRMs acting on one lead would refuse each other's moves.
   */
  homeOf(referralId: string): string | undefined {
    const crms = this.#options.crms;
    return crms[Math.floor(new SeededRandom(`${this.#seed}|home|${referralId}`).next() * crms.length)]?.crm;
  }

  async #round(): Promise<void> {
    for (const ui of this.#options.crms) {
      for (const record of ui.records()) {
        if (this.homeOf(record.referralId) !== ui.crm) continue;
        if (!this.#random.chance(this.#options.activity ?? 0.3)) continue;
        const change = this.#handOn(ui, record) ?? this.#nextStep(ui, record);
        if (!change) continue;
        try {
          await ui.save(record.id, change.fields);
          this.counts[change.action] += 1;
          if (change.action === "reassigned") this.#reassigned.add(`${ui.crm}|${record.referralId}`);
          this.#log.debug({ crm: ui.crm, referralId: record.referralId, action: change.action }, "seller saved a lead");
        } catch (error) {
          this.#log.warn({ err: error, crm: ui.crm, referralId: record.referralId }, "a seller's save failed");
        }
      }
    }
  }

  /** Some accepted leads change hands once: a seller gives one to a colleague (as managers rebalance). */
  #handOn(ui: SellerUi, record: SellerRecord): { action: "reassigned"; fields: Record<string, unknown> } | undefined {
    if (record.status !== "accepted" || this.#reassigned.has(`${ui.crm}|${record.referralId}`)) return undefined;
    if (new SeededRandom(`${this.#seed}|hand-on|${record.referralId}`).next() >= REASSIGN_SHARE) return undefined;
    const others = ui.colleagues().filter((colleague) => colleague.id !== record.owner);
    if (others.length === 0) return undefined;
    const to = others[Math.floor(new SeededRandom(`${this.#seed}|to|${record.referralId}`).next() * others.length)] as (typeof others)[number];
    return { action: "reassigned", fields: { [ui.ownerField]: to.value } };
  }

  #nextStep(ui: SellerUi, record: SellerRecord): { action: keyof SellerActionCounts; fields: Record<string, unknown> } | undefined {
    const persona = this.personaOf(record.referralId);
    const f = ui.fields;
    if (persona === "forgetful") return undefined;
    if (record.status === "new") {
      if (persona === "decliner") return { action: "declined", fields: { [f.status]: ui.value("declined"), [f.reason]: "Outside our service area" } };
      if (persona === "rule-breaker") return { action: "illegal", fields: { [f.status]: ui.value("won") } };
      if (persona === "last-minute") return record.reminders.some((title) => FINAL_REMINDER.test(title)) ? { action: "savedByReminder", fields: { [f.status]: ui.value("accepted") } } : undefined;
      return { action: "accepted", fields: { [f.status]: ui.value("accepted") } };
    }
    if (record.status === "won" && persona === "rule-breaker" && !record.qualify) {
      // The refusal is on the record: the seller reads it and does it properly.
      if (record.syncError) return { action: "fixed", fields: { [f.status]: ui.value("accepted") } };
      return undefined;
    }
    if (record.status !== "accepted") return undefined;
    if (!record.qualify) return { action: "qualified", fields: { [f.qualify]: ui.flag(true) } };
    if (persona === "stalls") return undefined;
    if (persona === "loser") return { action: "lost", fields: { [f.status]: ui.value("lost"), [f.reason]: "Customer chose another vendor" } };
    if (!record.evaluate) return { action: "evaluated", fields: { [f.evaluate]: ui.flag(true) } };
    return { action: "won", fields: { [f.status]: ui.value("won") } };
  }
}
