import { createServer } from "node:https";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Clock } from "../../shared/clock.js";
import type { SeededRandom } from "../../shared/seeded-random.js";
import type { SandboxPki } from "./pki.js";
import { closeServer, listenLocal } from "../../shared/local-server.js";

/**
 * A stand-in for Microsoft Entra ID's v2.0 endpoints, enough for msal-node: OpenID discovery and the
 * token endpoint with the client_credentials and refresh_token grants, over https (msal refuses an
 * http authority). Access tokens are opaque and expire on the sandbox clock; the API sandboxes ask
 * `validate` whether a bearer token is good for their audience.
 */
export interface SandboxApp {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface SandboxUser {
  oid: string;
  upn: string;
  name: string;
  /** The refresh token an admin would seed the daemon with after signing the service user in. */
  refreshToken: string;
}

export interface TokenGrant {
  kind: "app" | "user";
  clientId: string;
  audience: string;
  user?: { oid: string; upn: string };
}

export interface EntraSandboxOptions {
  clock: Clock;
  random: SeededRandom;
  pki: SandboxPki;
  host?: string;
  port?: number;
  tokenLifetimeSeconds?: number;
}

interface IssuedToken extends TokenGrant {
  expiresAt: number;
}

export class EntraSandbox {
  readonly #options: EntraSandboxOptions;
  readonly #apps = new Map<string, SandboxApp>();
  readonly #users = new Map<string, SandboxUser & { revoked: boolean }>();
  readonly #refreshTokens = new Map<string, { oid: string; clientId: string }>();
  readonly #accessTokens = new Map<string, IssuedToken>();
  #server: Server | undefined;
  #url = "";
  readonly stats = { tokensIssued: 0, refused: 0 };

  constructor(options: EntraSandboxOptions) {
    this.#options = options;
  }

  get url(): string {
    return this.#url;
  }

  get caPem(): string {
    return this.#options.pki.ca.certPem;
  }

  /** What msal's `authority` should be for an app of this sandbox. */
  authorityFor(app: SandboxApp): string {
    return `${this.#url}/${app.tenantId}`;
  }

