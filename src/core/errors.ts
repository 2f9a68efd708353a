/**
 * One error type for the whole product. Errors are values with a stable `code`; the HTTP layer maps
 * codes to statuses, and messages are written for the person who will read them (never a secret).
 */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'expired'
  | 'invalid_plan'
  | 'upstream'
  | 'upstream_retryable'
  | 'config'
  | 'internal';

const httpStatusByCode: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  expired: 409,
  invalid_plan: 422,
  upstream: 502,
  upstream_retryable: 503,
  config: 500,
  internal: 500,
};

export class DeskhandError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** For upstream errors: the server asked us to wait this long before trying again. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeskhandError';
    this.code = code;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  get httpStatus(): number {
    return httpStatusByCode[this.code];
  }

  get retryable(): boolean {
    return this.code === 'upstream_retryable';
  }
}

export function isDeskhandError(value: unknown): value is DeskhandError {
  return value instanceof DeskhandError;
}

/** A message safe to record or show: DeskhandError messages are written to be safe; others are summarised. */
export function describeError(error: unknown): string {
  if (error instanceof DeskhandError) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * A read or write tool the policies disable was asked for: it is not called (DESIGN rule 3). The
 * diagnosis says what could not be checked; a request that needed it escalates.
 */
export class ToolDisabledError extends DeskhandError {
  constructor(readonly tool: string) {
    super('forbidden', `${tool} is disabled by the tool policies for this client, so it was not called`, { details: { tool } });
    this.name = 'ToolDisabledError';
  }
}

export function isToolDisabled(error: unknown): error is ToolDisabledError {
  return error instanceof ToolDisabledError;
}
