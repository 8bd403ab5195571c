/**
 * Sealing the secrets partnerd stores and must read back (webhook signing secrets, each tenant's key
 * of click-address hashes): AES-256-GCM under a key derived from `secrets.key`, so a copy of the
 * database alone (a dump, a stolen backup, a read through a SQL injection) gives none of them away.
 * Every encryption and decryption of the product happens here.
 *
 * A sealed value is `v1:<kid>:<iv>:<ciphertext+tag>` (base64url): the key id says which key sealed
 * it, so a key can be rotated in while values sealed under the old one are still read (config
 * `secrets.previous_keys`, then `partnerd secrets rotate`). The additional data binds each value to
 * the row it belongs to (`tenants:<id>`), so a value copied into another row does not open there.
 *
 * Bearer tokens (API keys, sessions, links) are not sealed: they are never read back, and a SHA-256 of
 * 256 random bits is enough. Short secrets that are compared, not read back (6-digit sign-in codes),
 * are keyed digests under a key derived from the same one (`digest`): without the key, a stolen
 * database cannot test a million guesses.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'

/** The tables whose rows hold sealed values (see stored.ts for their columns). */
export type SealedTable = 'tenants' | 'webhook_endpoints'

/** The row a sealed value belongs to: its additional data. */
export interface SealedAt {
  table: SealedTable
  id: string
}

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16
const SEALED = /^v1:([0-9a-f]{8}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]+)$/

/** A secret key that cannot be used: unknown key id, wrong key, or no key at all. Names the config key to fix. */
export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SecretKeyError'
  }
}

/** One 256-bit key from the config (or the key file) and what is derived from it. */
export interface SecretKey {
  /** Short public name of the key, stored with each value it seals. */
  kid: string
  /** Where the key came from, for messages: `secrets.key`, `secrets.previous_keys #2`, a file path. */
  source: string
  encryption: Buffer
  master: Buffer
}

/** Derives a key's id and encryption key; the raw key itself only keys HKDF and HMAC. */
export function deriveKey(master: Buffer, source: string): SecretKey {
  return {
    kid: createHmac('sha256', master).update('partnerd key id').digest('hex').slice(0, 8),
    source,
    encryption: Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'partnerd sealed secrets v1', 32)),
    master,
  }
}

function digestKey(key: SecretKey, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key.master, Buffer.alloc(0), `partnerd keyed digest ${purpose}`, 32))
}

export class Keyring {
  readonly #keys: Map<string, SecretKey>
  readonly #digestKeys = new Map<string, Buffer>()

  /** `keys[0]` seals; every key opens what it sealed. An empty ring (restore's inspection) opens and seals nothing. */
  constructor(
    readonly keys: readonly SecretKey[],
    /** Why a ring is empty, for the error a use of it raises. */
    private readonly missing = 'secrets.key: no key is configured',
  ) {
    this.#keys = new Map(keys.map((k) => [k.kid, k]))
  }

  get current(): SecretKey {
    const key = this.keys[0]
    if (!key) throw new SecretKeyError(this.missing)
    return key
  }

  knows(kid: string): boolean {
    return this.#keys.has(kid)
  }

  /** Whether a stored value is sealed (else it is plaintext from before sealing, see stored.ts). */
  static isSealed(value: string): boolean {
    return SEALED.test(value)
  }

  /** The id of the key that sealed `value`, or null for plaintext. */
  static kidOf(value: string): string | null {
    return SEALED.exec(value)?.[1] ?? null
  }

  seal(plaintext: string, at: SealedAt): string {
    const key = this.current
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', key.encryption, iv)
    cipher.setAAD(additionalData(at))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return `${VERSION}:${key.kid}:${iv.toString('base64url')}:${body.toString('base64url')}`
  }

  open(sealed: string, at: SealedAt): string {
    const match = SEALED.exec(sealed)
    if (!match) throw new SecretKeyError(`${at.table} ${at.id}: a stored secret is not sealed`)
    const [, kid, iv, body] = match as unknown as [string, string, string, string]
    const key = this.#keys.get(kid)
    if (!key) throw new SecretKeyError(`${this.unknownKid(kid)} (a secret of ${at.table} ${at.id})`)
    const bytes = Buffer.from(body, 'base64url')
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.encryption, Buffer.from(iv, 'base64url'))
      decipher.setAAD(additionalData(at))
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8')
    } catch {
      // The key id matched, so the value was altered or moved from another row.
      throw new SecretKeyError(`${at.table} ${at.id}: a stored secret does not open under key id ${kid} (${key.source}): it was altered`)
    }
  }

  /** What to tell an operator whose database holds values under a key this ring lacks. */
  unknownKid(kid: string): string {
    if (this.keys.length === 0) return `${this.missing}; stored secrets are sealed with key id ${kid}`
    const known = this.keys.map((k) => `${k.kid} (${k.source})`).join(', ')
    return `secrets.key: stored secrets are sealed with key id ${kid}, which is none of the keys given: ${known}; set secrets.key (or add it to secrets.previous_keys) to the key they were sealed with`
  }

  /** A keyed digest (hex HMAC-SHA256) of `value` under the current key, for `purpose` alone. */
  digest(purpose: string, value: string): string {
    return createHmac('sha256', this.#digestKey(this.current, purpose)).update(value).digest('hex')
  }

  /** Whether `digest` is `value`'s under any key of the ring (a code made just before a rotation still counts). Constant time. */
  digestMatches(purpose: string, value: string, digest: string): boolean {
    const presented = Buffer.from(digest)
    let matched = false
    for (const key of this.keys) {
      const expected = Buffer.from(createHmac('sha256', this.#digestKey(key, purpose)).update(value).digest('hex'))
      if (expected.length === presented.length && timingSafeEqual(expected, presented)) matched = true
    }
    return matched
  }

  #digestKey(key: SecretKey, purpose: string): Buffer {
    const id = `${key.kid}\n${purpose}`
    let derived = this.#digestKeys.get(id)
    if (!derived) {
      derived = digestKey(key, purpose)
      this.#digestKeys.set(id, derived)
    }
    return derived
  }
}

function additionalData(at: SealedAt): Buffer {
  return Buffer.from(`partnerd:${at.table}:${at.id}`)
}
