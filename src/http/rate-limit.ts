/**
 * Fixed-window counters per key, in this process's memory. Advisory by design: several instances
 * each count on their own, which bounds an attacker by N × the limit; what must hold across instances
 * (a code's attempt cap) is enforced in the database instead.
 */
import { AppError } from '../errors.ts'

export interface RateLimit {
  /** Events allowed per window and key. */
  limit: number
  windowMs: number
}

/** Keys held before expired windows are swept out. */
const SWEEP_ABOVE = 100_000

export class RateLimiter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>()
  /** No sweep before this time: a flood of new keys, none expired yet, must not rescan the map on each. */
  #nextSweepAt = 0
  constructor(
    private readonly rule: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  /** Refuses (429 with Retry-After) once `key` has used its window's events; counts nothing. */
  check(key: string): void {
    const now = this.now()
    const window = this.#windows.get(key)
    if (window && window.resetAt > now && window.count >= this.rule.limit) {
      const retryAfter = Math.max(1, Math.ceil((window.resetAt - now) / 1000))
      throw new AppError(429, 'rate_limited', `too many attempts; try again in ${retryAfter} s`, { 'retry-after': String(retryAfter) })
    }
  }

  /** Counts one event for `key`, e.g. a failed sign-in (successes need not use up the budget); returns the window's count. */
  record(key: string): number {
    const now = this.now()
    let window = this.#windows.get(key)
    if (!window || window.resetAt <= now) {
      if (this.#windows.size > SWEEP_ABOVE && now >= this.#nextSweepAt) this.#sweep(now)
      window = { count: 0, resetAt: now + this.rule.windowMs }
      this.#windows.set(key, window)
    }
    return ++window.count
  }

  /** Keys with a window held. */
  get size(): number {
    return this.#windows.size
  }

  /** check, then record: every call counts. Returns the window's count. */
  hit(key: string): number {
    this.check(key)
    return this.record(key)
  }

  /** Drops expired windows; the next sweep waits a tenth of a window, when some more have expired. */
  #sweep(now: number): void {
    for (const [key, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(key)
    this.#nextSweepAt = now + this.rule.windowMs / 10
  }
}
