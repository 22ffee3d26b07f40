export * from "./lead.js";
export * from "./deadlines.js";
export * from "./lifecycle.js";
export * from "./plan.js";
