import type { OutboxJob } from "../store/index.js";
import type { RateInfo } from "./pacer.js";
import type { BatchResult, JobHandler, JobOutcome } from "./types.js";

/**
 * A job's outcome, how many requests it took when more than one, and what it records once the
 * batch settles (see BatchResult.commit).
 */
export type CountedOutcome = JobOutcome & { requests?: number; commit?: NonNullable<BatchResult["commit"]> };

/**
 * A handler for targets that take a request or a few per job (Partner Center patches, mail, CRM
 * tasks): runs the batch's jobs in turn, and a job that throws fails alone. `rate` reads what the
 * target last said about its limits, for the pacer.
 */
/**
 * Jobs one batch of them takes: each is paced call by call, so a batch of a CRM's full batch size
 * (200 tasks, 600 calls) would run half a minute with all of them leased.
 */
export const PER_JOB_BATCH = 10;

export function perJob(run: (job: OutboxJob) => Promise<CountedOutcome>, options: { rate?: (job: OutboxJob) => RateInfo | undefined } = {}): JobHandler {
  return {
    maxJobs: PER_JOB_BATCH,
    async handle(jobs) {
      const outcomes: JobOutcome[] = [];
      const commits: Array<NonNullable<BatchResult["commit"]>> = [];
      let requests = 0;
      for (const job of jobs) {
        try {
          const { requests: made, commit, ...outcome } = await run(job);
          outcomes.push(outcome as JobOutcome);
          if (commit) commits.push(commit);
          requests += made ?? 1;
        } catch (error) {
          outcomes.push({ ok: false, error });
          requests += 1;
        }
      }
      const rate = jobs[0] ? options.rate?.(jobs[0]) : undefined;
      const commit: BatchResult["commit"] = commits.length === 0 ? undefined : async (repos) => {
        for (const each of commits) await each(repos);
      };
      return { outcomes, requests, ...(rate ? { rate } : {}), ...(commit ? { commit } : {}) };
    },
  };
}
