/**
 * A read-through cache for the lookups made on every request of a hot path (the click router's tenant
 * and link). A value answers at once, synchronously, for `ttlMs` after it was read. Past that, the first
 * request starts one read and every other request for the key shares it: a busy key that expires sends
 * one query, not one per request in flight. While that read runs, the expired value still answers (for
 * at most another `ttlMs`), so a busy key never waits on its own refresh either.
 *
 * A read that fails is not kept: its callers get the error and the next request reads again. `clear()`
 * makes every later request read, and a read that was already running when it was called is not kept.
 */
export interface ReadThroughOptions<V> {
  /** How long a value read answers without reading again; 0 keeps nothing (reads in flight are still shared). */
  ttlMs: number
  /** Past this many keys, the cache starts over (a crude bound for keys made up by visitors). */
  maxEntries: number
  /** Whether to keep a value; by default every value is kept, misses included. */
  keep?: (value: V) => boolean
}

interface Entry<V> {
  value: V
  /** Until then the value answers alone; until `until + ttlMs`, alongside a refresh. */
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
    return entry && entry.until + this.options.ttlMs > now ? entry.value : reading
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
