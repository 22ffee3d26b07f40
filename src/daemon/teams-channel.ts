import type { Config } from "../config/index.js";
import type { Logger } from "../log/logger.js";
import { TeamsWorkflow } from "../notify/teams-workflow.js";
import { TeamsWorkflowSandbox } from "../sandbox/teams/server.js";
import type { Clock } from "../shared/clock.js";

export interface OpenedTeams {
  teams: TeamsWorkflow;
  timeZone: string;
  /** The in-process workflow behind `mode: sandbox`: its channel holds what was posted. */
  sandbox?: TeamsWorkflowSandbox;
  close(): Promise<void>;
}

type TeamsConfig = NonNullable<Config["notify"]["teams"]>;

/** The Teams reminder channel the config describes; `mode: sandbox` runs a Workflows sandbox in-process. */
export async function openTeams(config: TeamsConfig, options: { logger: Logger; clock: Clock }): Promise<OpenedTeams> {
  if (config.mode === "sandbox") {
    const sandbox = await TeamsWorkflowSandbox.start({ clock: options.clock });
    return { teams: new TeamsWorkflow({ webhookUrl: sandbox.webhookUrl, logger: options.logger }), timeZone: config.timeZone, sandbox, close: () => sandbox.close() };
  }
  return { teams: new TeamsWorkflow({ webhookUrl: config.webhookUrl, logger: options.logger }), timeZone: config.timeZone, close: async () => undefined };
}
