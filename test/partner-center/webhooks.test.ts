import { sign } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createSandboxPki, issueCertificate, createCertificateAuthority } from "../../src/auth/sandbox/pki.js";
import { silentLogger } from "../../src/log/logger.js";
import { WebhookVerifier } from "../../src/partner-center/webhook-verifier.js";
import { REFERRAL_EVENTS, registerWebhook, WEBHOOK_AUDIENCE, WebhookRegistrationClient } from "../../src/partner-center/webhook-registration.js";
import { PartnerCenterSandbox } from "../../src/sandbox/partner-center/sandbox.js";
import { ManualClock } from "../../src/shared/clock.js";
import { sandboxTokens } from "../helpers/pc-sandbox.js";

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const clock = new ManualClock(new Date());
let sandbox: PartnerCenterSandbox;
let receiver: Server;
let receiverUrl = "";
let received: Received[] = [];
let answerWith = 200;
let registrations: WebhookRegistrationClient;

beforeAll(async () => {
  sandbox = await PartnerCenterSandbox.start({ clock, seed: "webhooks", webhookRetryDelaysMs: [1000] });
  receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(answerWith).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/partner-center`;
  registrations = new WebhookRegistrationClient({ baseUrl: sandbox.webhookApiUrl, tokens: sandboxTokens(sandbox, WEBHOOK_AUDIENCE), logger: silentLogger() });
});

afterAll(async () => {
  await sandbox.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

beforeEach(() => {
  received = [];
  answerWith = 200;
  sandbox.faults.webhookDropRate = 0;
});

function verifier(overrides: Partial<ConstructorParameters<typeof WebhookVerifier>[0]> = {}) {
  return new WebhookVerifier({ allowedCertificateHosts: [new URL(sandbox.url).host], trustedCaPems: [sandbox.caPem], allowHttpCertificateUrl: true, useSystemRoots: false, clock, ...overrides });
}

async function oneDelivery(): Promise<Received> {
  const [lead] = sandbox.generate(1);
  await sandbox.deliverWebhooks();
  expect(received).toHaveLength(1);
  const delivery = received[0] as Received;
  expect(JSON.parse(delivery.body.toString())).toMatchObject({ EventName: "referral-created", ResourceName: "referral", ResourceUri: `${sandbox.baseUrl}/referrals/${lead?.id}` });
  return delivery;
}

describe("webhook registration", () => {
  it("creates, then leaves an identical registration alone, then refuses to overwrite another tool's without --force", async () => {
    const desired = { webhookUrl: receiverUrl, events: REFERRAL_EVENTS, signatureInHeader: false };
    expect(await registrations.get()).toBeUndefined();
    expect((await registerWebhook(registrations, desired)).action).toBe("created");
    expect((await registerWebhook(registrations, desired)).action).toBe("unchanged");

    const otherTool = { webhookUrl: "https://other-tool.example/hook", events: ["referral-created"], signatureInHeader: false };
    await registrations.put(otherTool, true);
    await expect(registerWebhook(registrations, desired)).rejects.toMatchObject({
      code: "WEBHOOK_REGISTERED_ELSEWHERE",
      message: expect.stringContaining("https://other-tool.example/hook"),
    });
    expect((await registrations.get())?.webhookUrl).toBe("https://other-tool.example/hook");
    const forced = await registerWebhook(registrations, desired, { force: true });
    expect(forced).toMatchObject({ action: "replaced", previous: { webhookUrl: "https://other-tool.example/hook" } });
  });
});

describe("webhook verification", () => {
  beforeAll(async () => {
    await registrations.put({ webhookUrl: receiverUrl, events: REFERRAL_EVENTS, signatureInHeader: false }, true);
  });

  it("accepts a genuine webhook (Authorization: Signature …) and names the referral", async () => {
    const delivery = await oneDelivery();
    expect(String(delivery.headers.authorization)).toMatch(/^Signature [A-Za-z0-9+/=]+$/);
    const verified = await verifier().verify(delivery.headers, delivery.body);
    expect(verified.event).toBe("referral-created");
    expect(sandbox.referrals.get(verified.referralId).id).toBe(verified.referralId);
  });

  it("accepts the x-ms-signature form too", async () => {
    await registrations.put({ webhookUrl: receiverUrl, events: REFERRAL_EVENTS, signatureInHeader: true }, true);
    const delivery = await oneDelivery();
    expect(delivery.headers["x-ms-signature"]).toBeTruthy();
    await expect(verifier().verify(delivery.headers, delivery.body)).resolves.toMatchObject({ event: "referral-created" });
    await registrations.put({ webhookUrl: receiverUrl, events: REFERRAL_EVENTS, signatureInHeader: false }, true);
  });

  it("refuses a tampered body", async () => {
    const delivery = await oneDelivery();
    const tampered = Buffer.from(delivery.body.toString().replace("referral-created", "referral-updated"));
    await expect(verifier().verify(delivery.headers, tampered)).rejects.toMatchObject({ code: "WEBHOOK_SIGNATURE_INVALID" });
  });

  it("refuses an unsigned webhook", async () => {
    const delivery = await oneDelivery();
    const { authorization: _dropped, ...unsigned } = delivery.headers;
    await expect(verifier().verify(unsigned, delivery.body)).rejects.toMatchObject({ code: "WEBHOOK_UNSIGNED" });
  });

  it("refuses a certificate from a host off the allow-list, or over plain http", async () => {
    const delivery = await oneDelivery();
    await expect(verifier({ allowedCertificateHosts: ["*.partnercenter.microsoft.com"] }).verify(delivery.headers, delivery.body)).rejects.toMatchObject({
      code: "WEBHOOK_CERT_HOST_NOT_ALLOWED",
    });
    await expect(verifier({ allowHttpCertificateUrl: false }).verify(delivery.headers, delivery.body)).rejects.toMatchObject({ code: "WEBHOOK_CERT_HOST_NOT_ALLOWED" });
  });

  it("refuses a signature made with a certificate nobody trusts", async () => {
    const rogueCa = createCertificateAuthority("rogue");
    const rogue = issueCertificate(rogueCa, { commonName: "partnercenter-webhooks.sandbox" });
    const body = Buffer.from(JSON.stringify({ EventName: "referral-updated", ResourceUri: `${sandbox.baseUrl}/referrals/x`, ResourceName: "referral" }));
    const headers = {
      authorization: `Signature ${sign("sha256", body, rogue.keyPem).toString("base64")}`,
      "x-ms-certificate-url": sandbox.certificateUrl,
      "x-ms-signature-algorithm": "rsa-sha256",
    };
    const served = verifier({ fetchCertificate: async () => `${rogue.certPem}${rogueCa.certPem}` });
    await expect(served.verify(headers, body)).rejects.toMatchObject({ code: "WEBHOOK_CERT_INVALID", message: expect.stringContaining("trusted") });
    // The genuine certificate with a rogue signature fails on the signature instead.
    await expect(verifier().verify(headers, body)).rejects.toMatchObject({ code: "WEBHOOK_SIGNATURE_INVALID" });
  });

  it("refuses an expired signing certificate", async () => {
    const pki = createSandboxPki();
    const expired = pki.issue({ commonName: "old", notBefore: new Date("2020-01-01"), notAfter: new Date("2021-01-01") });
    const body = Buffer.from(JSON.stringify({ EventName: "referral-updated", ResourceUri: "x/referrals/y" }));
    const headers = { authorization: `Signature ${sign("sha256", body, expired.keyPem).toString("base64")}`, "x-ms-certificate-url": sandbox.certificateUrl };
    const check = verifier({ trustedCaPems: [pki.ca.certPem], fetchCertificate: async () => expired.certPem });
    await expect(check.verify(headers, body)).rejects.toMatchObject({ code: "WEBHOOK_CERT_INVALID", message: expect.stringContaining("not valid now") });
  });

  it("refuses a non-rsa-sha256 algorithm", async () => {
    const delivery = await oneDelivery();
    await expect(verifier().verify({ ...delivery.headers, "x-ms-signature-algorithm": "hmac-sha1" }, delivery.body)).rejects.toMatchObject({ code: "WEBHOOK_BAD_ALGORITHM" });
  });
});

describe("webhook delivery like Partner Center's", () => {
  it("retries a failing receiver 10 times in all, then drops the event", async () => {
    answerWith = 500;
    const before = sandbox.webhooks.stats.dropped;
    sandbox.generate(1);
    for (let attempt = 0; attempt < 12; attempt += 1) {
      await sandbox.deliverWebhooks();
      clock.advance(1000);
    }
    expect(received).toHaveLength(10);
    expect(sandbox.webhooks.stats.dropped).toBe(before + 1);
    expect(sandbox.webhooks.pending).toBe(0);
  });

  it("can drop events outright (the reason a reconciliation poll is mandatory)", async () => {
    sandbox.faults.webhookDropRate = 1;
    sandbox.generate(3);
    await sandbox.deliverWebhooks();
    expect(received).toHaveLength(0);
    expect(sandbox.webhooks.stats.droppedByFault).toBeGreaterThanOrEqual(3);
  });
});
