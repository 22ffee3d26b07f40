export * from "./compile.js";
export * from "./load.js";
export * from "./registry.js";
export * from "./schema.js";
export * from "./source.js";
export { checkPath } from "./paths.js";
export { mappingJsonSchema } from "./json-schema.js";
export { fieldTables } from "./field-table.js";
