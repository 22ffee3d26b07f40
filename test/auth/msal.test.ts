import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ClientCredentialsTokenProvider, DelegatedTokenProvider } from "../../src/auth/msal-token-provider.js";
import { createNetworkClient } from "../../src/auth/network-client.js";
import type { SandboxApp, SandboxUser } from "../../src/auth/sandbox/entra-sandbox.js";
import { EntraSandbox } from "../../src/auth/sandbox/entra-sandbox.js";
import { createSandboxPki } from "../../src/auth/sandbox/pki.js";
import { silentLogger } from "../../src/log/logger.js";
import { ManualClock } from "../../src/shared/clock.js";
import { SeededRandom } from "../../src/shared/seeded-random.js";

const AUDIENCE = "https://api.partner.microsoft.com";
const SCOPES = [`${AUDIENCE}/.default`];
const clock = new ManualClock(new Date());
let entra: EntraSandbox;
let app: SandboxApp;
let user: SandboxUser;

beforeAll(async () => {
  entra = new EntraSandbox({ clock, random: new SeededRandom(7), pki: createSandboxPki() });
  await entra.start();
  app = entra.registerApp();
  user = entra.registerUser(app);
});

afterAll(async () => {
  await entra.close();
});

const common = () => ({ scopes: SCOPES, logger: silentLogger(), networkClient: createNetworkClient({ ca: entra.caPem }) });
const entraApp = (secret = true) => ({ tenantId: app.tenantId, clientId: app.clientId, authority: entra.url, ...(secret ? { clientSecret: app.clientSecret } : {}) });

describe("client credentials against the sandbox authority", () => {
  it("gets an app-only token for the audience, and a new one when forced", async () => {
    const provider = new ClientCredentialsTokenProvider(entraApp(), common());
    const first = await provider.getToken();
    expect(entra.validate(first, AUDIENCE)).toMatchObject({ kind: "app", clientId: app.clientId });
    expect(await provider.getToken()).toBe(first);
    const forced = await provider.getToken({ forceRefresh: true });
    expect(forced).not.toBe(first);
    expect(entra.validate(forced, "https://api.partnercenter.microsoft.com")).toBeUndefined();
  });

  it("hands out the token it holds without asking msal again, until shortly before it expires", async () => {
    const held = new ManualClock(new Date());
    const asked = vi.spyOn(ConfidentialClientApplication.prototype, "acquireTokenByClientCredential");
    try {
      const provider = new ClientCredentialsTokenProvider(entraApp(), { ...common(), clock: held });
      const first = await provider.getToken();
      for (let i = 0; i < 5; i += 1) expect(await provider.getToken()).toBe(first);
      expect(asked).toHaveBeenCalledTimes(1);
      // An hour's token: 50 minutes on it is still held, 56 minutes on (within msal's five-minute margin) it is asked for again.
      held.advance(50 * 60_000);
      await provider.getToken();
      expect(asked).toHaveBeenCalledTimes(1);
      held.advance(6 * 60_000);
      await provider.getToken();
      expect(asked).toHaveBeenCalledTimes(2);
      // A refused token is never handed out again: forcing asks msal, skipping its cache.
      await provider.getToken({ forceRefresh: true });
      expect(asked).toHaveBeenCalledTimes(3);
      expect(asked.mock.calls[2]?.[0]).toMatchObject({ skipCache: true });
    } finally {
      asked.mockRestore();
    }
  });

  it("reports a wrong secret with what to check", async () => {
    const provider = new ClientCredentialsTokenProvider({ ...entraApp(), clientSecret: "wrong" }, common());
    await expect(provider.getToken()).rejects.toMatchObject({ code: "AUTH_TOKEN_FAILED", message: expect.stringContaining("client secret") });
  });
});

describe("delegated service user with an encrypted token cache", () => {
  const key = "a-long-enough-cache-key-0123456789";

  it("seeds from the refresh token, stores it encrypted with mode 0600, and survives a restart without the seed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cosell-cache-"));
    const file = join(dir, "pc-token-cache.bin");
    const first = new DelegatedTokenProvider(entraApp(false), { ...common(), tokenCacheFile: file, tokenCacheKey: key, refreshToken: user.refreshToken });
    const token = await first.getToken();
    expect(entra.validate(token, AUDIENCE)).toMatchObject({ kind: "user", user: { oid: user.oid } });

    expect(statSync(file).mode & 0o777).toBe(0o600);
    const onDisk = readFileSync(file, "utf8");
    expect(onDisk).not.toContain("sandbox-rt-");
    expect(onDisk).not.toContain(token);

    // A restart: no seed, only the cache.
    const restarted = new DelegatedTokenProvider(entraApp(false), { ...common(), tokenCacheFile: file, tokenCacheKey: key });
    const renewed = await restarted.getToken({ forceRefresh: true });
    expect(renewed).not.toBe(token);
    expect(entra.validate(renewed, AUDIENCE)).toMatchObject({ kind: "user" });
  });

  it("refuses a cache it cannot decrypt instead of overwriting it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cosell-cache-"));
    const file = join(dir, "cache.bin");
    await new DelegatedTokenProvider(entraApp(false), { ...common(), tokenCacheFile: file, tokenCacheKey: key, refreshToken: user.refreshToken }).getToken();
    const wrongKey = new DelegatedTokenProvider(entraApp(false), { ...common(), tokenCacheFile: file, tokenCacheKey: "another-key-that-is-long-enough" });
    await expect(wrongKey.getToken()).rejects.toMatchObject({ code: "AUTH_TOKEN_CACHE_UNREADABLE" });
    writeFileSync(file, "garbage");
    await expect(wrongKey.getToken()).rejects.toMatchObject({ code: "AUTH_TOKEN_CACHE_UNREADABLE" });
  });

  it("asks for a sign-in when there is neither cache nor seed, or the user was disabled", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cosell-cache-"));
    const empty = new DelegatedTokenProvider(entraApp(false), { ...common(), tokenCacheFile: join(dir, "none.bin"), tokenCacheKey: key });
    await expect(empty.getToken()).rejects.toMatchObject({ code: "AUTH_SIGN_IN_REQUIRED" });

    const other = entra.registerUser(app, "leaver@partner.example");
    const provider = new DelegatedTokenProvider(entraApp(false), { ...common(), tokenCacheFile: join(dir, "c.bin"), tokenCacheKey: key, refreshToken: other.refreshToken });
    await provider.getToken();
    entra.revokeUser(other.oid);
    await expect(provider.getToken({ forceRefresh: true })).rejects.toMatchObject({ code: "AUTH_SIGN_IN_REQUIRED", retryable: false });
  });

  it("rejects a weak cache key at construction", () => {
    expect(() => new DelegatedTokenProvider(entraApp(false), { ...common(), tokenCacheFile: "/tmp/x", tokenCacheKey: "short" })).toThrow(
      expect.objectContaining({ code: "AUTH_TOKEN_CACHE_KEY_WEAK" }),
    );
  });
});
