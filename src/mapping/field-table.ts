import type { CompiledMapping } from "./compile.js";

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/**
 * The fields a mapping needs in its CRM, as Markdown tables (one per object): what an admin must
 * create before the first sync. docs/setup-*.md embed this output for the shipped mappings.
 */
export function fieldTables(mapping: CompiledMapping): string {
  const requirements = mapping.requirements();
  const described = mapping.describeObjects();
  const sections: string[] = [];
  for (const requirement of requirements) {
    const object = described.find((o) => o.object === requirement.object);
    const rows = [`| field | written from | ownership | longest value | values the mapping writes | read back |`, `|---|---|---|---|---|---|`];
    rows.push(`| \`${requirement.externalIdField}\` | the upsert key (external id, unique) | — | | | |`);
    for (const field of requirement.fields) {
      if (field.name === requirement.externalIdField) continue;
      const source = object?.fields.find((f) => f.field === field.name);
      rows.push(
        `| \`${cell(field.name)}\` | ${source ? cell(source.source) : "—"} | ${source ? source.owner : "—"} | ${field.maxLength ?? ""} | ${field.values ? cell(field.values.map((v) => `\`${v}\``).join(", ")) : ""} | ${field.readBack ? "yes" : ""} |`,
      );
    }
    sections.push(`**${requirement.object}**\n\n${rows.join("\n")}`);
  }
  return `${sections.join("\n\n")}\n`;
}
