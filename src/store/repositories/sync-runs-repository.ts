import type { Knex } from "knex";
import { toNumber, toOptional, toOptionalDate } from "../rows.js";

export type SyncRunKind = "pull" | "crm-poll";

export interface SyncRun {
  kind: SyncRunKind;
  name: string;
  lastSuccessAt?: Date;
  lastFailureAt?: Date;
  lastErrorCode?: string;
  lastErrorMessage?: string;
  consecutiveFailures: number;
}

/** The health of each recurring pull and poll: last success, last failure and its reason. */
export class SyncRunsRepository {
  constructor(private readonly db: Knex | Knex.Transaction) {}

  async succeeded(kind: SyncRunKind, name: string, at: Date): Promise<void> {
    await this.db("sync_runs").insert({ kind, name, last_success_at: at, consecutive_failures: 0 }).onConflict(["kind", "name"]).merge({ last_success_at: at, consecutive_failures: 0 });
  }

  async failed(kind: SyncRunKind, name: string, at: Date, code: string, message: string): Promise<void> {
    const row = { last_failure_at: at, last_error_code: code.slice(0, 64), last_error_message: message.slice(0, 2000) };
    await this.db("sync_runs")
      .insert({ kind, name, ...row, consecutive_failures: 1 })
      .onConflict(["kind", "name"])
      .merge({ ...row, consecutive_failures: this.db.raw("sync_runs.consecutive_failures + 1") });
  }

  async all(): Promise<SyncRun[]> {
    const rows = (await this.db("sync_runs").orderBy(["kind", "name"])) as Array<Record<string, unknown>>;
    return rows.map((row) => ({
      kind: row.kind as SyncRunKind,
      name: String(row.name),
      ...optional("lastSuccessAt", toOptionalDate(row.last_success_at)),
      ...optional("lastFailureAt", toOptionalDate(row.last_failure_at)),
      ...optional("lastErrorCode", toOptional(row.last_error_code as string | null)),
      ...optional("lastErrorMessage", toOptional(row.last_error_message as string | null)),
      consecutiveFailures: toNumber(row.consecutive_failures),
    }));
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
