import { describe, expect, it } from 'vitest'
import { currencyDigits, formatAmount, formatPercent, parseAmount, parsePercent } from '../src/money/money.ts'

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
      ['90071992547409.91', 'USD', 9007199254740991, '90071992547409.91'],
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

  it('keeps percentages as basis points', () => {
    expect([parsePercent('20'), parsePercent('12.5'), parsePercent('0.01'), parsePercent('100')]).toEqual([2000, 1250, 1, 10000])
    expect([formatPercent(2000), formatPercent(1250), formatPercent(1)]).toEqual(['20', '12.5', '0.01'])
    for (const bad of ['0', '100.01', '-5', '12.345', 'ten', '']) expect(() => parsePercent(bad), bad).toThrow(/invalid_percent/)
  })
})
