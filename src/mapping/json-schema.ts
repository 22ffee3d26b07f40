import { z } from "zod";
import { mappingSchema, transformSchema } from "./schema.js";

/**
 * The JSON Schema editors use for mapping files, generated from the zod definition the loader
 * validates with, so the two never disagree. mappings/schema.json is this, committed; a test checks
 * it is current (`cosell-sync mapping schema > mappings/schema.json` refreshes it).
 */
export function mappingJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(mappingSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  type ObjectsNode = { additionalProperties: { properties: { fields: { additionalProperties: unknown } } } };
  const objects = (schema.properties as { objects: ObjectsNode }).objects;
  const rule = objects.additionalProperties.properties.fields.additionalProperties;
  const from = (rule as { properties: { from: unknown } }).properties.from;
  // `transform` takes one step or a list of steps (normalised before validation, which zod cannot show).
  const step = z.toJSONSchema(transformSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  delete step.$schema;
  const transform = { anyOf: [step, { type: "array", items: step }] };
  const optionalTransform = (node: { properties: Record<string, unknown>; required?: string[] }) => {
    node.properties.transform = transform;
    if (node.required) node.required = node.required.filter((key) => key !== "transform");
  };
  optionalTransform(rule as { properties: Record<string, unknown>; required?: string[] });
  const inbound = (schema.properties as { inbound: { properties: { fields: { additionalProperties: { properties: Record<string, unknown> } } } } }).inbound;
  optionalTransform(inbound.properties.fields.additionalProperties as { properties: Record<string, unknown>; required?: string[] });
  // A field rule may also be written as just its source path: `Email: lead.customer.contacts.0.email`.
  objects.additionalProperties.properties.fields.additionalProperties = { anyOf: [from, rule] };
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://cosell-sync.dev/schemas/mapping.json",
    title: "cosell-sync mapping file",
    description: "How Joint Planning leads become CRM records and which CRM changes flow back. See mappings/README.md.",
    ...Object.fromEntries(Object.entries(schema).filter(([key]) => key !== "$schema")),
  };
}
