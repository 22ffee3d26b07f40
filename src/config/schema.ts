import { validate as isValidCron } from "node-cron";
import { z } from "zod";
import { routingSchema } from "../routing/schema.js";
import { DURATION_PATTERN, parseDuration } from "../shared/duration.js";

/**
 * The whole config file's shape. Objects are strict so a misspelt option is an error with a line
 * number, not a silently ignored key.
 */

const cron = (fallback: string) =>
  z
    .string()
    .refine((value) => isValidCron(value), {
      message: 'not a valid cron expression (five or six fields, e.g. "* * * * *" for every minute)',
    })
    .default(fallback);

/** One duration value (no default), parsed to milliseconds. */
const durationValue = z
  .union([z.number().int().min(1), z.string().regex(DURATION_PATTERN, 'write a duration like "4h" or "7d"')])
  .transform((value) => (typeof value === "number" ? value : (parseDuration(value) ?? 0)));

/** A duration as milliseconds or text like "30s", "15m", "24h", "7d"; parsed to milliseconds. */
const duration = (fallback: string) =>
  z
    .union([z.number().int().min(0), z.string().regex(DURATION_PATTERN, 'write a duration like "500ms", "30s", "15m", "24h" or "7d"')])
    .default(fallback)
    .transform((value) => (typeof value === "number" ? value : (parseDuration(value) ?? 0)));

/** A duration with no default: left out, the setting it overrides keeps its own value. */
const optionalDuration = () =>
  z
    .union([z.number().int().min(0), z.string().regex(DURATION_PATTERN, 'write a duration like "500ms", "30s", "15m", "24h" or "7d"')])
    .transform((value) => (typeof value === "number" ? value : (parseDuration(value) ?? 0)))
    .optional();

const targetSettings = z.strictObject({
  /** Batches in flight at once against this target. */
  concurrency: z.number().int().min(1).max(52).optional(),
  /** Most jobs per call (Salesforce 200, HubSpot 100, Dataverse up to 1000). */
  batchSize: z.number().int().min(1).max(1000).optional(),
  /** Requests allowed per `interval`. */
  requestsPerInterval: z.number().int().min(1).optional(),
  interval: optionalDuration(),
  /** How long a partial batch may wait to fill while jobs keep arriving (a backfill); "0s" sends at once. */
  linger: optionalDuration(),
});

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "use lower-case letters, digits and dashes (at most 63), starting with a letter or digit");

const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

/** A value that only ever arrives through `${ENV}` or `${file:…}`; the loader refuses clear text. */
const secret = z.string().min(1, "is empty: check that the environment variable or secret file has a value");

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "localhost"]);

/** An IANA time zone this Node.js knows (Europe/Berlin, America/New_York, UTC). */
const timeZone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, "is not an IANA time zone (write it like Europe/Berlin)");

const sandboxAuth = z.strictObject({ mode: z.literal("sandbox") });

const ENTRA_AUTHORITY = "https://login.microsoftonline.com";

/** An Entra ID app registration with a client secret (Partner Center app-only, Dataverse). */
/** A PEM file of extra CAs to trust for the authority (a private PKI, or a standalone sandbox). */
const caFile = z.string().min(1).optional();

const entraClientCredentials = z.strictObject({
  mode: z.literal("client-credentials"),
  tenantId: z.string().min(1),
  clientId: z.string().min(1),
  clientSecret: secret,
  authority: httpUrl.default(ENTRA_AUTHORITY),
  caFile,
});

const partnerCenterAuth = z.discriminatedUnion("mode", [
  z.strictObject({
    /** A dedicated service user's delegated token, renewed and kept in an encrypted cache file. */
    mode: z.literal("delegated"),
    tenantId: z.string().min(1),
    clientId: z.string().min(1),
    clientSecret: secret.optional(),
    /** Seeds the cache on first start; afterwards the cache holds the renewed token. */
    refreshToken: secret.optional(),
    tokenCacheFile: z.string().default("./data/pc-token-cache.bin"),
    tokenCacheKey: secret,
    authority: httpUrl.default(ENTRA_AUTHORITY),
    caFile,
  }),
  entraClientCredentials,
  sandboxAuth,
]);

