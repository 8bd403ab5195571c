/**
 * Structured logging through pino: one JSON object per line (or readable lines with format `pretty`),
 * with credentials redacted wherever a request's headers are logged.
 */
import pino, { type DestinationStream, type Logger } from 'pino'
import type { Config } from '../config/schema.ts'

export type { Logger }

type LogSettings = Pick<Config['logging'], 'level' | 'format'>

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-auth-token"]',
  '*.password',
  '*.token',
  '*.secret',
]

export function createLogger(settings: LogSettings, destination?: DestinationStream): Logger {
  return pino(
    { level: settings.level, base: undefined, redact: { paths: REDACT, censor: '[redacted]' } },
    destination ?? logDestination(settings),
  )
}

/** Where log lines go: standard output, as they are (json) or made readable (pretty). */
export function logDestination(settings: LogSettings): DestinationStream {
  return settings.format === 'pretty' ? prettyStream() : pino.destination({ fd: 1, sync: true })
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }

/**
 * `HH:MM:SS LEVEL message key=value …` on stdout. pino-pretty would need a worker thread, which a
 * compiled binary cannot spawn from a package, and a terminal needs no more than this.
 */
function prettyStream(): DestinationStream {
  return {
    // One line from pino, or several from the access log (access-log.ts).
    write(lines: string) {
      for (const line of lines.split('\n')) if (line) writePretty(line)
    },
  }
}

function writePretty(line: string): void {
  const { level, time, msg, ...rest } = JSON.parse(line) as Record<string, unknown>
  const clock = new Date(time as number).toISOString().slice(11, 19)
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')
  process.stdout.write(`${clock} ${String(LEVEL_NAMES[level as number] ?? level).padEnd(5)} ${msg ?? ''}${fields ? ` ${fields}` : ''}\n`)
}
