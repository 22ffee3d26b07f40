import type { OutboxJob } from "../store/index.js";
import type { JobHandler, JobOutcome } from "./types.js";

/**
 * A handler for targets that take one request per job (Partner Center patches, mail): runs the
 * batch's jobs in turn, and a job that throws fails alone.
 */
export function perJob(run: (job: OutboxJob) => Promise<JobOutcome>): JobHandler {
  return {
    async handle(jobs) {
      const outcomes: JobOutcome[] = [];
      for (const job of jobs) {
        try {
          outcomes.push(await run(job));
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
      return { outcomes };
    },
  };
}
