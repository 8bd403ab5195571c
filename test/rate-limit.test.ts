/**
 * The in-memory rate limiter (src/http/rate-limit.ts) on a clock the test moves: its counts and 429,
 * and how it sheds expired windows under a flood of new keys (each a new address).
 */
import { describe, expect, it } from 'vitest'
import { AppError } from '../src/errors.ts'
import { RateLimiter } from '../src/http/rate-limit.ts'

describe('rate limiter', () => {
  it('counts per key within a window, then refuses with 429 and Retry-After until it ends', () => {
    let now = 0
    const limiter = new RateLimiter({ limit: 2, windowMs: 60_000 }, () => now)
    expect([limiter.hit('a'), limiter.hit('a'), limiter.hit('b')]).toEqual([1, 2, 1])
    now = 15_000
    const refused = (() => {
      try {
        limiter.hit('a')
      } catch (err) {
        return err
      }
    })()
    expect(refused).toBeInstanceOf(AppError)
    expect(refused).toMatchObject({ status: 429, code: 'rate_limited', headers: { 'retry-after': '45' } })
    now = 60_000
    expect(limiter.hit('a')).toBe(1)
  })

  it('sweeps expired windows past 100k keys, at most once a tenth of a window', () => {
    let now = 0
    const limiter = new RateLimiter({ limit: 5, windowMs: 60_000 }, () => now)
    for (let i = 0; i <= 100_000; i++) limiter.record(`flood-${i}`) // all end at 60 s
    now = 59_999
    limiter.record('late-0') // sweeps: nothing has ended yet
    expect(limiter.size).toBe(100_002)
    // The flood's windows have ended, but a sweep on every new key would rescan 100k entries each
    // time: the next one waits until 65.999 s.
    now = 60_000
    limiter.record('late-1')
    expect(limiter.size).toBe(100_003)
    now = 66_000
    limiter.record('late-2')
    expect(limiter.size).toBe(3)
  })
})
