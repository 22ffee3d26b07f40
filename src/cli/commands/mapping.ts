import { fieldTables } from "../../mapping/index.js";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { CompiledMapping, MappedRecord, OutboundResult } from "../../mapping/index.js";
import { loadMappingFile, mappingJsonSchema, mappingSource } from "../../mapping/index.js";
import { adaptReferral } from "../../partner-center/adapter.js";
import { CosellError, toCosellError } from "../../shared/errors.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";
import { withStore } from "../store-access.js";

function count(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("must be a whole number ≥ 1");
  return parsed;
}

export async function readSampleLead(file: string, cwd: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(resolve(cwd, file), "utf8");
  } catch (error) {
    throw new CosellError("CLI_LEAD_FILE_UNREADABLE", `Cannot read the lead file ${file}; give a Partner Center referral as JSON (mappings/samples/ has one).`, { cause: error });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new CosellError("CLI_LEAD_FILE_INVALID", `${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
}

function apply(mapping: CompiledMapping, raw: Record<string, unknown>, now: Date, create: boolean): OutboundResult {
  const { lead, referral } = adaptReferral(raw);
  return mapping.outbound(mappingSource(referral as Record<string, unknown>, lead, now), { create });
}

function printRecords(io: CliIo, result: OutboundResult): void {
  for (const record of result.records) {
    io.stdout.write(`${record.object} (${record.name}) upserted on ${record.externalIdField} = ${record.externalId}${record.associate.length ? `, associated with ${record.associate.join(", ")}` : ""}\n`);
    const width = Math.max(...Object.keys(record.fields).map((f) => f.length), 5);
    for (const [field, value] of Object.entries(record.fields)) io.stdout.write(`  ${field.padEnd(width)} = ${JSON.stringify(value)}   ← ${record.produced[field]}\n`);
  }
  for (const name of result.skipped) io.stdout.write(`${name}: skipped (optional, and its external id has no value)\n`);
  for (const problem of result.problems) io.stdout.write(`PROBLEM ${problem.code} ${problem.object}.${problem.field}: ${problem.message}\n`);
}

export function registerMappingCommands(program: Command, io: CliIo): void {
  const mapping = program.command("mapping").description("validate, preview and compare mapping files");

  const validate = mapping
    .command("validate")
    .description("check mapping files; every problem with file:line:column")
    .argument("<files...>", "mapping files")
    .addHelpText("after", "\nExit codes: 0 all valid (warnings allowed), 78 any file invalid.");
  withJsonOption(validate).action(async (files: string[], options: JsonOptions) => {
    const results: Array<{ file: string; ok: boolean; crm?: string; warnings?: unknown[]; error?: unknown }> = [];
    for (const file of files) {
      try {
        const { mapping: compiled, warnings } = await loadMappingFile(file, io.cwd);
        results.push({ file, ok: true, crm: compiled.crm, warnings });
        if (!options.json) {
          io.stdout.write(`${file}: OK (${compiled.crm}, ${compiled.describeObjects().map((o) => o.object).join(" + ")})\n`);
          for (const warning of warnings) io.stdout.write(`  warning ${file}:${warning.line ?? "?"} ${warning.message}\n`);
        }
      } catch (error) {
        const failure = toCosellError(error, "MAPPING_INVALID");
        results.push({ file, ok: false, error: failure.toJSON() });
        if (!options.json) io.stderr.write(`${failure.message}\n`);
      }
    }
    if (options.json) printJson(io, { ok: results.every((r) => r.ok), files: results });
    if (!results.every((r) => r.ok)) throw Object.assign(new CosellError("MAPPING_INVALID", "One or more mapping files are invalid."), { alreadyReported: true });
  });

  const preview = mapping
    .command("preview")
    .description("show the exact CRM payload a mapping makes for one lead, and which rule produced each field")
    .argument("<file>", "mapping file")
    .requiredOption("--lead <file>", "a Partner Center referral as JSON (e.g. mappings/samples/joint-planning-lead.json)")
    .option("--update", "as an update of an existing record (fields owned by the CRM are left out)")
    .option("--now <iso>", "the time to compute deadlines and urgency at (default: now)");
  withJsonOption(preview).action(async (file: string, options: JsonOptions & { lead: string; update?: boolean; now?: string }) => {
    const { mapping: compiled } = await loadMappingFile(file, io.cwd);
    const now = options.now ? new Date(options.now) : new Date();
    if (Number.isNaN(now.getTime())) throw new InvalidArgumentError("--now must be an ISO date-time");
    const result = apply(compiled, await readSampleLead(options.lead, io.cwd), now, options.update !== true);
    if (options.json) return printJson(io, { ok: result.problems.length === 0, ...result });
    printRecords(io, result);
  });

  const diff = mapping
    .command("diff")
    .description("what a mapping change would write differently, on the leads in the store, before you apply it")
    .argument("<old>", "the mapping in service")
    .argument("<new>", "the edited mapping")
    .option("--leads <n>", "how many of the most recently changed leads to compare", count, 200);
  withJsonOption(withConfigOption(diff)).action(async (oldFile: string, newFile: string, options: ConfigOptions & JsonOptions & { leads: number }) => {
    const [before, after] = [(await loadMappingFile(oldFile, io.cwd)).mapping, (await loadMappingFile(newFile, io.cwd)).mapping];
    const changes = new Map<string, { changed: number; examples: Array<{ lead: string; before: unknown; after: unknown }> }>();
    let compared = 0;
    let leadsChanged = 0;
    const recent = await withStore(options, io, (store) => store.repos.leads.recent(options.leads));
    const now = new Date();
    for (const stored of recent) {
      const raw = stored.raw as Record<string, unknown>;
      const left = index(apply(before, raw, now, true).records);
      const right = index(apply(after, raw, now, true).records);
      compared += 1;
      let any = false;
      for (const key of new Set([...left.keys(), ...right.keys()])) {
        const a = left.get(key);
        const b = right.get(key);
        if (JSON.stringify(a) === JSON.stringify(b)) continue;
        any = true;
        const entry = changes.get(key) ?? { changed: 0, examples: [] };
        entry.changed += 1;
        if (entry.examples.length < 3) entry.examples.push({ lead: stored.referralId, before: a, after: b });
        changes.set(key, entry);
      }
      if (any) leadsChanged += 1;
    }
    const fields = [...changes.entries()].map(([field, entry]) => ({ field, ...entry })).sort((x, y) => y.changed - x.changed);
    if (options.json) return printJson(io, { ok: true, compared, leadsChanged, fields });
    io.stdout.write(`Compared ${compared} stored lead(s): ${leadsChanged} would be written differently.\n`);
    for (const field of fields) {
      io.stdout.write(`  ${field.field}: ${field.changed} lead(s)\n`);
      for (const example of field.examples) io.stdout.write(`    ${example.lead}: ${JSON.stringify(example.before)} → ${JSON.stringify(example.after)}\n`);
    }
  });

  const fields = mapping
    .command("fields")
    .description("list the CRM fields a mapping needs (what to create before the first sync), as Markdown tables")
    .argument("<file>", "mapping file");
  withJsonOption(fields).action(async (file: string, options: JsonOptions) => {
    const { mapping: compiled } = await loadMappingFile(file, io.cwd);
    if (options.json) printJson(io, { ok: true, crm: compiled.crm, objects: compiled.requirements() });
    else io.stdout.write(fieldTables(compiled));
  });

  mapping
    .command("schema")
    .description("print the JSON Schema of mapping files (mappings/schema.json is this)")
    .action(() => printJson(io, mappingJsonSchema()));
}

/** Field values keyed object/field (undefined for a field the mapping does not write). */
function index(records: MappedRecord[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const record of records) {
    out.set(`${record.object}.${record.externalIdField}`, record.externalId);
    for (const [field, value] of Object.entries(record.fields)) out.set(`${record.object}.${field}`, value);
  }
  return out;
}
