/**
 * What the pages print for numbers, money and counts, in the reader's language.
 */
import { describe, expect, it } from 'vitest'
import { formatterFor, negotiateLocale } from '../src/web/format.ts'

describe('the pages’ formatter', () => {
  it('takes the first language Intl knows from Accept-Language, else English', () => {
    expect(negotiateLocale('de-DE,de;q=0.9,en;q=0.8')).toBe('de-DE')
    expect(negotiateLocale('<script>, fr;q=0.5')).toBe('fr')
    expect(negotiateLocale(null)).toBe('en')
  })

  it('formats money from its decimal string exactly, however large', () => {
    const en = formatterFor('en-US')
    expect(en.money('1204.50', 'EUR')).toBe('€1,204.50')
    // Past 2^53 a float would round the cents away.
    expect(en.money('90071992547409.91', 'USD')).toBe('$90,071,992,547,409.91')
    expect(formatterFor('de-DE').money('1204.50', 'EUR')).toBe('1.204,50\u00a0€')
    expect(en.amounts({})).toBe('—')
    expect(en.amounts({ USD: '12.00', EUR: '3.40' })).toBe('$12.00 · €3.40')
  })

  it('says one of a thing and many of them', () => {
    const en = formatterFor('en-US')
    expect(en.count(1, 'click', 'clicks')).toBe('1 click')
    expect(en.count(0, 'click', 'clicks')).toBe('0 clicks')
    expect(en.count(1204, 'payout', 'payouts')).toBe('1,204 payouts')
  })
})
