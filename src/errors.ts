/**
 * The one error type of partnerd. Anything that should reach a client as `{error, detail}` throws an
 * AppError; src/http/errors.ts maps it (and Elysia's own errors) to a response in one place. Anything
 * else that escapes is a bug: it is logged and answered as a bare 500 with no internals.
 */
export class AppError extends Error {
  constructor(
    /** HTTP status the error maps to. */
    readonly status: number,
    /** Stable machine-readable code, part of the API contract. */
    readonly code: string,
    /** Human-readable explanation; never holds secrets, SQL or stack traces. */
    readonly detail?: string,
    /** Extra response headers, e.g. WWW-Authenticate or Retry-After. */
    readonly headers?: Record<string, string>,
    /** Extra machine-readable fields of the body, e.g. `matureAt` beside `holdback_active`. */
    readonly fields?: Record<string, unknown>,
  ) {
    super(detail ? `${code}: ${detail}` : code)
    this.name = 'AppError'
  }
}

/** A start-up problem (config, database, plugin): printed as one line, exit code 1. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StartupError'
  }
}
