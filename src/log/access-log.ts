/**
 * The access log: a line per answered request, in the shape of the other log lines (pino's JSON, or
 * the pretty format's), at level info. It is written apart from the logger because it is on every
 * request's path: pino would build an object, serialize it and make a write(2) per line, about a fifth
 * of what GET /health cost under load. Here each line is one template string, and the lines of one
 * turn of the event loop are written together at its end (so a quiet server writes each line at once,
 * and a busy one a few writes a turn, never a line per request); what is pending is written before the
 * process exits.
 *
 * `logging.access` says which requests get a line (all, only those answered 4xx or 5xx, none), and
 * `logging.access_sample` keeps one line in N of the others (errors are never sampled away).
 */
import type { DestinationStream } from 'pino'
import type { Config } from '../config/schema.ts'
import { logDestination } from './logger.ts'

export interface AccessEntry {
  requestId: string
  method: string
  /** The route's pattern (`/api/partners/:id`), never the raw path. */
  route: string
  status: number
  ms: number
  ip: string | undefined
}

export interface AccessLog {
  /** Whether a request answered with this status gets a line (counts the sample as it answers). */
  wants(status: number): boolean
  write(entry: AccessEntry): void
}

/** pino's number for level info. */
const INFO = 30
/** Past this many characters pending, they are written at once rather than at the end of the turn. */
const FLUSH_AT = 64 * 1024

/** The access log the settings ask for, or undefined when they turn it off. */
export function createAccessLog(settings: Config['logging'], destination?: DestinationStream): AccessLog | undefined {
  const levelShown = ['trace', 'debug', 'info'].includes(settings.level)
  if (!levelShown || settings.access === 'none') return undefined
  const out = destination ?? logDestination(settings)
  const errorsOnly = settings.access === 'errors'
  const every = settings.access_sample
  let seen = 0

  let pending = ''
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (!pending) return
    const text = pending
    pending = ''
    out.write(text)
  }
  process.once('exit', flush)

  return {
    wants(status) {
      if (status >= 400) return true
      if (errorsOnly) return false
      return seen++ % every === 0
    },
    write({ requestId, method, route, status, ms, ip }) {
      // requestId is a ULID or a client's id that passed REQUEST_ID (http/app.ts); the rest is quoted.
      pending += `{"level":${INFO},"time":${Date.now()},"requestId":"${requestId}","method":${JSON.stringify(method)},"route":${JSON.stringify(route)},"status":${status},"ms":${ms}${ip === undefined ? '' : `,"ip":${JSON.stringify(ip)}`},"msg":"request"}\n`
      if (pending.length >= FLUSH_AT) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
  }
}
