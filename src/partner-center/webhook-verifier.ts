import { verify as verifySignature, X509Certificate } from "node:crypto";
import { rootCertificates } from "node:tls";
import type { Clock } from "../shared/clock.js";
import { systemClock } from "../shared/clock.js";
import { CosellError } from "../shared/errors.js";

/**
 * Verifies a Partner Center webhook before anything acts on it. The payload is only a pointer, so a
 * verified event still leads to a fresh GET of the referral; verification keeps a hostile caller
 * from making the daemon do work or learn anything.
 */
export type WebhookRefusal =
  | "WEBHOOK_UNSIGNED"
  | "WEBHOOK_BAD_ALGORITHM"
  | "WEBHOOK_CERT_HOST_NOT_ALLOWED"
  | "WEBHOOK_CERT_UNAVAILABLE"
  | "WEBHOOK_CERT_INVALID"
  | "WEBHOOK_SIGNATURE_INVALID"
  | "WEBHOOK_PAYLOAD_INVALID";

export class WebhookRefusedError extends CosellError {
  constructor(
    readonly reason: WebhookRefusal,
    message: string,
  ) {
    super(reason, message, { details: { reason } });
  }
}

export interface VerifiedWebhook {
  event: string;
  resourceUri: string;
  referralId: string;
  changedAt?: Date;
}

export interface WebhookVerifierOptions {
  /** Hosts the certificate may be downloaded from: exact names, or `*.example.com` for subdomains. */
  allowedCertificateHosts: readonly string[];
  /** Extra trust anchors (PEM), e.g. the sandbox CA. */
  trustedCaPems?: readonly string[];
  /** Trust the system's root store too (default true). */
  useSystemRoots?: boolean;
  /** Allow an http:// certificate URL (the sandbox on loopback only). */
  allowHttpCertificateUrl?: boolean;
  fetchCertificate?: (url: string) => Promise<string>;
  clock?: Clock;
  /** How long a downloaded certificate is reused. */
  cacheMs?: number;
}

interface CachedChain {
  chain: X509Certificate[];
  fetchedAt: number;
}

export class WebhookVerifier {
  readonly #options: WebhookVerifierOptions;
  readonly #anchors: X509Certificate[];
  readonly #cache = new Map<string, CachedChain>();
  readonly #clock: Clock;

  constructor(options: WebhookVerifierOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    const pems = [...(options.trustedCaPems ?? []), ...(options.useSystemRoots === false ? [] : rootCertificates)];
    this.#anchors = pems.flatMap(splitPem).map((pem) => new X509Certificate(pem));
  }

