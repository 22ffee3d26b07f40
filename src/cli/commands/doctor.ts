import type { Command } from "commander";
import { loadConfig } from "../../config/index.js";
import { runDoctor } from "../../daemon/doctor.js";
import { createLogger } from "../../log/logger.js";
import { CosellError } from "../../shared/errors.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";

export function registerDoctor(program: Command, io: CliIo): void {
  const doctor = program
    .command("doctor")
    .description("check a deployment end to end without changing anything: config, store, a token and a read for every system, CRM schema, webhook registration, clock")
    .addHelpText("after", "\nExit codes: 0 ready, 1 something needs fixing (listed with what to do), 78 bad config, 69 store unreachable is reported as a failed check.");
  withJsonOption(withConfigOption(doctor)).action(async (options: ConfigOptions & JsonOptions) => {
    const { config, file } = await loadConfig(options.config, { env: io.env, cwd: io.cwd });
    const logger = createLogger({ level: "error", pretty: "never", destination: io.stderr as never });
    const report = await runDoctor(config, { logger, cwd: io.cwd });
    const checks = [{ name: "config", ok: true, detail: `${file} is valid` }, ...report.checks];
    if (options.json) printJson(io, { ok: report.ok, checks });
    else {
      for (const check of checks) {
        const [first, ...rest] = check.detail.split("\n");
        io.stdout.write(`${check.ok ? "✓" : "✗"} ${check.name}: ${first ?? ""}\n`);
        for (const line of rest) io.stdout.write(`    ${line}\n`);
        if (!check.ok && "fix" in check && check.fix) io.stdout.write(`    → ${String(check.fix)}\n`);
      }
      const failed = checks.filter((c) => !c.ok).length;
      io.stdout.write(failed === 0 ? "Ready: every check passed.\n" : `Not ready: ${failed} check(s) failed.\n`);
    }
    if (!report.ok) throw Object.assign(new CosellError("DOCTOR_NOT_READY", "Some checks failed; see the report."), { alreadyReported: true });
  });
}
