import { createServer } from "node:http";
import { expect, it } from "vitest";
import { closeServer, listenLocal } from "../../src/shared/local-server.js";

it("a port already taken rejects with EADDRINUSE instead of hanging; a free port gives the URL", async () => {
  const first = createServer();
  const url = await listenLocal(first, { host: "127.0.0.1" });
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const second = createServer();
  await expect(listenLocal(second, { host: "127.0.0.1", port: Number(new URL(url).port) })).rejects.toMatchObject({ code: "EADDRINUSE" });
  await closeServer(first);
  await closeServer(undefined);
  expect(first.listening).toBe(false);
});
