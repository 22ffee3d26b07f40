/**
 * The `{"error": {"code", "message"}}` envelope Microsoft services answer errors in (Dataverse,
 * Graph, Logic Apps): its code and message, or the text itself when the body is not one.
 */
export function readErrorEnvelope(text: string): { code: string; message: string } {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return { code: body.error?.code ?? "", message: body.error?.message ?? text.slice(0, 300) };
  } catch {
    return { code: "", message: text.slice(0, 300) };
  }
}

/** An HTTP refusal a sandbox answers with: status, the service's own error code, extra headers. */
export class ServiceHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
