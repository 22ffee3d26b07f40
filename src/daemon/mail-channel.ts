import { ClientCredentialsTokenProvider } from "../auth/msal-token-provider.js";
import { createNetworkClient } from "../auth/network-client.js";
import type { Config } from "../config/index.js";
import type { Logger } from "../log/logger.js";
import { GraphMail } from "../notify/graph-mail.js";
import { GRAPH_AUDIENCE, GraphSandbox } from "../sandbox/graph/server.js";
import type { Clock } from "../shared/clock.js";
import { readCaFile } from "./partner-center-access.js";

export interface OpenedMail {
  mail: GraphMail;
  /** The in-process Graph behind `auth.mode: sandbox`: its mailbox holds what was sent. */
  sandbox?: GraphSandbox;
  close(): Promise<void>;
}

type MailConfig = NonNullable<Config["notify"]["mail"]>;

/** The reminder mail channel the config describes; `mode: sandbox` runs a Graph sandbox in-process. */
export async function openMail(config: MailConfig, options: { logger: Logger; clock: Clock; cwd: string }): Promise<OpenedMail> {
  const scopes = [`${GRAPH_AUDIENCE}/.default`];
  if (config.auth.mode === "sandbox") {
    const sandbox = await GraphSandbox.start({ clock: options.clock, mailboxes: { [config.sender]: "UTC" } });
    const tokens = new ClientCredentialsTokenProvider(
      { tenantId: sandbox.app.tenantId, clientId: sandbox.app.clientId, clientSecret: sandbox.app.clientSecret, authority: sandbox.entra.url },
      { scopes, logger: options.logger, networkClient: createNetworkClient({ ca: sandbox.entra.caPem }) },
    );
    return { mail: new GraphMail({ sender: config.sender, tokens, logger: options.logger, baseUrl: sandbox.baseUrl }), sandbox, close: () => sandbox.close() };
  }
  const auth = config.auth;
  const ca = auth.caFile ? createNetworkClient({ ca: readCaFile(auth.caFile, options.cwd, "notify.mail.auth.caFile") }) : undefined;
  const tokens = new ClientCredentialsTokenProvider({ tenantId: auth.tenantId, clientId: auth.clientId, clientSecret: auth.clientSecret, authority: auth.authority }, { scopes, logger: options.logger, ...(ca ? { networkClient: ca } : {}) });
  return { mail: new GraphMail({ sender: config.sender, tokens, logger: options.logger, baseUrl: config.baseUrl }), close: async () => undefined };
}
