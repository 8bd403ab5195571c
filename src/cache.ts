/**
 * A read-through cache for the lookups made on every request of a hot path (the click router's tenant
 * and link). A value answers at once, synchronously, for `ttlMs` after it was read. Past that, the first
 * request starts one read and every other request for the key shares it: a busy key that expires sends
 * one query, not one per request in flight. While that read runs, the expired value still answers if it
 * expired less than STALE_GRACE_MS ago, so a busy key (refreshed as soon as it expires) never waits on
 * its own refresh; a key idle for longer waits for the read, so no answer is older than the TTL by more
 * than that grace.
 *
 * A read that fails is not kept: its callers get the error and the next request reads again. `clear()`
 * makes every later request read, and a read that was already running when it was called is not kept.
 */
import { afterCommit } from './db/transaction-context.ts'

export interface ReadThroughOptions<V> {
  /** How long a value read answers without reading again; 0 keeps nothing (reads in flight are still shared). */
  ttlMs: number
  /** Past this many keys, the cache starts over (a crude bound for keys made up by visitors). */
  maxEntries: number
  /** Whether to keep a value; by default every value is kept, misses included. */
  keep?: (value: V) => boolean
}

/** How long past its TTL a value may answer while its refresh runs (at most the TTL itself). */
const STALE_GRACE_MS = 1000

interface Entry<V> {
  value: V
  /** Until then the value answers alone; for STALE_GRACE_MS more, while it is read again. */
  until: number
}

export class ReadThroughCache<V> {
  readonly #entries = new Map<string, Entry<V>>()
  readonly #reading = new Map<string, Promise<V>>()
  /** Bumped by clear(): a read started before it must not store what it read. */
  #generation = 0

  constructor(
    private readonly read: (key: string) => Promise<V>,
    private readonly options: ReadThroughOptions<V>,
  ) {}

  /** The value at once when it is fresh (or being refreshed), else the one read in flight for the key. */
  get(key: string): V | Promise<V> {
    const entry = this.#entries.get(key)
    const now = Date.now()
    if (entry && entry.until > now) return entry.value
    const reading = this.#reading.get(key) ?? this.#start(key)
    return entry && entry.until + Math.min(STALE_GRACE_MS, this.options.ttlMs) > now ? entry.value : reading
  }

  clear(): void {
    this.#generation++
    this.#entries.clear()
    this.#reading.clear()
  }

  #start(key: string): Promise<V> {
    const generation = this.#generation
    const reading = this.read(key).then(
      (value) => {
        if (generation === this.#generation) {
          this.#reading.delete(key)
          this.#store(key, value)
        }
        return value
      },
      (err) => {
        if (generation === this.#generation) {
          this.#reading.delete(key)
          this.#entries.delete(key)
        }
        throw err
      },
    )
    // A refresh nobody waits on (the stale value answered) must not fail as an unhandled rejection.
    reading.catch(() => {})
    this.#reading.set(key, reading)
    return reading
  }

  #store(key: string, value: V): void {
    const { ttlMs, maxEntries, keep } = this.options
    if (ttlMs <= 0 || (keep && !keep(value))) {
      this.#entries.delete(key)
      return
    }
    if (this.#entries.size >= maxEntries && !this.#entries.has(key)) this.#entries.clear()
    this.#entries.set(key, { value, until: Date.now() + ttlMs })
  }
}

/**
 * Reads remembered for a few seconds and forgotten whole when what they were read from changes, for
 * reads made inside a transaction (they read through its connection, so no second one is asked for:
 * on SQLite that would wait forever). The owner decides what forgets them: a Kysely plugin seeing the
 * writes (auth/credential-cache.ts), or the domain events that report the change (programs/terms.ts).
 * `ttlMs` bounds what goes unseen there: a change made on another instance.
 */
export class Remembered<V> {
  readonly #entries = new Map<string, { value: V; until: number }>()
  /** Bumped when the kind is forgotten: a read begun before must not be kept. */
  #generation = 0

  constructor(
    private readonly ttlMs: number,
    /** Past this many entries it starts over (a crude bound for keys made up by callers). */
    private readonly maxEntries = 10_000,
  ) {}

  /**
   * The remembered value while it is fresh, else undefined: at once, so that a caller whose every
   * request finds it (a credential check) makes no promise for it. `now` lets a caller that has the
   * time already (its own checks compare with it) not ask the clock again.
   */
  peek(key: string, now = Date.now()): V | undefined {
    const entry = this.#entries.get(key)
    return entry && entry.until > now ? entry.value : undefined
  }

  /**
   * The remembered value, or the read's: kept unless the kind was forgotten while it ran, and, read
   * inside a tenant transaction, only once that commits (what a transaction that rolls back saw, its
   * own writes included, is never shown to another request).
   */
  async get(key: string, read: () => Promise<V | undefined>): Promise<V | undefined> {
    const entry = this.#entries.get(key)
    if (entry && entry.until > Date.now()) return entry.value
    const generation = this.#generation
    const value = await read()
    if (value !== undefined) this.#keep(generation, [[key, value]])
    return value
  }

  /** The values of `keys` found: those remembered, and the rest from one read of them all. */
  async getMany(keys: Iterable<string>, read: (missing: string[]) => Promise<Map<string, V>>): Promise<Map<string, V>> {
    const found = new Map<string, V>()
    const missing: string[] = []
    const now = Date.now()
    for (const key of keys) {
      const entry = this.#entries.get(key)
      if (entry && entry.until > now) found.set(key, entry.value)
      else missing.push(key)
    }
    if (missing.length === 0) return found
    const generation = this.#generation
    const values = await read(missing)
    for (const [key, value] of values) found.set(key, value)
    this.#keep(generation, values)
    return found
  }

  /** Keeps what a read begun at `generation` found, once its transaction (if any) has committed. */
  #keep(generation: number, values: Iterable<[string, V]>): void {
    afterCommit(() => {
      if (generation !== this.#generation) return
      for (const [key, value] of values) this.set(key, value)
    })
  }

  /** Keeps a value the caller changed itself (a renewed session, a key's new last use). */
  set(key: string, value: V): void {
    if (this.#entries.size >= this.maxEntries) this.#entries.clear()
    this.#entries.delete(key)
    this.#entries.set(key, { value, until: Date.now() + this.ttlMs })
  }

  forget(): void {
    this.#generation++
    this.#entries.clear()
  }
}
