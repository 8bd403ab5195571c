/**
 * The read-through cache behind the click router's tenant and link lookups: a busy key that expires
 * must be read once, not once per request in flight, and must keep answering while it is read again.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ReadThroughCache, Remembered } from '../src/cache.ts'
import { runInsideTenantTransaction } from '../src/db/transaction-context.ts'

/** A read per call, each settled by hand. */
function reads() {
  const calls: { key: string; resolve: (v: string | undefined) => void; reject: (e: Error) => void }[] = []
  const read = (key: string) =>
    new Promise<string | undefined>((resolve, reject) => {
      calls.push({ key, resolve, reject })
    })
  return { calls, read }
}

/** A cache holding `A1` for key `a`, read once, with the clock `pastTtlMs` beyond its TTL. */
async function expired(ttlMs: number, pastTtlMs: number) {
  const { calls, read } = reads()
  const cache = new ReadThroughCache(read, { ttlMs, maxEntries: 10 })
  const first = cache.get('a')
  calls[0]!.resolve('A1')
  await first
  vi.advanceTimersByTime(ttlMs + pastTtlMs)
  return { calls, cache }
}

describe('ReadThroughCache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('answers a fresh value at once, and shares one read among the requests that miss', async () => {
    const { calls, read } = reads()
    const cache = new ReadThroughCache(read, { ttlMs: 1000, maxEntries: 10 })
    const first = cache.get('a')
    const second = cache.get('a')
    expect(first).toBeInstanceOf(Promise)
    expect(second).toBe(first)
    expect(calls).toHaveLength(1)
    calls[0]!.resolve('A')
    expect(await first).toBe('A')
    expect(cache.get('a')).toBe('A')
    expect(calls).toHaveLength(1)
  })

  it('refreshes an expired value once, answering the old value meanwhile', async () => {
    const { calls, cache } = await expired(1000, 1)
    for (let i = 0; i < 50; i++) expect(cache.get('a')).toBe('A1')
    expect(calls).toHaveLength(2)
    calls[1]!.resolve('A2')
    await Promise.resolve()
    await Promise.resolve()
    expect(cache.get('a')).toBe('A2')
  })

  it('answers the old value for a second past its TTL at most; later, it waits on the read', async () => {
    const { calls, cache } = await expired(10_000, 500)
    expect(cache.get('a')).toBe('A1')
    vi.advanceTimersByTime(501)
    const waiting = cache.get('a')
    expect(waiting).toBeInstanceOf(Promise)
    expect(calls).toHaveLength(2)
    calls[1]!.resolve('A2')
    expect(await waiting).toBe('A2')
  })

  it('keeps no failed read: its callers get the error and the next request reads again', async () => {
    const { calls, read } = reads()
    const cache = new ReadThroughCache(read, { ttlMs: 1000, maxEntries: 10 })
    const first = cache.get('a')
    calls[0]!.reject(new Error('database gone'))
    await expect(first).rejects.toThrow('database gone')
    const again = cache.get('a')
    expect(calls).toHaveLength(2)
    calls[1]!.resolve('A')
    expect(await again).toBe('A')
  })

  it('drops the old value when its refresh fails, so an outage is not hidden behind it', async () => {
    const { calls, cache } = await expired(1000, 1)
    expect(cache.get('a')).toBe('A1')
    calls[1]!.reject(new Error('database gone'))
    await new Promise((resolve) => setTimeout(resolve, 0))
    const next = cache.get('a')
    expect(next).toBeInstanceOf(Promise)
    expect(calls).toHaveLength(3)
    calls[2]!.resolve('A3')
    expect(await next).toBe('A3')
  })

  it('does not keep a read that was running when the cache was cleared', async () => {
    const { calls, read } = reads()
    const cache = new ReadThroughCache(read, { ttlMs: 1000, maxEntries: 10 })
    const before = cache.get('a')
    cache.clear()
    const after = cache.get('a')
    expect(after).not.toBe(before)
    calls[0]!.resolve('stale')
    calls[1]!.resolve('fresh')
    expect(await before).toBe('stale')
    expect(await after).toBe('fresh')
    expect(cache.get('a')).toBe('fresh')
  })

  it('keeps only what `keep` allows, and nothing with a TTL of 0', async () => {
    const { calls, read } = reads()
    const found = new ReadThroughCache(read, { ttlMs: 1000, maxEntries: 10, keep: (v) => v !== undefined })
    const miss = found.get('a')
    calls[0]!.resolve(undefined)
    expect(await miss).toBeUndefined()
    expect(found.get('a')).toBeInstanceOf(Promise)
    expect(calls).toHaveLength(2)

    const none = new ReadThroughCache(read, { ttlMs: 0, maxEntries: 10 })
    const one = none.get('b')
    expect(none.get('b')).toBe(one)
    calls[2]!.resolve('B')
    await one
    expect(none.get('b')).toBeInstanceOf(Promise)
  })
})

describe('Remembered', () => {
  it('keeps what a tenant transaction read only once it commits: a rolled-back read is never shown', async () => {
    const remembered = new Remembered<string>(60_000)
    // Outside a transaction: kept at once.
    expect(await remembered.get('a', async () => 'A')).toBe('A')
    expect(remembered.peek('a')).toBe('A')
    // Inside one that rolls back (its commit step never runs): not kept.
    await runInsideTenantTransaction(async () => {
      expect(await remembered.get('b', async () => 'B, uncommitted')).toBe('B, uncommitted')
      expect(await remembered.getMany(['c'], async () => new Map([['c', 'C, uncommitted']]))).toEqual(new Map([['c', 'C, uncommitted']]))
    })
    expect(remembered.peek('b')).toBeUndefined()
    expect(remembered.peek('c')).toBeUndefined()
    // Inside one that commits: kept once it has.
    const { committed } = await runInsideTenantTransaction(async () => {
      await remembered.get('d', async () => 'D')
      expect(remembered.peek('d')).toBeUndefined()
    })
    committed()
    expect(remembered.peek('d')).toBe('D')
  })
})
