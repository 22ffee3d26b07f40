export * from "./schema.js";
export * from "./load.js";
export { describeConfig } from "./describe.js";
