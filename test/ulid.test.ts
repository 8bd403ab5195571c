/**
 * partnerd's monotonic ULIDs (src/ulid.ts), read back with the `ulid` package: each must be a valid
 * ULID carrying the time it was made at, and each must sort after the one before, within a
 * millisecond, across milliseconds, when the clock steps back and when the randomness runs out.
 * Click ids, which stand for a secret, carry fresh randomness instead: no id tells another.
 */
import { decodeTime, isValid } from 'ulid'
import { describe, expect, it } from 'vitest'
import { newId } from '../src/ids.ts'
import { monotonicUlid, randomUlid, type UlidSource } from '../src/ulid.ts'

const ALL_SET = [0xffffffff, 0xffffffff, 0xffffffff]

/** A clock the test moves, and the random words it draws (three per millisecond). */
function controlled(start: number, drawn: number[]) {
  const clock = { ms: start }
  const source: UlidSource = { now: () => clock.ms, random: (into) => into.set(drawn) }
  return { clock, ulid: monotonicUlid(source) }
}

function expectAscending(ids: string[]) {
  for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!, `${ids[i - 1]} then ${ids[i]}`).toBe(true)
}

describe('monotonic ULIDs', () => {
  it('are valid ULIDs of the time they were made, in the order they were made', () => {
    const before = Date.now()
    const ulid = monotonicUlid()
    // Far more than a millisecond holds: most share their millisecond with the one before.
    const ids = Array.from({ length: 50_000 }, ulid)
    const after = Date.now()
    for (const id of [ids[0]!, ids[25_000]!, ids.at(-1)!]) {
      expect(isValid(id), id).toBe(true)
      expect(decodeTime(id)).toBeGreaterThanOrEqual(before)
      expect(decodeTime(id)).toBeLessThanOrEqual(after)
    }
    expect(ids.every((id) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id))).toBe(true)
    expectAscending(ids)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('encode the largest time and randomness the format holds', () => {
    const { ulid } = controlled(2 ** 48 - 1, ALL_SET)
    const id = ulid()
    expect(id).toBe('7ZZZZZZZZZZZZZZZZZZZZZZZZZ')
    expect(decodeTime(id)).toBe(2 ** 48 - 1)
    expect(controlled(0, [0, 0, 0]).ulid()).toBe('0'.repeat(26))
  })

  it('within a millisecond, add one to the randomness, carrying into its upper half', () => {
    // The upper 40 bits of randomness clear, every one of the lower 40 set: the second id carries.
    const { ulid } = controlled(1_700_000_000_000, [0, 0xffffffff, 0x0000ff00])
    const ids = [ulid(), ulid(), ulid()]
    expect(ids.map(decodeTime)).toEqual([1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_000])
    expect(ids.map((id) => id.slice(10))).toEqual([
      `${'0'.repeat(8)}${'Z'.repeat(8)}`,
      `${'0'.repeat(7)}1${'0'.repeat(8)}`,
      `${'0'.repeat(7)}1${'0'.repeat(7)}1`,
    ])
    expectAscending(ids)
  })

  it('go on from the last id when the clock steps back', () => {
    const { clock, ulid } = controlled(1_700_000_000_500, [7, 7, 7])
    const first = ulid()
    clock.ms -= 400
    const second = ulid()
    expect(decodeTime(second)).toBe(1_700_000_000_500)
    expectAscending([first, second])
    clock.ms += 1000
    expect(decodeTime(ulid())).toBe(1_700_000_001_100)
  })

  it('move on to the next millisecond once a millisecond’s randomness is spent', () => {
    const { ulid } = controlled(1_700_000_000_000, ALL_SET)
    const spent = ulid() // all 80 bits set: no id is left in this millisecond
    const next = ulid()
    expect(isValid(next)).toBe(true)
    expect(decodeTime(next)).toBe(1_700_000_000_001)
    expectAscending([spent, next])
  })

  it('carry each kind’s prefix', () => {
    expect(newId('click')).toMatch(/^clk_[0-9A-HJKMNP-TV-Z]{26}$/)
    expect(isValid(newId('partner'))).toBe(true)
  })
})

describe('ULIDs for secrets', () => {
  it('are valid ULIDs of their time, each with 80 fresh random bits', () => {
    const before = Date.now()
    const ids = Array.from({ length: 50_000 }, randomUlid())
    const after = Date.now()
    for (const id of ids.slice(0, 100)) {
      expect(isValid(id), id).toBe(true)
      expect(decodeTime(id)).toBeGreaterThanOrEqual(before)
      expect(decodeTime(id)).toBeLessThanOrEqual(after)
    }
    expect(new Set(ids).size).toBe(ids.length)
    // Monotonic ids of one millisecond differ in their last digits only; these differ throughout.
    // The busiest millisecond's: the first id's may have been its millisecond's last.
    const perMs = Map.groupBy(ids, (id) => id.slice(0, 10))
    const sameMs = [...perMs.values()].reduce((most, group) => (group.length > most.length ? group : most))
    expect(sameMs.length).toBeGreaterThan(1)
    expect(new Set(sameMs.map((id) => id.slice(10, 18))).size).toBe(sameMs.length)
    // Every one of the 16 random digits takes all 32 values.
    for (let digit = 10; digit < 26; digit++) expect(new Set(ids.map((id) => id[digit])).size, `digit ${digit}`).toBe(32)
  })

  it('encode the randomness they draw, five bytes to eight digits', () => {
    const bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1]
    const source: UlidSource = { now: () => 0, random: (into) => new Uint8Array(into.buffer).set(bytes) }
    expect(randomUlid(source)()).toBe(`0000000000${'Z'.repeat(8)}00000001`)
  })

  it('make click ids, and only those', () => {
    // Two ids of one kind made in the same millisecond (almost always the first two).
    const pair = (kind: 'click' | 'event') => {
      for (;;) {
        const ids = [newId(kind), newId(kind)] as const
        if (ids[0].slice(4, 14) === ids[1].slice(4, 14)) return ids
      }
    }
    const clicks = pair('click')
    expect(clicks[0].slice(14, 22)).not.toBe(clicks[1].slice(14, 22))
    const events = pair('event')
    expect(events[0].slice(14, 22)).toBe(events[1].slice(14, 22))
  })
})