  async verify(headers: Record<string, string | string[] | undefined>, rawBody: Buffer): Promise<VerifiedWebhook> {
    const signature = signatureOf(headers);
    if (!signature) throw new WebhookRefusedError("WEBHOOK_UNSIGNED", "The webhook carries no signature (Authorization: Signature … or x-ms-signature).");
    const algorithm = headerValue(headers, "x-ms-signature-algorithm");
    if (algorithm && algorithm.toLowerCase() !== "rsa-sha256") throw new WebhookRefusedError("WEBHOOK_BAD_ALGORITHM", `Signature algorithm "${algorithm}" is not rsa-sha256.`);
    const certificateUrl = headerValue(headers, "x-ms-certificate-url");
    if (!certificateUrl) throw new WebhookRefusedError("WEBHOOK_UNSIGNED", "The webhook names no signing certificate (X-MS-Certificate-Url).");
    const url = this.#checkCertificateUrl(certificateUrl);
    const leaf = (await this.#chain(url))[0] as X509Certificate;
    let valid: boolean;
    try {
      valid = verifySignature("sha256", rawBody, leaf.publicKey, Buffer.from(signature, "base64"));
    } catch {
      valid = false;
    }
    if (!valid) throw new WebhookRefusedError("WEBHOOK_SIGNATURE_INVALID", "The signature does not match the body: the webhook was altered or not signed by Partner Center.");
    return parsePayload(rawBody);
  }

  #checkCertificateUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new WebhookRefusedError("WEBHOOK_CERT_HOST_NOT_ALLOWED", "The certificate URL is not a URL.");
    }
    const httpAllowed = this.#options.allowHttpCertificateUrl === true && (url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]");
    if (url.protocol !== "https:" && !(url.protocol === "http:" && httpAllowed)) {
      throw new WebhookRefusedError("WEBHOOK_CERT_HOST_NOT_ALLOWED", `The certificate URL must be https (got ${url.protocol}).`);
    }
    if (!this.#options.allowedCertificateHosts.some((pattern) => hostMatches(url.host, url.hostname, pattern))) {
      throw new WebhookRefusedError("WEBHOOK_CERT_HOST_NOT_ALLOWED", `The certificate host ${url.host} is not in the allow-list (partnerCenter.accounts.<name>.webhook.certificateHosts).`);
    }
    return url;
  }

  async #chain(url: URL): Promise<X509Certificate[]> {
    const now = this.#clock.now();
    const cached = this.#cache.get(url.href);
    let chain = cached && now.getTime() - cached.fetchedAt < (this.#options.cacheMs ?? 3_600_000) ? cached.chain : undefined;
    if (!chain) {
      let pem: string;
      try {
        pem = await (this.#options.fetchCertificate ?? defaultFetch)(url.href);
      } catch (error) {
        throw new WebhookRefusedError("WEBHOOK_CERT_UNAVAILABLE", `The signing certificate could not be downloaded: ${(error as Error).message}.`);
      }
      try {
        chain = splitPem(pem).map((part) => new X509Certificate(part));
      } catch {
        throw new WebhookRefusedError("WEBHOOK_CERT_INVALID", "The signing certificate is not a valid PEM certificate.");
      }
      if (chain.length === 0) throw new WebhookRefusedError("WEBHOOK_CERT_INVALID", "The certificate URL returned no certificate.");
      this.#validate(chain, now);
      this.#cache.set(url.href, { chain, fetchedAt: now.getTime() });
      return chain;
    }
    this.#validate(chain, now);
    return chain;
  }

  /** Every certificate in date, each issued and signed by the next, the last by a trusted anchor. */
  #validate(chain: X509Certificate[], now: Date): void {
    for (const cert of chain) {
      if (new Date(cert.validFrom) > now || new Date(cert.validTo) < now) {
        throw new WebhookRefusedError("WEBHOOK_CERT_INVALID", `The signing certificate "${cert.subject.replace(/\n/g, ", ")}" is not valid now (valid ${cert.validFrom} to ${cert.validTo}).`);
      }
    }
    for (let i = 0; i < chain.length - 1; i += 1) {
      const child = chain[i] as X509Certificate;
      const parent = chain[i + 1] as X509Certificate;
      if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) throw new WebhookRefusedError("WEBHOOK_CERT_INVALID", "The certificate chain is broken.");
    }
    const top = chain[chain.length - 1] as X509Certificate;
    const trusted = this.#anchors.some((anchor) => anchor.fingerprint256 === top.fingerprint256 || (top.checkIssued(anchor) && top.verify(anchor.publicKey)));
    if (!trusted) throw new WebhookRefusedError("WEBHOOK_CERT_INVALID", "The signing certificate is not issued by a trusted authority.");
  }
}

function hostMatches(hostWithPort: string, hostname: string, pattern: string): boolean {
  const p = pattern.toLowerCase();
  if (p.startsWith("*.")) return hostname.toLowerCase().endsWith(p.slice(1));
  return p === hostWithPort.toLowerCase() || p === hostname.toLowerCase();
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key ? headers[key] : undefined;
  return Array.isArray(value) ? value[0] : value;
}

function signatureOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const direct = headerValue(headers, "x-ms-signature");
  if (direct?.trim()) return direct.trim();
  const authorization = headerValue(headers, "authorization");
  const match = authorization ? /^Signature\s+(.+)$/i.exec(authorization.trim()) : null;
  return match?.[1];
}

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

async function defaultFetch(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.text();
}

function parsePayload(rawBody: Buffer): VerifiedWebhook {
  let body: { EventName?: unknown; ResourceUri?: unknown; ResourceChangeUtcDate?: unknown };
  try {
    body = JSON.parse(rawBody.toString("utf8")) as typeof body;
  } catch {
    throw new WebhookRefusedError("WEBHOOK_PAYLOAD_INVALID", "The webhook body is not JSON.");
  }
  if (typeof body.EventName !== "string" || typeof body.ResourceUri !== "string") {
    throw new WebhookRefusedError("WEBHOOK_PAYLOAD_INVALID", "The webhook body lacks EventName or ResourceUri.");
  }
  const referralId = decodeURIComponent(body.ResourceUri.replace(/\/+$/, "").split("/").pop() ?? "");
  if (!referralId) throw new WebhookRefusedError("WEBHOOK_PAYLOAD_INVALID", "ResourceUri names no referral.");
  const changedAt = typeof body.ResourceChangeUtcDate === "string" ? new Date(body.ResourceChangeUtcDate) : undefined;
  return { event: body.EventName, resourceUri: body.ResourceUri, referralId, ...(changedAt && !Number.isNaN(changedAt.getTime()) ? { changedAt } : {}) };
}
