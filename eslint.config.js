// ESLint flat config: typescript-eslint's strict rules plus the layer map of
// ../shared/design/ARCHITECTURE.md enforced by eslint-plugin-boundaries.
import js from "@eslint/js";
import boundaries from "eslint-plugin-boundaries";
import tseslint from "typescript-eslint";

/** Layers, lowest first. A layer may import only what its `may` list names (and itself). */
const LAYERS = {
  shared: [],
  domain: ["shared"],
  mapping: ["shared", "domain", "log"],
  log: ["shared"],
  config: ["shared", "routing"],
  auth: ["shared", "log"],
  store: ["shared", "domain", "log"],
  queue: ["shared", "domain", "log", "store"],
  "partner-center": ["shared", "domain", "log", "auth"],
  connectors: ["shared", "domain", "log", "mapping", "auth"],
  routing: ["shared", "domain", "log", "connectors"],
  notify: ["shared", "domain", "log", "auth"],
  sandbox: ["shared", "domain", "log", "auth", "partner-center", "connectors"],
  sync: ["shared", "domain", "log", "auth", "config", "mapping", "store", "queue", "partner-center", "connectors", "notify", "routing"],
  http: ["shared", "domain", "log", "store", "queue"],
  daemon: ["shared", "domain", "log", "auth", "config", "mapping", "store", "queue", "partner-center", "connectors", "notify", "sync", "http", "sandbox", "routing"],
  cli: ["shared", "domain", "log", "auth", "config", "mapping", "store", "daemon", "sandbox", "connectors", "partner-center", "routing"],
};

const elements = [
  ...Object.keys(LAYERS)
    .filter((layer) => layer !== "connectors")
    .map((layer) => ({ type: layer, pattern: `src/${layer}` })),
  { type: "connectors", pattern: "connectors" },
  { type: "bench", pattern: "bench" },
  { type: "test", pattern: "test" },
];

const DATABASE_DRIVERS = ["knex", "knex/**", "pg", "pg/**", "sqlite3"];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "data/**", "coverage/**", "test-artifacts/**"] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "error",
    },
  },
  {
    files: ["**/*.ts"],
    plugins: { boundaries },
    settings: {
      "boundaries/elements": elements,
      "boundaries/include": ["src/**/*", "connectors/**/*", "test/**/*", "bench/**/*"],
      "import/resolver": { typescript: { alwaysTryTypes: true, project: "./tsconfig.json" }, node: true },
    },
    rules: {
      "boundaries/dependencies": [
        "error",
        {
          default: "disallow",
          checkAllOrigins: true,
          policies: [
            // Packages and Node built-ins are allowed by default; the policies below carve out.
            { allow: { to: { module: { origin: ["external", "core"] } } } },
            ...Object.entries(LAYERS).map(([layer, may]) => ({
              from: { element: { type: layer } },
              allow: { to: { element: { types: { anyOf: [layer, ...may] } } } },
            })),
            { from: { element: { types: { anyOf: ["test", "bench"] } } }, allow: { to: { element: { type: "*" } } } },
            {
              from: { element: { type: "domain" } },
              disallow: { to: { module: { origin: ["external", "core"] } } },
              message: "src/domain is pure: it may not import packages or Node built-ins (no I/O). Pass values in instead.",
            },
            {
              from: { element: { types: { noneOf: ["store", "test", "bench"] } } },
              disallow: { to: { module: { origin: "external", source: DATABASE_DRIVERS } } },
              message: "Only src/store talks to the database; use a repository method instead of knex/pg/sqlite3.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["bin/**/*.js", "eslint.config.js", "test/**/*.mjs"],
    languageOptions: { globals: { process: "readonly", fetch: "readonly" } },
  },
  {
    files: ["src/cli/**/*.ts", "test/**/*.ts", "bench/**/*.ts", "scripts/**/*"],
    rules: { "no-console": "off" },
  },
);
