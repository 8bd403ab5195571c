/**
 * `partnerd restore <file>` on SQLite: puts a backup in place of the configured database, after
 * checking, in this order, what would otherwise fail later and worse:
 *
 * 1. no process has the database open (a server would go on writing to the file it has; Linux only,
 *    see in-use.ts: elsewhere the operator must stop it first);
 * 2. the backup passes SQLite's `PRAGMA integrity_check`;
 * 3. each of its migration histories is this binary's, or the first part of it (a backup from an
 *    older partnerd is brought up to date by the next start; one from a newer partnerd is refused);
 * 4. its stored secrets open with the key the restored database will have: secrets.key, else the
 *    backup's key file (`<file>.key`), else the key file already beside the database.
 *
 * The checks run on a copy made beside the database, which is then renamed into place, so the
 * database is replaced whole or not at all. What it replaces is kept, renamed
 * `<database>.replaced-<time>` (with its write-ahead log and key file), not deleted.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import type { LoadedConfig } from '../config/load.ts'
import { historyProblem, schemaStatus } from '../db/migrate.ts'
import { StartupError } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import { openRuntime, type Runtime } from '../runtime.ts'
import { Keyring, type SecretKey } from '../secrets/keyring.ts'
import { configuredKeys, keyFileFor, readKeyFile, writeKeyFile } from '../secrets/keys.ts'
import { checkStoredSecrets } from '../secrets/stored.ts'
import { canSeeHolders, processesHolding } from './in-use.ts'
import { integrityOf, syncFile } from './sqlite-backup.ts'

export interface RestoreResult {
  target: string
  /** Where the database it replaced now is. */
  replaced?: string
  /** The key file put beside the database, from the backup's. */
  keyFile?: string
  /** Migrations the next start will apply (the backup was made by an older partnerd). */
  pending: number
  /** false where no process can be seen holding the file (not Linux): the operator had to stop the server. */
  checkedInUse: boolean
}

const SIDE_FILES = ['-wal', '-shm'] as const

export async function restoreSqlite(loaded: LoadedConfig, target: string, file: string, log: Logger): Promise<RestoreResult> {
  if (!existsSync(file)) throw new StartupError(`restore: there is no file ${file}`)
  if (file === target) throw new StartupError(`restore: ${file} is the database itself (database.sqlite.path)`)
  const holders = processesHolding([target, `${target}-wal`])
  if (holders.length > 0) {
    const who = holders.map((h) => `${h.pid} (${h.command})`).join(', ')
    throw new StartupError(`restore: ${target} is open in process ${who}; stop the server (and any partnerd command) first`)
  }
  const verdict = integrityOf(file, 'integrity_check')
  if (verdict !== 'ok') throw new StartupError(`restore: ${file} fails SQLite's integrity check: ${verdict}`)

  mkdirSync(dirname(target), { recursive: true })
  const copy = `${target}.restoring-${process.pid}`
  const removeCopy = () => {
    for (const suffix of ['', ...SIDE_FILES]) rmSync(copy + suffix, { force: true })
  }
  removeCopy()
  copyFileSync(file, copy)
  let pending = 0
  let backupKey: SecretKey | undefined
  try {
    const sqlite = { ...loaded.config.database.sqlite!, path: copy }
    const config = { ...loaded.config, database: { ...loaded.config.database, sqlite } }
    const rt = await openRuntime({ ...loaded, config }, { migrate: false, inspectOnly: true, log })
    try {
      for (const set of rt.migrationSets) {
        const problem = await historyProblem(rt.database, set)
        if (problem) throw new StartupError(`restore: ${file} cannot be restored by this partnerd: ${problem}`)
      }
      pending = await countPending(rt)
      const configured = configuredKeys(loaded.config)
      backupKey = configured.length > 0 ? undefined : readKeyFile(keyFileFor(file))
      const keys = configured.length > 0 ? configured : [backupKey ?? readKeyFile(keyFileFor(target))].filter((k) => k !== undefined)
      const missing = `secrets.key: not configured, and there is no key file beside the backup (${keyFileFor(file)}) or the database (${keyFileFor(target)})`
      await checkStoredSecrets(rt.database, new Keyring(keys, missing))
    } finally {
      await rt.close()
    }
    for (const suffix of SIDE_FILES) rmSync(copy + suffix, { force: true })
    syncFile(copy)
  } catch (err) {
    removeCopy()
    throw err
  }

  const result: RestoreResult = { target, pending, checkedInUse: canSeeHolders() }
  const replaced = `${target}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`
  if (existsSync(target)) {
    renameSync(target, replaced)
    // The log belongs to the file it was written for: it goes along, or its commits would be lost.
    if (existsSync(`${target}-wal`)) renameSync(`${target}-wal`, `${replaced}-wal`)
    result.replaced = replaced
  }
  rmSync(`${target}-wal`, { force: true })
  rmSync(`${target}-shm`, { force: true })
  const keyFile = keyFileFor(target)
  if (backupKey && readKeyFile(keyFile)?.kid !== backupKey.kid) {
    if (existsSync(keyFile)) renameSync(keyFile, keyFileFor(replaced))
    writeKeyFile(keyFile, readFileSync(keyFileFor(file), 'utf8').trim())
  }
  if (backupKey) result.keyFile = keyFile
  renameSync(copy, target)
  return result
}

async function countPending(rt: Runtime): Promise<number> {
  let pending = 0
  for (const set of rt.migrationSets) pending += (await schemaStatus(rt.database, set)).pending.length
  return pending
}

/** What `partnerd restore` prints. */
export function describeRestore(result: RestoreResult, file: string): string[] {
  const lines = [`restored ${file} to ${result.target}`]
  if (result.replaced) lines.push(`the database it replaced is kept as ${result.replaced}`)
  if (result.keyFile) lines.push(`the backup's key file is in place as ${result.keyFile}`)
  if (result.pending > 0) lines.push(`the next start applies ${result.pending} migration(s) newer than the backup`)
  if (!result.checkedInUse) lines.push('this system cannot tell whether a server had the database open: it must have been stopped')
  return lines
}
