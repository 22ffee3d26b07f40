import { describe, expect, it } from "vitest";
import { componentLogger, REDACTED } from "../../src/log/logger.js";
import { CosellError } from "../../src/shared/errors.js";
import { captureLogger } from "../helpers/log-capture.js";

describe("logger", () => {
  it("writes JSON lines with component, pair, lead and job fields", () => {
    const { logger, lines } = captureLogger();
    componentLogger(logger, "outbox", { pair: "acme-sf", leadId: "ref-1", job: 42 }).info("leased");
    expect(lines()[0]).toMatchObject({ level: "info", component: "outbox", pair: "acme-sf", leadId: "ref-1", job: 42, msg: "leased" });
    expect(typeof lines()[0]?.time).toBe("string");
  });

  it("redacts secrets at every depth the daemon logs them", () => {
    const { logger, text } = captureLogger();
    logger.info(
      {
        clientSecret: "s-top",
        auth: { refreshToken: "s-nested", mode: "delegated" },
        crms: { sf: { auth: { accessToken: "s-deep" } } },
        req: { headers: { authorization: "Bearer s-header", "content-type": "application/json" } },
        token: "s-token",
      },
      "config",
    );
    const out = text();
    for (const secret of ["s-top", "s-nested", "s-deep", "s-header", "s-token"]) expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
    expect(out).toContain("delegated");
    expect(out).toContain("application/json");
  });

  it("serialises a CosellError with its code and retryable flag", () => {
    const { logger, lines } = captureLogger();
    logger.error({ err: new CosellError("PC_THROTTLED", "Slow down", { retryable: true }) }, "push failed");
    expect(lines()[0]?.err).toMatchObject({ code: "PC_THROTTLED", retryable: true, message: "Slow down" });
  });
});
