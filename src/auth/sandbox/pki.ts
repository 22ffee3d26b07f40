import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

/**
 * A private certificate authority for the sandboxes: TLS for the sandbox login endpoint (msal only
 * talks https) and the certificate Partner Center's sandbox signs webhooks with. Node's crypto
 * makes the keys (fast, native); node-forge writes the X.509 certificates, which Node cannot.
 */
export interface IssuedCertificate {
  keyPem: string;
  certPem: string;
}

export interface SandboxPki {
  ca: IssuedCertificate;
  issue(options: IssueOptions): IssuedCertificate;
}

export interface IssueOptions {
  commonName: string;
  /** DNS names and IP addresses for a TLS server certificate. */
  altNames?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Sign with another CA than this one (to make an untrusted certificate in tests). */
  issuer?: IssuedCertificate;
}

const YEAR_MS = 365 * 24 * 60 * 60 * 1000;

function rsaKeys(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/**
 * A certificate serial: 16 random bytes, positive, its first byte never zero. DER wants an INTEGER
 * in its fewest bytes, and a leading zero before a byte under 0x80 is one too many: OpenSSL refused
 * such a certificate ("illegal padding") once in 256.
 */
export function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString("hex");
}

export function createCertificateAuthority(commonName = "cosell-sync sandbox CA"): IssuedCertificate {
  const keys = rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.UTC(2020, 0, 1));
  cert.validity.notAfter = new Date(Date.now() + 20 * YEAR_MS);
  const name = [{ name: "commonName", value: commonName }, { name: "organizationName", value: "cosell-sync sandbox" }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { keyPem: keys.privateKeyPem, certPem: forge.pki.certificateToPem(cert) };
}

export function issueCertificate(ca: IssuedCertificate, options: IssueOptions): IssuedCertificate {
  const issuer = options.issuer ?? ca;
  const issuerCert = forge.pki.certificateFromPem(issuer.certPem);
  const keys = rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = options.notBefore ?? new Date(Date.UTC(2020, 0, 1));
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 10 * YEAR_MS);
  cert.setSubject([{ name: "commonName", value: options.commonName }, { name: "organizationName", value: "cosell-sync sandbox" }]);
  cert.setIssuer(issuerCert.subject.attributes);
  const altNames = (options.altNames ?? []).map((value) => (/^[\d.]+$|:/.test(value) ? { type: 7, ip: value } : { type: 2, value }));
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: altNames.length > 0, codeSigning: altNames.length === 0 },
    ...(altNames.length > 0 ? [{ name: "subjectAltName", altNames }] : []),
  ]);
  cert.sign(forge.pki.privateKeyFromPem(issuer.keyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { keyPem: keys.privateKeyPem, certPem: forge.pki.certificateToPem(cert) };
}

export function createSandboxPki(): SandboxPki {
  const ca = createCertificateAuthority();
  return { ca, issue: (options) => issueCertificate(ca, options) };
}