const WEBHOOK_EVENTS = ["referral-created", "referral-updated", "related-referral-created", "related-referral-updated"] as const;

const partnerCenterAccount = z.strictObject({
  baseUrl: httpUrl.default("https://api.partner.microsoft.com/v1.0/engagements"),
  /** Webhook registration lives on another host and audience than the referral API. */
  webhookApiUrl: httpUrl.default("https://api.partnercenter.microsoft.com/webhooks/v1"),
  auth: partnerCenterAuth,
  webhook: z
    .strictObject({
      /** The public https URL Partner Center posts to (this daemon's /webhooks/partner-center behind your proxy). */
      publicUrl: httpUrl.optional(),
      events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).default([...WEBHOOK_EVENTS]),
      /** Put the signature in x-ms-signature instead of Authorization. */
      signatureInHeader: z.boolean().default(false),
      /** Hosts the signing certificate may come from; `*.name` allows subdomains. */
      certificateHosts: z.array(z.string().min(1)).min(1).default(["*.partnercenter.microsoft.com", "*.partner.microsoft.com"]),
      /** Extra CAs for the signing certificate (beyond the system roots). */
      trustedCaFile: z.string().min(1).optional(),
    })
    .prefault({}),
});

const salesforce = z.strictObject({
  type: z.literal("salesforce"),
  instanceUrl: httpUrl.optional(),
  loginUrl: httpUrl.default("https://login.salesforce.com"),
  apiVersion: z.string().regex(/^\d{2,3}\.0$/, 'write it like "62.0"').default("62.0"),
  /** A call without a complete answer in this long is abandoned and retried (a connection can hang). */
  timeout: duration("120s"),
  auth: z.discriminatedUnion("mode", [
    z.strictObject({ mode: z.literal("jwt"), clientId: z.string().min(1), username: z.string().min(1), privateKey: secret }),
    z.strictObject({ mode: z.literal("client-credentials"), clientId: z.string().min(1), clientSecret: secret }),
    z.strictObject({ mode: z.literal("access-token"), accessToken: secret }),
    sandboxAuth,
  ]),
});

const hubspot = z.strictObject({
  type: z.literal("hubspot"),
  basePath: httpUrl.default("https://api.hubapi.com"),
  /** Sets the default pacing: 100 requests / 10 s (free, starter) or 190 (professional, enterprise). */
  tier: z.enum(["free", "starter", "professional", "enterprise"]).default("professional"),
  /** The private app's id: property history written by this app is our own echo, not a seller's edit. */
  appId: z.string().regex(/^\d+$/, "is the private app's numeric id").optional(),
  auth: z.discriminatedUnion("mode", [
    z.strictObject({ mode: z.literal("private-app"), accessToken: secret }),
    sandboxAuth,
  ]),
});

const dynamics = z.strictObject({
  type: z.literal("dynamics"),
  url: httpUrl.optional(),
  apiVersion: z.string().regex(/^\d+\.\d+$/, 'write it like "9.2"').default("9.2"),
  auth: z.discriminatedUnion("mode", [
    entraClientCredentials,
    sandboxAuth,
  ]),
});

const crm = z.discriminatedUnion("type", [salesforce, hubspot, dynamics]);

const pair = z.strictObject({
  name,
  /** Name of an account under partnerCenter.accounts. */
  partnerCenter: z.string().min(1),
  /** Name of a CRM under crms. */
  crm: z.string().min(1),
  /** The mapping file for this pair (see mappings/README.md). */
  mapping: z.string().min(1),
  enabled: z.boolean().default(true),
  /**
   * The partner seller put on the Partner Center team when a seller accepts a lead in the CRM and
   * the lead names no partner seller yet (acceptance needs a name and an email).
   */
  acceptAs: z
    .strictObject({ firstName: z.string().min(1), lastName: z.string().min(1), email: z.email(), phoneNumber: z.string().optional(), title: z.string().optional() })
    .optional(),
  /**
   * Who owns the pair's leads in the CRM: `central` (one user or queue/team), `direct` (the partner
   * seller tagged on the lead, else the central owner) or `rules` (first matching rule, else the
   * default). The mapping writes it through a field `from: sync.owner`.
   */
  routing: routingSchema.optional(),
  /** A seller's edits within this window after the first go to Partner Center as one push. */
  debounce: duration("30s"),
  schedule: z
    .strictObject({
      pull: cron("* * * * *"),
      reconcile: cron("0 3 * * *"),
      crmPoll: cron("* * * * *"),
    })
    .prefault({}),
});

