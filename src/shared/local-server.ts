import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Listens and resolves with the base URL; a port already taken rejects instead of leaving the
 * caller waiting forever. Port 0 picks a free one.
 */
export function listenLocal(server: Server, options: { host: string; port?: number; scheme?: "http" | "https" }): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host, () => {
      server.off("error", reject);
      resolve(`${options.scheme ?? "http"}://${options.host}:${(server.address() as AddressInfo).port}`);
    });
  });
}

/** Closes the server now, dropping kept-alive connections rather than waiting for clients to hang up. */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
