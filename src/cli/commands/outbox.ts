import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { CosellError } from "../../shared/errors.js";
import type { JobState, OutboxJob } from "../../store/index.js";
import type { CliIo } from "../io.js";
import { withStore } from "../store-access.js";
import { printJson } from "../io.js";
import type { ConfigOptions, JsonOptions } from "../options.js";
import { withConfigOption, withJsonOption } from "../options.js";

const STATES: JobState[] = ["pending", "running", "done", "dead", "dropped", "superseded"];

function jobId(value: string): number {
  const id = Number(value);
  if (!Number.isInteger(id) || id < 1) throw new InvalidArgumentError("a job id is a positive whole number");
  return id;
}

function line(job: OutboxJob): string {
  const error = job.lastErrorCode ? ` ${job.lastErrorCode}` : "";
  const due = job.dueBy ? ` due-by ${job.dueBy.toISOString()}` : "";
  return `${String(job.id).padStart(6)}  ${job.state.padEnd(10)} ${job.target.padEnd(22)} ${job.kind.padEnd(18)} attempts ${job.attempts}/${job.maxAttempts}${error}${due}`;
}

function notFound(id: number, what: string): CosellError {
  return new CosellError("OUTBOX_JOB_NOT_FOUND", `Job ${id} does not exist or is not ${what}; see \`cosell-sync outbox list\`.`);
}

export function registerOutboxCommands(program: Command, io: CliIo): void {
  const outbox = program.command("outbox").description("inspect the outbox and its failure index (dead jobs), and redrive them");

  const list = outbox
    .command("list")
    .description("list jobs; by default the failure index (dead jobs)")
    .option("--state <state>", `one of ${STATES.join(", ")}`, "dead")
    .option("--target <target>", "only this target, e.g. partner-center or crm:<name>")
    .option("--code <code>", "only jobs whose last error has this code")
    .option("--limit <n>", "at most this many", jobId, 100);
  withJsonOption(withConfigOption(list)).action(async (options: ConfigOptions & JsonOptions & { state: string; target?: string; code?: string; limit: number }) => {
    if (!STATES.includes(options.state as JobState)) throw new CosellError("CLI_USAGE", `--state must be one of ${STATES.join(", ")}.`);
    const jobs = await withStore(options, io, (store) =>
      store.repos.outbox.list({ state: options.state as JobState, ...(options.target ? { target: options.target } : {}), ...(options.code ? { code: options.code } : {}), limit: options.limit }),
    );
    if (options.json) return printJson(io, { ok: true, jobs });
    if (jobs.length === 0) io.stdout.write(`No ${options.state} jobs.\n`);
    for (const job of jobs) io.stdout.write(`${line(job)}\n`);
  });

  const show = outbox.command("show").description("show one job with its payload and last error").argument("<id>", "job id", jobId);
  withJsonOption(withConfigOption(show)).action(async (id: number, options: ConfigOptions & JsonOptions) => {
    const job = await withStore(options, io, (store) => store.repos.outbox.get(id));
    if (!job) throw notFound(id, "known");
    if (options.json) return printJson(io, { ok: true, job });
    io.stdout.write(`${line(job)}\n`);
    if (job.leadId !== undefined) io.stdout.write(`  lead: ${job.leadId}${job.pair ? ` (pair ${job.pair})` : ""}\n`);
    if (job.lastErrorMessage) io.stdout.write(`  last error: ${job.lastErrorMessage}\n  first failed ${job.firstFailedAt?.toISOString()}, last ${job.lastFailedAt?.toISOString()}\n`);
    if (job.escalatedAt) io.stdout.write(`  escalated ${job.escalatedAt.toISOString()}\n`);
    io.stdout.write(`  payload: ${JSON.stringify(job.payload)}\n`);
  });

  const stats = outbox.command("stats").description("jobs by state and target, oldest due job, dead jobs by code");
  withJsonOption(withConfigOption(stats)).action(async (options: ConfigOptions & JsonOptions) => {
    const result = await withStore(options, io, (store) => store.repos.outbox.stats(new Date()));
    if (options.json) return printJson(io, { ok: true, ...result });
    for (const [state, targets] of Object.entries(result.byState)) {
      for (const [target, count] of Object.entries(targets)) io.stdout.write(`${state.padEnd(11)} ${target.padEnd(24)} ${count}\n`);
    }
    io.stdout.write(`oldest due job: ${Math.round(result.oldestDueAgeMs / 1000)} s; retrying: ${result.retrying}\n`);
    for (const [code, count] of Object.entries(result.deadByCode)) io.stdout.write(`dead ${code}: ${count}\n`);
  });

  const retry = outbox.command("retry").description("put a dead or dropped job back in the queue, due now").argument("<id>", "job id", jobId);
  withJsonOption(withConfigOption(retry)).action(async (id: number, options: ConfigOptions & JsonOptions) => {
    const changed = await withStore(options, io, (store) => store.repos.outbox.retry(id, new Date()));
    if (!changed) throw notFound(id, "dead or dropped");
    if (options.json) return printJson(io, { ok: true, id, state: "pending" });
    io.stdout.write(`Job ${id} is due again.\n`);
  });

  const drop = outbox.command("drop").description("give up on a pending or dead job (kept for the record)").argument("<id>", "job id", jobId);
  withJsonOption(withConfigOption(drop)).action(async (id: number, options: ConfigOptions & JsonOptions) => {
    const changed = await withStore(options, io, (store) => store.repos.outbox.drop(id, new Date()));
    if (!changed) throw notFound(id, "pending or dead");
    if (options.json) return printJson(io, { ok: true, id, state: "dropped" });
    io.stdout.write(`Job ${id} dropped.\n`);
  });

  const redrive = outbox.command("redrive").description("put every dead job with one error code back in the queue").requiredOption("--code <code>", "the error code, as `outbox list` shows it");
  withJsonOption(withConfigOption(redrive)).action(async (options: ConfigOptions & JsonOptions & { code: string }) => {
    const count = await withStore(options, io, (store) => store.repos.outbox.redrive(options.code, new Date()));
    if (options.json) return printJson(io, { ok: true, code: options.code, redriven: count });
    io.stdout.write(`${count} dead job(s) with ${options.code} are due again.\n`);
  });
}
