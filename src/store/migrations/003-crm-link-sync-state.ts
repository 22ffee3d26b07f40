import type { Knex } from "knex";

/**
 * What the two-way sync needs to remember per CRM record: the lifecycle values we last wrote (a
 * change equal to them is our echo), the seller's last edit and when (a `latest`-owned field the
 * seller changed after Partner Center's last update is not overwritten), and the refusal the seller
 * is shown until Partner Center accepts a change.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("crm_links", (t) => {
    t.text("last_pushed_fields").nullable();
    t.text("seller_fields").nullable();
    t.timestamp("seller_changed_at", { useTz: true }).nullable();
    t.text("sync_error").nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("crm_links", (t) => {
    t.dropColumn("sync_error");
    t.dropColumn("seller_changed_at");
    t.dropColumn("seller_fields");
    t.dropColumn("last_pushed_fields");
  });
}