  async start(): Promise<void> {
    const host = this.#options.host ?? "127.0.0.1";
    const tls = this.#options.pki.issue({ commonName: host, altNames: [host, "localhost", "127.0.0.1"] });
    this.#server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
      this.#handle(req, res).catch((error: unknown) => send(res, 500, { error: "server_error", error_description: (error as Error).message }));
    });
    this.#url = await listenLocal(this.#server, { host, scheme: "https", ...(this.#options.port !== undefined ? { port: this.#options.port } : {}) });
  }

  async close(): Promise<void> {
    await closeServer(this.#server);
    this.#server = undefined;
  }

  registerApp(tenantId = this.#options.random.uuid()): SandboxApp {
    const app = { tenantId, clientId: this.#options.random.uuid(), clientSecret: `sandbox-secret-${this.#options.random.uuid()}` };
    this.#apps.set(app.clientId, app);
    return app;
  }

  registerUser(app: SandboxApp, upn = "cosell-service@partner.example", name = "Co-sell Service"): SandboxUser {
    const user = { oid: this.#options.random.uuid(), upn, name, refreshToken: this.#newRefreshToken(), revoked: false };
    this.#refreshTokens.set(user.refreshToken, { oid: user.oid, clientId: app.clientId });
    this.#users.set(user.oid, user);
    return { oid: user.oid, upn, name, refreshToken: user.refreshToken };
  }

  /** As an admin disabling the service user: its refresh tokens stop working. */
  revokeUser(oid: string): void {
    const user = this.#users.get(oid);
    if (user) user.revoked = true;
  }

  /** The grant behind a bearer token, if it is known, unexpired and for `audience`. */
  validate(token: string, audience: string): TokenGrant | undefined {
    const grant = this.#accessTokens.get(token);
    if (!grant || grant.expiresAt <= this.#options.clock.now().getTime()) return undefined;
    if (grant.audience.replace(/\/+$/, "") !== audience.replace(/\/+$/, "")) return undefined;
    return { kind: grant.kind, clientId: grant.clientId, audience: grant.audience, ...(grant.user ? { user: grant.user } : {}) };
  }

  /** Issues an access token directly (for tests that do not need the OAuth dance). */
  issueAccessToken(grant: TokenGrant): string {
    const token = `sandbox-at-${this.#options.random.uuid()}`;
    this.#accessTokens.set(token, { ...grant, expiresAt: this.#options.clock.now().getTime() + this.#lifetimeMs() });
    this.stats.tokensIssued += 1;
    return token;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.#url);
    const segments = url.pathname.split("/").filter(Boolean);
    if (req.method === "GET" && segments[1] === "v2.0" && url.pathname.endsWith("/.well-known/openid-configuration")) {
      const tenant = segments[0] ?? "common";
      const base = `${this.#url}/${tenant}`;
      send(res, 200, {
        issuer: `${this.#url}/${tenant}/v2.0`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        token_endpoint: `${base}/oauth2/v2.0/token`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_types_supported: ["code", "id_token", "code id_token", "token id_token", "token"],
        subject_types_supported: ["pairwise"],
        id_token_signing_alg_values_supported: ["RS256"],
        scopes_supported: ["openid", "profile", "email", "offline_access"],
        tenant_region_scope: "WW",
      });
      return;
    }
    if (req.method === "GET" && url.pathname === "/common/discovery/instance") {
      const host = new URL(this.#url).host;
      send(res, 200, {
        tenant_discovery_endpoint: `${this.#url}/common/v2.0/.well-known/openid-configuration`,
        "api-version": "1.1",
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      });
      return;
    }
    if (req.method === "POST" && segments[1] === "oauth2" && segments[2] === "v2.0" && segments[3] === "token") {
      await this.#token(req, res, segments[0] ?? "");
      return;
    }
    send(res, 404, { error: "not_found", error_description: `${req.method} ${url.pathname} is not a sandbox login endpoint` });
  }

  async #token(req: IncomingMessage, res: ServerResponse, tenant: string): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    const clientId = form.get("client_id") ?? "";
    const app = this.#apps.get(clientId);
    const refuse = (status: number, error: string, description: string) => {
      this.stats.refused += 1;
      send(res, status, { error, error_description: `AADSTS-SANDBOX: ${description}`, error_codes: [0], timestamp: this.#options.clock.now().toISOString() });
    };
    if (!app || app.tenantId !== tenant) return refuse(400, "invalid_client", `Application ${clientId} was not found in tenant ${tenant}.`);
    const secret = form.get("client_secret");
    if (secret !== null && secret !== app.clientSecret) return refuse(401, "invalid_client", "Invalid client secret provided.");
    const scope = form.get("scope") ?? "";
    const audience = scope.split(/\s+/).find((s) => s.endsWith("/.default"))?.replace(/\/\.default$/, "");
    if (!audience) return refuse(400, "invalid_scope", "The scope must include a resource's /.default scope.");
    const grantType = form.get("grant_type");
    const expiresIn = Math.round(this.#lifetimeMs() / 1000);

    if (grantType === "client_credentials") {
      if (secret === null) return refuse(401, "invalid_client", "client_credentials needs a client secret.");
      const accessToken = this.issueAccessToken({ kind: "app", clientId, audience });
      send(res, 200, { token_type: "Bearer", expires_in: expiresIn, ext_expires_in: expiresIn, access_token: accessToken });
      return;
    }
    if (grantType === "refresh_token") {
      const presented = form.get("refresh_token") ?? "";
      const owner = this.#refreshTokens.get(presented);
      const user = owner ? this.#users.get(owner.oid) : undefined;
      if (!owner || !user || owner.clientId !== clientId) return refuse(400, "invalid_grant", "The refresh token is invalid or was issued to another client.");
      if (user.revoked) return refuse(400, "invalid_grant", "The user account is disabled; an admin must sign the service user in again.");
      const accessToken = this.issueAccessToken({ kind: "user", clientId, audience, user: { oid: user.oid, upn: user.upn } });
      const refreshToken = this.#newRefreshToken();
      this.#refreshTokens.set(refreshToken, { oid: user.oid, clientId });
      const now = Math.floor(this.#options.clock.now().getTime() / 1000);
      const idToken = unsignedJwt({
        aud: clientId,
        iss: `${this.#url}/${tenant}/v2.0`,
        iat: now,
        nbf: now,
        exp: now + expiresIn,
        oid: user.oid,
        sub: user.oid,
        tid: tenant,
        name: user.name,
        preferred_username: user.upn,
        ver: "2.0",
      });
      send(res, 200, {
        token_type: "Bearer",
        scope: `${audience}/user_impersonation`,
        expires_in: expiresIn,
        ext_expires_in: expiresIn,
        access_token: accessToken,
        refresh_token: refreshToken,
        id_token: idToken,
        client_info: Buffer.from(JSON.stringify({ uid: user.oid, utid: tenant })).toString("base64url"),
      });
      return;
    }
    return refuse(400, "unsupported_grant_type", `Grant type ${String(grantType)} is not supported by the sandbox.`);
  }

  #newRefreshToken(): string {
    return `sandbox-rt-${this.#options.random.uuid()}${this.#options.random.uuid()}`;
  }

  #lifetimeMs(): number {
    return (this.#options.tokenLifetimeSeconds ?? 3600) * 1000;
  }
}

function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ typ: "JWT", alg: "RS256", kid: "sandbox" })}.${part(claims)}.${Buffer.from("sandbox-signature").toString("base64url")}`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store" });
  res.end(text);
}
