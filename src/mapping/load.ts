import { CosellError } from "../shared/errors.js";
import type { KeyPath, SourceIssue } from "../shared/yaml-source.js";
import { formatIssues, schemaVocabulary, sortIssues, YamlSource } from "../shared/yaml-source.js";
import { CompiledMapping } from "./compile.js";
import { checkPath, templatePlaceholders } from "./paths.js";
import type { MappingFile } from "./schema.js";
import { mappingSchema } from "./schema.js";
import { SELLER_FACTS } from "./source.js";

export interface LoadedMapping {
  mapping: CompiledMapping;
  /** Not errors: things an admin should know (a seller-facing field not mapped). */
  warnings: SourceIssue[];
}

let vocabulary: Set<string> | undefined;

/**
 * Parses, validates and compiles one mapping file. Any problem rejects the whole file with every
 * issue placed on its line; nothing half-loaded ever reaches a sync.
 */
export function parseMappingText(text: string, file: string): LoadedMapping {
  const parsed = YamlSource.parse(text);
  if (!parsed.source) throw invalid(file, parsed.issues.map((issue) => ({ ...issue, code: "MAPPING_YAML_INVALID" })));
  const source = parsed.source;
  const raw = source.toJS();
  const validated = mappingSchema.safeParse(raw);
  if (!validated.success) {
    vocabulary ??= schemaVocabulary(mappingSchema);
    throw invalid(file, sortIssues(source.fromZod(validated.error.issues, vocabulary, { unknownKey: "MAPPING_UNKNOWN_KEY", invalid: "MAPPING_INVALID_VALUE" })));
  }
  const definition = validated.data;
  const issues = semanticIssues(definition, source);
  if (issues.length > 0) throw invalid(file, sortIssues(issues));
  return { mapping: new CompiledMapping(definition, file), warnings: sellerFieldWarnings(definition, source) };
}

function semanticIssues(definition: MappingFile, source: YamlSource): SourceIssue[] {
  const issues: SourceIssue[] = [];
  const at = (path: KeyPath, code: string, message: string) => issues.push(source.issueAt(path, code, message));
  const checkSource = (path: KeyPath, value: string) => {
    const problem = checkPath(value);
    if (problem) at(path, "MAPPING_UNKNOWN_SOURCE", `"${value}": ${problem}`);
  };
  const objectNames = new Set(Object.keys(definition.objects));

  for (const [name, object] of Object.entries(definition.objects)) {
    const base: KeyPath = ["objects", name];
    checkSource([...base, "externalId", "from"], object.externalId.from);
    if (object.externalId.field in object.fields) {
      at([...base, "fields", object.externalId.field], "MAPPING_EXTERNAL_ID_IN_FIELDS", `${object.externalId.field} is the external id; it is set from externalId and must not be mapped as a field too`);
    }
    for (const target of object.associate) {
      if (!objectNames.has(target) || target === name) at([...base, "associate"], "MAPPING_UNKNOWN_OBJECT", `"${target}" is not another object of this mapping (known: ${[...objectNames].filter((n) => n !== name).join(", ") || "none"})`);
    }
    for (const [field, rule] of Object.entries(object.fields)) {
      const fieldPath: KeyPath = [...base, "fields", field];
      if (rule.from !== undefined) checkSource([...fieldPath, "from"], rule.from);
      if (rule.template !== undefined) {
        const placeholders = templatePlaceholders(rule.template);
        if (placeholders.length === 0) at([...fieldPath, "template"], "MAPPING_TEMPLATE_EMPTY", "has no {source.path} placeholder; use value: for a constant");
        for (const placeholder of placeholders) checkSource([...fieldPath, "template"], placeholder);
      }
      rule.transform.forEach((step, index) => {
        if (step.lookup !== undefined && !(step.lookup in definition.tables)) {
          at([...fieldPath, "transform", index, "lookup"], "MAPPING_UNKNOWN_TABLE", `names no table under tables: (known: ${Object.keys(definition.tables).join(", ") || "none"})`);
        }
      });
    }
  }

  const inbound = definition.inbound;
  if (inbound) {
    const object = definition.objects[inbound.object];
    if (!object) {
      at(["inbound", "object"], "MAPPING_UNKNOWN_OBJECT", `"${inbound.object}" is not an object of this mapping (known: ${[...objectNames].join(", ")})`);
    } else {
      const flowsBack: Array<[KeyPath, string]> = [
        ...(inbound.status ? [[["inbound", "status", "field"], inbound.status.field] as [KeyPath, string]] : []),
        ...(["qualifyComplete", "evaluateComplete", "reason", "owner"] as const).filter((key) => inbound[key] !== undefined).map((key) => [["inbound", key], inbound[key] as string] as [KeyPath, string]),
        ...Object.keys(inbound.fields).map((field) => [["inbound", "fields", field], field] as [KeyPath, string]),
      ];
      for (const [path, field] of flowsBack) {
        const owner = object.fields[field]?.owner;
        if (owner === "partnerCenter" || owner === "none") {
          at(path, "MAPPING_OWNERSHIP_CONFLICT", `${field} flows back to Partner Center but objects.${inbound.object}.fields.${field} is owned by ${owner}: ${owner === "partnerCenter" ? "the next sync would overwrite the seller's edit" : "it is never read back"}. Set its owner to crm or latest`);
        }
      }
    }
  }
  return issues;
}

function sellerFieldWarnings(definition: MappingFile, source: YamlSource): SourceIssue[] {
  const used = new Set<string>();
  for (const object of Object.values(definition.objects)) {
    for (const rule of Object.values(object.fields)) {
      if (rule.from) used.add(rule.from);
      if (rule.template) for (const placeholder of templatePlaceholders(rule.template)) used.add(placeholder);
    }
  }
  return SELLER_FACTS.filter((fact) => !used.has(fact)).map((fact) =>
    source.issueAt(["objects"], "MAPPING_SELLER_FIELD_MISSING", `no field shows ${fact}; sellers see only their CRM, so map it to a field on the record they work in`),
  );
}

function invalid(file: string, issues: SourceIssue[]): CosellError {
  return new CosellError("MAPPING_INVALID", `Mapping ${file} has ${issues.length} problem${issues.length === 1 ? "" : "s"} and was not loaded:\n${formatIssues(file, issues)}`, { details: { file, issues } });
}
