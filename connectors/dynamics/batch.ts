/**
 * OData `$batch` bodies as Dataverse speaks them: multipart/mixed, each part an embedded HTTP
 * request or response (`Content-Type: application/http`, binary transfer encoding). Used by the
 * connector to write and read batches, and by the sandbox to read and answer them.
 */
export interface BatchPart {
  method?: string;
  url?: string;
  status?: number;
  headers: Record<string, string>;
  body?: string;
  /** A change set: these parts succeed or fail together. */
  changeset?: BatchPart[];
}

export function encodeBatch(boundary: string, parts: BatchPart[], kind: "request" | "response"): string {
  const lines: string[] = [];
  for (const part of parts) {
    if (part.changeset) {
      const inner = `changeset_${boundary.replace(/^[a-z]+_/, "")}_${parts.indexOf(part)}`;
      lines.push(`--${boundary}`, `Content-Type: multipart/mixed; boundary=${inner}`, "", encodeBatch(inner, part.changeset, kind).replace(/\r\n$/, ""));
      continue;
    }
    lines.push(`--${boundary}`, "Content-Type: application/http", "Content-Transfer-Encoding: binary", "");
    lines.push(kind === "request" ? `${part.method} ${part.url} HTTP/1.1` : `HTTP/1.1 ${part.status} ${reason(part.status ?? 200)}`);
    for (const [name, value] of Object.entries(part.headers)) lines.push(`${name}: ${value}`);
    lines.push("", part.body ?? "");
  }
  lines.push(`--${boundary}--`, "");
  return lines.join("\r\n");
}

export function boundaryOf(contentType: string | undefined): string | undefined {
  return /boundary=("?)([^";]+)\1/i.exec(contentType ?? "")?.[2];
}

/** Splits a batch body into its embedded requests or responses. */
export function decodeBatch(body: string, boundary: string): BatchPart[] {
  const parts: BatchPart[] = [];
  const sections = body.split(`--${boundary}`);
  for (const raw of sections.slice(1)) {
    if (raw.startsWith("--")) break;
    const section = raw.replace(/^\r?\n/, "");
    // Part headers, a blank line, then the embedded HTTP message (or a nested change set).
    const [partHead = "", ...restOfPart] = section.split(/\r?\n\r?\n/);
    const message = restOfPart.join("\r\n\r\n");
    const nested = boundaryOf(/content-type:\s*(multipart\/mixed[^\r\n]*)/i.exec(partHead)?.[1]);
    if (nested) {
      parts.push({ headers: {}, changeset: decodeBatch(message, nested) });
      continue;
    }
    const [head = "", ...bodyParts] = message.split(/\r?\n\r?\n/);
    const [startLine = "", ...headerLines] = head.split(/\r?\n/);
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const text = bodyParts.join("\r\n\r\n").replace(/\r?\n$/, "");
    const response = /^HTTP\/1\.1 (\d{3})/.exec(startLine);
    const request = /^(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP\/1\.1/.exec(startLine);
    if (response) parts.push({ status: Number(response[1]), headers, ...(text ? { body: text } : {}) });
    else if (request) parts.push({ method: request[1] as string, url: request[2] as string, headers, ...(text ? { body: text } : {}) });
  }
  return parts;
}

function reason(status: number): string {
  return ({ 200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found", 412: "Precondition Failed", 429: "Too Many Requests" } as Record<number, string>)[status] ?? "Status";
}
