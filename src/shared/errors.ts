/**
 * The one error type of cosell-sync. Every failure a user, an admin or the queue can meet carries a
 * stable `code` (scripts and the failure index key on it), a `retryable` flag (the outbox decides
 * between backoff and the failure index with it) and a message that says what to do next.
 */
export interface CosellErrorOptions {
  retryable?: boolean;
  /** Structured facts for logs and `--json` output; never secrets. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class CosellError extends Error {
  override readonly name = "CosellError";
  readonly code: string;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: CosellErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, retryable: this.retryable, ...this.details };
  }
}

export function isCosellError(value: unknown, code?: string): value is CosellError {
  return value instanceof CosellError && (code === undefined || value.code === code);
}

/** Wraps anything thrown into a CosellError so callers deal with one shape. */
export function toCosellError(value: unknown, fallbackCode = "INTERNAL_ERROR"): CosellError {
  if (value instanceof CosellError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new CosellError(fallbackCode, message, { cause: value });
}
