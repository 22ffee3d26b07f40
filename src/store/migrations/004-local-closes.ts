import type { Knex } from "knex";

/**
 * A lead the daemon closed itself when a deadline passed (expired at accept-by, lost at act-by):
 * when and why, so Partner Center's later answer can confirm or correct it and a pull of a record
 * Partner Center has not closed yet does not reopen it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("leads", (t) => {
    t.timestamp("closed_locally_at", { useTz: true }).nullable();
    t.text("local_close_reason").nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("leads", (t) => {
    t.dropColumn("local_close_reason");
    t.dropColumn("closed_locally_at");
  });
}
