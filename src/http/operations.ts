/**
 * What GET /health and GET /ready answer, made in one place for both ways a request reaches them: a
 * listening server's own router (http/app.ts, with no framework in between, since probes come often)
 * and the app (app.handle, and the OpenAPI document).
 */
import type { Database } from '../db/database.ts'
import type { Logger } from '../log/logger.ts'
import { VERSION } from '../version.ts'

/** As the app's JSON answers are typed. */
const JSON_TYPE = 'application/json;charset=utf-8'
const HEALTHY = JSON.stringify({ status: 'ok', version: VERSION })
const READY = JSON.stringify({ status: 'ready' })
const NOT_READY = JSON.stringify({ error: 'not_ready', detail: 'the database does not answer' })

/** Liveness: the process answers. `headers` are added (the request id). */
export function health(headers: Record<string, string> = {}): Response {
  return new Response(HEALTHY, { headers: { 'content-type': JSON_TYPE, ...headers } })
}

/** Readiness: the database answers; else 503. */
export async function readiness(database: Database, log: Logger, headers: Record<string, string> = {}): Promise<Response> {
  try {
    await database.ping()
    return new Response(READY, { headers: { 'content-type': JSON_TYPE, ...headers } })
  } catch (err) {
    log.warn({ err }, 'readiness check failed')
    return new Response(NOT_READY, { status: 503, headers: { 'content-type': JSON_TYPE, ...headers } })
  }
}
