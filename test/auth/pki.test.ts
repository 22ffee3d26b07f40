import { X509Certificate } from "node:crypto";
import { expect, it } from "vitest";
import { createSandboxPki, serial } from "../../src/auth/sandbox/pki.js";

it("makes serials OpenSSL reads: positive, no leading zero byte (DER's fewest bytes)", () => {
  for (let n = 0; n < 10_000; n += 1) {
    const first = Number.parseInt(serial().slice(0, 2), 16);
    expect(first).toBeGreaterThanOrEqual(0x40);
    expect(first).toBeLessThan(0x80);
  }
});

it("issues a server certificate Node's own X.509 parser accepts, signed by the sandbox CA", () => {
  const pki = createSandboxPki();
  const issued = pki.issue({ commonName: "127.0.0.1", altNames: ["127.0.0.1", "localhost"] });
  const cert = new X509Certificate(issued.certPem);
  expect(cert.verify(new X509Certificate(pki.ca.certPem).publicKey)).toBe(true);
  expect(cert.subjectAltName).toContain("DNS:localhost");
});
