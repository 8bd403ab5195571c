/**
 * Where the sealing key comes from. `secrets.key` (with `secrets.previous_keys` during a rotation) when
 * configured: required on PostgreSQL, where every instance must seal and open with the same key. A
 * single SQLite install may leave it unset: the first start generates a key and keeps it in a file
 * beside the database (`<database file>.key`, mode 0600), which `partnerd backup` copies beside each
 * backup. The key file guards against a leak of the database alone (a copied .db file, a dump); whoever
 * can read the data folder has both, so keep the folder private or configure secrets.key elsewhere.
 */

import { randomBytes } from 'node:crypto'
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
import type { Config } from '../config/schema.ts'
import type { Database } from '../db/database.ts'
import { StartupError } from '../errors.ts'
import { deriveKey, Keyring, type SecretKey } from './keyring.ts'
import { sealedKeyIds } from './stored.ts'

const KEY_BYTES = 32
const HEX = /^[0-9a-f]{64}$/i
const BASE64 = /^[A-Za-z0-9+/_-]{43}=?$/
const HOW = '32 random bytes as base64 (`partnerd secrets generate-key`, or `openssl rand -base64 32`) or 64 hex digits'

/** A new key, as secrets.key takes it. */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64')
}

/** The key in `text` (base64, base64url or hex of 32 bytes); `where` names the config key or file in the error. */
export function decodeKey(text: string, where: string): Buffer {
  const value = text.trim()
  const bytes = HEX.test(value) ? Buffer.from(value, 'hex') : BASE64.test(value) ? Buffer.from(value, 'base64') : undefined
  if (!bytes || bytes.length !== KEY_BYTES) throw new StartupError(`${where}: not a key; use ${HOW}`)
  // A run of one byte, or a handful, is a placeholder someone typed, not 256 random bits.
  if (new Set(bytes).size < 8) throw new StartupError(`${where}: looks like a placeholder; use ${HOW}`)
  return bytes
}

/** The keys of the config, current first; empty when secrets.key is unset (SQLite: the key file then). */
export function configuredKeys(config: Config): SecretKey[] {
  const { key, previous_keys } = config.secrets
  if (!key.trim()) {
    if (previous_keys.trim()) throw new StartupError('secrets.previous_keys: set only beside secrets.key (the key that seals now)')
    if (config.database.postgres) {
      throw new StartupError(
        `secrets.key is required with database.postgres: every instance seals and opens stored secrets with the same key; set it to ${HOW}, e.g. \`secrets: { key: \${PARTNERD_SECRET_KEY} }\``,
      )
    }
    return []
  }
  const keys = [deriveKey(decodeKey(key, 'secrets.key'), 'secrets.key')]
  const previous = previous_keys
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
  for (const [i, text] of previous.entries()) {
    const derived = deriveKey(decodeKey(text, `secrets.previous_keys: key ${i + 1}`), `secrets.previous_keys #${i + 1}`)
    if (!keys.some((k) => k.kid === derived.kid)) keys.push(derived)
  }
  return keys
}

/** The generated key's file for a SQLite database: beside it, named after it. */
export function keyFileFor(sqlitePath: string): string {
  return `${sqlitePath}.key`
}

/** The key in a key file, or undefined when there is none. */
export function readKeyFile(path: string): SecretKey | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StartupError(`secrets.key: cannot read the key file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  return deriveKey(decodeKey(text, `secrets.key: the key file ${path}`), path)
}

/** Writes `key` to a new file readable by its owner only; false when the file exists already. */
export function writeKeyFile(path: string, key: string): boolean {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw new StartupError(`secrets.key: cannot write the key file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  try {
    chmodSync(path, 0o600) // whatever the umask
    writeSync(fd, `${key}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  return true
}

export interface OpenedKeyring {
  keyring: Keyring
  /** The key file in use (SQLite without secrets.key). */
  keyFile?: string
  /** Set when this start generated the key file. */
  generated?: boolean
  /** Something the operator should fix, for the start-up log. */
  warning?: string
}

/**
 * The ring a runtime seals and opens with. Without secrets.key on SQLite: the key file, generated
 * when the database holds no sealed value yet, but never over a database that does (its secrets
 * would be lost): that start fails, asking for the key. `create: false` (restore's look at a copy)
 * generates nothing and may answer an empty ring.
 */
export async function openKeyring(
  config: Config,
  database: Database,
  sqlitePath: string | undefined,
  options: { create: boolean },
): Promise<OpenedKeyring> {
  const configured = configuredKeys(config)
  if (configured.length > 0 || !sqlitePath) return { keyring: new Keyring(configured) }
  const keyFile = keyFileFor(sqlitePath)
  const found = readKeyFile(keyFile)
  if (found) return { keyring: new Keyring([found]), keyFile, warning: looseModeWarning(keyFile) }
  const missing = `secrets.key: no key is configured and the key file ${keyFile} does not exist`
  if (!options.create) return { keyring: new Keyring([], missing), keyFile }
  const sealed = await sealedKeyIds(database)
  if (sealed.length > 0) {
    throw new StartupError(
      `${missing}, but the database's secrets are sealed (key id ${sealed.join(', ')}): put the key file back (a backup's is beside it, <backup>.key) or set secrets.key to the key`,
    )
  }
  // Another process starting at the same moment may have written it first: then that key is the one.
  const generated = writeKeyFile(keyFile, generateKey())
  const key = readKeyFile(keyFile)!
  return { keyring: new Keyring([key]), keyFile, generated }
}

function looseModeWarning(path: string): string | undefined {
  const mode = statSync(path).mode & 0o777
  return mode & 0o077
    ? `the key file ${path} is readable by others (mode ${mode.toString(8)}); \`chmod 600\` it: it unlocks the stored secrets`
    : undefined
}
