import { describe, expect, it } from 'vitest'
import { modelWeights } from '../src/attribution/models.ts'
import { monthsBetween } from '../src/commissions/accrue.ts'
import {
  addAmounts,
  currencyDigits,
  formatAmount,
  formatPercent,
  MAX_AMOUNT_MINOR,
  parseAmount,
  parsePercent,
  percentOf,
  prorate,
  splitByWeights,
  toMinor,
} from '../src/money/money.ts'

describe('money', () => {
  it('knows each currency’s minor units and refuses what is not payable', () => {
    expect([currencyDigits('USD'), currencyDigits('JPY'), currencyDigits('KWD'), currencyDigits('XOF')]).toEqual([2, 0, 3, 0])
    for (const bad of ['usd', 'ABC', 'XXX', 'XAU', 'US', 'USDT']) expect(() => currencyDigits(bad), bad).toThrow(/unknown_currency/)
  })

  it('parses decimal strings to integer minor units exactly, and back', () => {
    const cases: [string, string, number, string][] = [
      ['12.00', 'USD', 1200, '12.00'],
      ['12.5', 'USD', 1250, '12.50'],
      ['0.07', 'USD', 7, '0.07'],
      ['1000', 'JPY', 1000, '1000'],
      ['1.005', 'KWD', 1005, '1.005'],
      ['10000000000000.00', 'USD', 1_000_000_000_000_000, '10000000000000.00'],
      ['1000000000000000', 'JPY', 1_000_000_000_000_000, '1000000000000000'],
      ['1000000000000.000', 'KWD', 1_000_000_000_000_000, '1000000000000.000'],
      ['0.1', 'EUR', 10, '0.10'],
    ]
    for (const [text, currency, minor, formatted] of cases) {
      expect(parseAmount(text, currency), text).toBe(minor)
      expect(formatAmount(minor, currency)).toBe(formatted)
    }
    expect(formatAmount(-1250, 'USD')).toBe('-12.50')
    // 0.1 + 0.2 in floats is 0.30000000000000004; in minor units it is exact.
    expect(parseAmount('0.1', 'USD') + parseAmount('0.2', 'USD')).toBe(parseAmount('0.3', 'USD'))
  })

  it('refuses negative, over-precise, malformed and absurd amounts', () => {
    for (const [text, currency] of [
      ['-1', 'USD'],
      ['12.001', 'USD'],
      ['1.5', 'JPY'],
      ['1e3', 'USD'],
      ['', 'USD'],
      ['01.00', 'USD'],
      [' 1', 'USD'],
      ['1,000', 'USD'],
      ['99999999999999999', 'USD'],
    ]) {
      expect(() => parseAmount(text!, currency!), `${text} ${currency}`).toThrow(/invalid_amount/)
    }
  })

  it('refuses one minor unit over the maximum, exactly, saying the maximum in the currency', () => {
    expect(MAX_AMOUNT_MINOR).toBe(10 ** 15)
    for (const [text, currency, maximum] of [
      ['10000000000000.01', 'USD', '10000000000000.00'],
      ['1000000000000001', 'JPY', '1000000000000000'],
      ['1000000000000.001', 'KWD', '1000000000000.000'],
      ['100000000000.0001', 'CLF', '100000000000.0000'],
      // Over 2^53 minor units, where a float would have rounded the amount onto another.
      ['90071992547409.91', 'USD', '10000000000000.00'],
      ['90071992547409.93', 'USD', '10000000000000.00'],
      ['9'.repeat(5000), 'USD', '10000000000000.00'],
    ] as const) {
      expect(() => parseAmount(text, currency, 'value'), text).toThrow(`value: at most ${maximum} ${currency}`)
    }
  })

  it('adds amounts exactly however large the sum, and reads back what it wrote', () => {
    expect(addAmounts(Array(10).fill('10000000000000.00').concat('0.01'), 'USD')).toBe('100000000000000.01')
    expect(addAmounts(['90071992547409.91', '90071992547409.91', '90071992547409.91'], 'USD')).toBe('270215977642229.73')
    expect(addAmounts(['5.00', '-7.25'], 'USD')).toBe('-2.25')
    expect(toMinor('270215977642229.73', 'USD')).toBe(27_021_597_764_222_973n)
    expect(toMinor('-0.05', 'KWD')).toBe(-50n)
    expect(formatAmount(27_021_597_764_222_973n, 'USD')).toBe('270215977642229.73')
  })

  it('keeps percentages as basis points', () => {
    expect([parsePercent('20'), parsePercent('12.5'), parsePercent('0.01'), parsePercent('100')]).toEqual([2000, 1250, 1, 10000])
    expect([formatPercent(2000), formatPercent(1250), formatPercent(1)]).toEqual(['20', '12.5', '0.01'])
    for (const bad of ['0', '100.01', '-5', '12.345', 'ten', '']) expect(() => parsePercent(bad), bad).toThrow(/invalid_percent/)
  })
})

describe('commission arithmetic', () => {
  it('rounds half away from zero to the minor unit, exactly, far past 2^53 in the product', () => {
    expect(percentOf(9999, 2000)).toBe(2000) // 19.998 → 20.00
    expect(percentOf(12345, 1250)).toBe(1543) // 1543.125 → 1543
    expect(percentOf(5, 1000)).toBe(1) // 0.5 → 1
    expect(prorate(-2000, 5000, 20000)).toBe(-500)
    expect(prorate(-1, 1, 2)).toBe(-1) // -0.5 → -1
    expect(percentOf(9_007_199_254_740_991, 10_000)).toBe(9_007_199_254_740_991)
    expect(percentOf(9_007_199_254_740_991, 3333)).toBe(3_002_099_511_605_172)
  })

  it('splits by weights so the parts add up to the whole', () => {
    expect(splitByWeights(10000, [1, 1, 1])).toEqual([3334, 3333, 3333])
    expect(splitByWeights(100, [4000, 2000, 4000])).toEqual([40, 20, 40])
    expect(splitByWeights(1, [1, 1])).toEqual([1, 0])
    for (let total = 0; total < 500; total += 7) {
      const parts = splitByWeights(total, [3, 5, 11, 1])
      expect(parts.reduce((a, b) => a + b, 0)).toBe(total)
    }
  })

  it('weights touches by each attribution model', () => {
    expect(modelWeights('last_click', 3)).toEqual([0, 0, 10000])
    expect(modelWeights('first_click', 3)).toEqual([10000, 0, 0])
    expect(modelWeights('linear', 3)).toEqual([3334, 3333, 3333])
    expect(modelWeights('position', 1)).toEqual([10000])
    expect(modelWeights('position', 2)).toEqual([5000, 5000])
    expect(modelWeights('position', 4)).toEqual([4000, 1000, 1000, 4000])
    expect(modelWeights('position', 5).reduce((a, b) => a + b, 0)).toBe(10000)
  })

  it('counts whole calendar months for recurring rules', () => {
    expect(monthsBetween('2026-01-31T00:00:00Z', '2026-02-28T23:59:59Z')).toBe(0)
    expect(monthsBetween('2026-01-31T00:00:00Z', '2026-03-01T00:00:00Z')).toBe(1)
    expect(monthsBetween('2026-01-15T12:00:00Z', '2027-01-15T12:00:00Z')).toBe(12)
    expect(monthsBetween('2026-01-15T12:00:00Z', '2027-01-15T11:59:59Z')).toBe(11)
  })
})
