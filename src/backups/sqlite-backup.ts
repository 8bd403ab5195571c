/**
 * `partnerd backup <file>` on SQLite: a consistent copy of the database while the server runs.
 * `VACUUM INTO` from a connection of its own reads one snapshot of the file (in WAL mode a reader
 * neither waits for writers nor holds them up), so the copy holds every transaction committed before
 * it began, and nothing of one committed after; every click answered before it began is in it.
 *
 * The copy is written beside its final name and renamed into place once complete, so a backup that
 * is cut off leaves no file that looks whole. Its secrets are sealed (src/secrets/): without
 * secrets.key, the key file is copied beside it as `<file>.key`, mode 0600, since a backup without its
 * key cannot be read back; with secrets.key, the operator is reminded to keep that key.
 */
import { Database as BunDatabase } from 'bun:sqlite'
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import type { Config } from '../config/schema.ts'
import { StartupError } from '../errors.ts'
import { configuredKeys, keyFileFor, readKeyFile, writeKeyFile } from '../secrets/keys.ts'

export interface BackupResult {
  file: string
  bytes: number
  /** When the snapshot was taken (every commit before it is in the copy). */
  takenAt: string
  /** Set when the key file was copied beside the backup. */
  keyFile?: string
  /** The key the secrets are sealed with, when it is secrets.key (not copied). */
  configuredKid?: string
  /** Set when no key exists yet (a database never started): nothing is sealed. */
  noKey?: boolean
}

export function backupSqlite(config: Config, source: string, file: string): BackupResult {
  if (!existsSync(source)) throw new StartupError(`database.sqlite.path: there is no database at ${source}`)
  if (existsSync(file)) throw new StartupError(`backup: ${file} exists; give the name of a new file`)
  const partial = `${file}.partial-${process.pid}`
  const takenAt = new Date().toISOString()
  const db = openReadOnly(source, config.database.sqlite!.busy_timeout_ms)
  try {
    db.query('VACUUM INTO ?').run(partial)
  } catch (err) {
    rmSync(partial, { force: true })
    throw new StartupError(`backup: cannot write ${file}: ${(err as Error).message}`)
  } finally {
    db.close()
  }
  const verdict = integrityOf(partial, 'quick_check')
  if (verdict !== 'ok') {
    rmSync(partial, { force: true })
    throw new StartupError(`backup: the copy does not check out (${verdict}); nothing was kept`)
  }
  syncFile(partial)
  renameSync(partial, file)
  const result: BackupResult = { file, bytes: statSync(file).size, takenAt }

  const configured = configuredKeys(config)
  if (configured.length > 0) return { ...result, configuredKid: configured[0]!.kid }
  const keyFile = keyFileFor(source)
  if (!readKeyFile(keyFile)) return { ...result, noKey: true }
  const copy = keyFileFor(file)
  if (!writeKeyFile(copy, readFileSync(keyFile, 'utf8').trim())) {
    throw new StartupError(`backup: wrote ${file}, but ${copy} exists: copy ${keyFile} beside the backup yourself`)
  }
  return { ...result, keyFile: copy }
}

/** What `partnerd backup` prints. */
export function describeBackup(result: BackupResult, source: string): string[] {
  const lines = [`backed up ${source} to ${result.file} (${result.bytes} bytes): every commit before ${result.takenAt}`]
  if (result.keyFile)
    lines.push(
      `its secrets are sealed with the key in ${result.keyFile}, copied beside it (mode 0600): keep the two together to restore it,`,
      'and as safe as each other: the copy cannot be read back without the key, and with it anyone can read its webhook secrets.',
    )
  else if (result.configuredKid)
    lines.push(
      `its secrets are sealed with secrets.key (key id ${result.configuredKid}), which is not in the backup: keep that key, apart from it;`,
      'the backup can be restored only by a partnerd given that key (or given it in secrets.previous_keys).',
    )
  else lines.push('no key file exists yet (the database was never started by this partnerd): nothing in it is sealed')
  return lines
}

/** A connection that cannot write, for reading a database another process may be writing. */
export function openReadOnly(path: string, busyTimeoutMs: number): BunDatabase {
  let db: BunDatabase | undefined
  try {
    db = new BunDatabase(path, { readonly: true })
    db.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`)
    db.query('select count(*) from sqlite_master').get()
    return db
  } catch (err) {
    db?.close()
    throw new StartupError(`${path} is not a SQLite database partnerd can read: ${(err as Error).message}`)
  }
}

/** SQLite's own check of a file (`integrity_check`, or the faster `quick_check`): `ok`, or its first findings. */
export function integrityOf(path: string, check: 'integrity_check' | 'quick_check'): string {
  const db = openReadOnly(path, 0)
  try {
    const rows = db.query(`PRAGMA ${check}`).values() as [string][]
    return rows
      .slice(0, 3)
      .map((r) => r[0])
      .join('; ')
  } catch (err) {
    return (err as Error).message // a file damaged past checking
  } finally {
    db.close()
  }
}

export function syncFile(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
