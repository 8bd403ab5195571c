/**
 * Every error leaves as `{error, detail}`, mapped here and nowhere else: AppError as it says, Elysia's
 * parse/validation/not-found errors to stable codes naming the offending field, anything else as a
 * bare 500 (logged with the request id, never shown: no stack, no SQL).
 */
import type { ValidationError } from 'elysia'
import { isBusy, isNulRefusal, isTransientConflict } from '../db/errors.ts'
import { AppError } from '../errors.ts'
import type { Logger } from '../log/logger.ts'

export interface ErrorBody {
  error: string
  detail?: string
}

interface ErrorContext {
  code: string | number
  error: unknown
  set: { status?: number | string; headers: Record<string, string | number> }
  request: Request
}

export function errorMapper(log: Logger, requestIdOf: (r: Request) => string | undefined) {
  return ({ code, error, set, request }: ErrorContext): ErrorBody => {
    if (error instanceof AppError) {
      set.status = error.status
      Object.assign(set.headers, error.headers ?? {})
      return { ...error.fields, error: error.code, ...(error.detail ? { detail: error.detail } : {}) }
    }
    switch (code) {
      case 'NOT_FOUND':
        set.status = 404
        return { error: 'not_found', detail: `no route ${request.method} ${new URL(request.url).pathname}` }
      case 'PARSE':
        set.status = 400
        return { error: 'malformed_body', detail: 'the body is not valid JSON (or not of the declared content type)' }
      case 'VALIDATION':
        set.status = 400
        return { error: 'invalid_request', detail: describeValidation(error as ValidationError) }
    }
    if (isNulRefusal(error)) {
      set.status = 400
      return { error: 'invalid_request', detail: 'text may not contain the NUL character (\\u0000)' }
    }
    if (isBusy(error)) {
      // Another process (the CLI, a second server) held the SQLite file's write lock past busy_timeout_ms.
      set.status = 503
      set.headers['retry-after'] = 1
      log.warn({ requestId: requestIdOf(request) }, 'the database stayed locked past database.sqlite.busy_timeout_ms')
      return { error: 'database_busy', detail: 'the database is busy with another writer; try again' }
    }
    if (isTransientConflict(error)) {
      // PostgreSQL aborted the transaction for a concurrent one's sake (deadlock, serialization), and
      // withTenant ran it again, CONFLICT_RETRIES times, losing each time. Nothing was written.
      set.status = 503
      set.headers['retry-after'] = 1
      log.warn({ requestId: requestIdOf(request), code: (error as { code: string }).code }, 'a transaction kept losing to concurrent ones')
      return { error: 'database_conflict', detail: 'the change collided with concurrent changes, and nothing was written; try again' }
    }
    set.status = 500
    log.error({ err: error, requestId: requestIdOf(request), code }, 'unhandled error')
    return { error: 'internal_error', detail: `something went wrong; quote request id ${requestIdOf(request) ?? '-'}` }
  }
}

/** `body.scopes.0: Expected union value`: where, then what. */
function describeValidation(error: ValidationError): string {
  const first = error.all?.[0] as
    | { path?: string; message?: string; summary?: string; schema?: { enum?: unknown[]; anyOf?: { const?: unknown }[] } }
    | undefined
  const where = [error.type, ...(first?.path ?? '').split('/').filter(Boolean)].join('.')
  const literals = first?.schema?.anyOf?.map((s) => s.const)
  const choices = first?.schema?.enum ?? (literals?.every((c) => c !== undefined) ? literals : undefined)
  const what = choices ? `must be one of ${choices.join(', ')}` : (first?.summary ?? first?.message ?? 'invalid value')
  return `${where}: ${what}`
}