export const configSchema = z
  .strictObject({
    store: z
      .strictObject({
        /** `sqlite:PATH` (default) or a `postgres://` URL. */
        url: z
          .string()
          .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, "use sqlite:PATH or a postgres:// URL")
          .default("sqlite:./data/cosell-sync.db"),
        busyTimeoutMs: z.coerce.number().int().min(0).default(5000),
        poolMax: z.coerce.number().int().min(1).max(100).default(10),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
        /** `auto`: human-readable on a terminal, JSON otherwise. */
        pretty: z.enum(["auto", "always", "never"]).default("auto"),
      })
      .prefault({}),
    http: z
      .strictObject({
        host: z.string().default("127.0.0.1"),
        port: z.coerce.number().int().min(0).max(65535).default(8787),
        /**
         * Who may read the status page and /metrics; required when `host` is not loopback.
         * Health probes and the (signed) webhook stay open.
         */
        auth: z
          .discriminatedUnion("mode", [
            z.strictObject({ mode: z.literal("bearer"), token: secret }),
            z.strictObject({ mode: z.literal("basic"), username: z.string().min(1), password: secret }),
          ])
          .optional(),
      })
      .prefault({}),
    outbox: z
      .strictObject({
        /** How long a worker holds a job before another may take it (renewed while it runs). */
        lease: duration("30s"),
        /** How often an idle worker looks for due jobs. */
        poll: duration("1s"),
        maxAttempts: z.number().int().min(1).max(100).default(12),
        /**
         * Jobs whose deadline falls within this window never wait for a batch to fill. An hour: a
         * day made every backfill page holding one lead due tomorrow go out part-full.
         */
        urgentWindow: duration("1h"),
        backoff: z
          .strictObject({ base: duration("2s"), cap: duration("15m"), deadlineMargin: duration("10m") })
          .prefault({}),
        /** On SIGTERM, how long running jobs may finish before they are handed back. */
        shutdownGrace: duration("30s"),
        /** Finished jobs are purged after this long (dead jobs stay until handled). */
        retention: duration("7d"),
        /** Pacing per target: partner-center, crm:<name>, notify:<channel>. */
        targets: z.record(z.string().regex(/^(partner-center|crm:[a-z0-9-]+|notify:[a-z0-9-]+)$/, "use partner-center, crm:<name> or notify:<channel>"), targetSettings).default({}),
      })
      .prefault({}),
    deadlines: z
      .strictObject({
        /** How often open leads are checked against accept-by and act-by (cron; default every minute). */
        sweep: cron("* * * * *"),
        /** Reminders before each deadline, each sent once. */
        reminders: z.array(durationValue).min(1).prefault(["7d", "3d", "1d", "4h"]),
        /** Who is reminded about a lead without an owner (the referrals admin). */
        admin: z.email().optional(),
        /** Leave each reminder as a task on the lead's CRM record, for the record's owner. */
        crmTasks: z.boolean().default(true),
      })
      .prefault({}),
    notify: z
      .strictObject({
        /** Reminder mail through Microsoft Graph (app credentials with Mail.Send). */
        mail: z
          .strictObject({
            /** The mailbox reminders are sent from. */
            sender: z.email(),
            baseUrl: httpUrl.default("https://graph.microsoft.com/v1.0"),
            auth: z.discriminatedUnion("mode", [entraClientCredentials, sandboxAuth]),
          })
          .optional(),
        /**
         * Reminders posted to a Teams channel through a Workflows webhook ("Post to a channel when a
         * webhook request is received"): app-only Graph cannot post to channels.
         */
        teams: z
          .discriminatedUnion("mode", [
            z.strictObject({
              mode: z.literal("webhook"),
              /** The workflow's trigger URL; its `sig` is the credential, so it comes from the environment or a secret file. */
              webhookUrl: secret.pipe(z.url({ protocol: /^https?$/, error: "must be the workflow's http(s) trigger URL" })),
              /** The channel has no time zone of its own: deadlines are written in this one. */
              timeZone: timeZone.default("UTC"),
            }),
            z.strictObject({ mode: z.literal("sandbox"), timeZone: timeZone.default("UTC") }),
          ])
          .optional(),
      })
      .prefault({}),
    sandbox: z
      .strictObject({
        /** Start the local Partner Center and CRM sandboxes and point every `mode: sandbox` account at them. */
        enabled: z.boolean().default(false),
        host: z.string().default("127.0.0.1"),
      })
      .prefault({}),
    partnerCenter: z.strictObject({
      accounts: z.record(name, partnerCenterAccount).refine((accounts) => Object.keys(accounts).length > 0, {
        message: "define at least one Partner Center account",
      }),
    }),
    crms: z.record(name, crm).refine((crms) => Object.keys(crms).length > 0, { message: "define at least one CRM" }),
    pairs: z.array(pair).min(1, "define at least one sync pair"),
  })
  .superRefine((config, ctx) => {
    const seenNames = new Map<string, number>();
    const seenLinks = new Map<string, number>();
    config.pairs.forEach((p, index) => {
      const first = seenNames.get(p.name);
      if (first !== undefined) {
        ctx.addIssue({ code: "custom", path: ["pairs", index, "name"], message: `duplicates the name of pairs[${first}]; pair names must be unique` });
      } else seenNames.set(p.name, index);
      if (!(p.partnerCenter in config.partnerCenter.accounts)) {
        ctx.addIssue({
          code: "custom",
          path: ["pairs", index, "partnerCenter"],
          message: `names no account under partnerCenter.accounts (known: ${Object.keys(config.partnerCenter.accounts).join(", ")})`,
        });
      }
      if (!(p.crm in config.crms)) {
        ctx.addIssue({
          code: "custom",
          path: ["pairs", index, "crm"],
          message: `names no CRM under crms (known: ${Object.keys(config.crms).join(", ")})`,
        });
      }
      const crmType = config.crms[p.crm]?.type;
      if (p.routing && crmType === "hubspot") {
        const owners = p.routing.mode === "rules" ? [...p.routing.rules.map((rule, i) => ({ owner: rule.owner, path: ["rules", i, "owner"] })), { owner: p.routing.default, path: ["default"] }] : [{ owner: p.routing.owner, path: ["owner"] }];
        for (const { owner, path } of owners) {
          if ("team" in owner) ctx.addIssue({ code: "custom", path: ["pairs", index, "routing", ...path, "team"], message: "cannot own HubSpot records (HubSpot records are owned by users); name a user by email" });
        }
      }
      const link = `${p.partnerCenter}\u0000${p.crm}`;
      const twin = seenLinks.get(link);
      if (twin !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["pairs", index],
          message: `connects the same account and CRM as pairs[${twin}]; two pairs would write every lead twice`,
        });
      } else seenLinks.set(link, index);
    });
    if (!LOOPBACK_HOSTS.has(config.http.host) && !config.http.auth) {
      ctx.addIssue({
        code: "custom",
        path: ["http", "auth"],
        message: `is required: http.host ${config.http.host} serves the status page and metrics beyond this machine; set mode: bearer (token) or basic (username, password), or bind http.host to 127.0.0.1`,
      });
    }
    for (const [crmName, crmConfig] of Object.entries(config.crms)) {
      const needsUrl =
        (crmConfig.type === "dynamics" && crmConfig.auth.mode !== "sandbox" && !crmConfig.url) ||
        (crmConfig.type === "salesforce" && crmConfig.auth.mode === "access-token" && !crmConfig.instanceUrl);
      if (needsUrl) {
        const key = crmConfig.type === "dynamics" ? "url" : "instanceUrl";
        ctx.addIssue({ code: "custom", path: ["crms", crmName, key], message: `is required for this CRM and auth mode` });
      }
    }
  });

export type Config = z.infer<typeof configSchema>;
export type PairConfig = Config["pairs"][number];
export type CrmConfig = Config["crms"][string];
export type PartnerCenterAccountConfig = Config["partnerCenter"]["accounts"][string];
