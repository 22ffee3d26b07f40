import { request } from "node:https";
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from "@azure/msal-node";

/**
 * An msal network module over node:https that can trust an extra CA. msal's own client trusts only
 * the system roots, and its authority must be https, so the sandbox login endpoint (signed by the
 * sandbox CA) needs this. Production uses msal's default client.
 */
export function createNetworkClient(options: { ca?: string; timeoutMs?: number } = {}): INetworkModule {
  const send = <T>(method: "GET" | "POST", url: string, requestOptions?: NetworkRequestOptions, timeout?: number) =>
    new Promise<NetworkResponse<T>>((resolve, reject) => {
      const body = requestOptions?.body;
      const req = request(
        url,
        {
          method,
          headers: { ...(requestOptions?.headers ?? {}), ...(body === undefined ? {} : { "Content-Length": Buffer.byteLength(body).toString() }) },
          ...(options.ca ? { ca: options.ca } : {}),
          timeout: timeout ?? options.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              parsed = { error: "invalid_response", error_description: text.slice(0, 200) };
            }
            const headers: Record<string, string> = {};
            for (const [key, value] of Object.entries(res.headers)) if (typeof value === "string") headers[key.toLowerCase()] = value;
            resolve({ headers, body: parsed as T, status: res.statusCode ?? 0 });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`request to ${new URL(url).host} timed out`)));
      req.on("error", reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  return {
    sendGetRequestAsync: (url, requestOptions, timeout) => send("GET", url, requestOptions, timeout),
    sendPostRequestAsync: (url, requestOptions) => send("POST", url, requestOptions),
  };
}
